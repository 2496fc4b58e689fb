// Reading only what a cheap list needs out of ListPodSandbox and ListContainers answers: ids,
// states, the sandbox of a container, and the value of one label. Everything else in the
// message (metadata, image, annotations with whole specs) is skipped without being decoded, which
// is what makes a list of every pod podrun runs cheap enough to repeat every few seconds.
function varint(buf: Buffer, pos: number): [number, number] {
  let result = 0
  let shift = 0
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint')
    const b = buf[pos++]
    if (shift < 28) result |= (b & 0x7f) << shift
    else result += (b & 0x7f) * 2 ** shift
    if ((b & 0x80) === 0) return [result, pos]
    shift += 7
    if (shift > 63) throw new Error('varint too long')
  }
}

/** Calls onBytes(field, start, end) for length-delimited fields and onVarint(field, value) for varints. */
function eachField(
  buf: Buffer,
  start: number,
  end: number,
  onBytes: (field: number, s: number, e: number) => void,
  onVarint: (field: number, v: number) => void = () => {},
): void {
  let pos = start
  while (pos < end) {
    let tag: number
    ;[tag, pos] = varint(buf, pos)
    const field = tag >>> 3
    switch (tag & 7) {
      case 0: {
        let v: number
        ;[v, pos] = varint(buf, pos)
        onVarint(field, v)
        break
      }
      case 1:
        pos += 8
        break
      case 2: {
        let len: number
        ;[len, pos] = varint(buf, pos)
        if (pos + len > end) throw new Error('truncated message')
        onBytes(field, pos, pos + len)
        pos += len
        break
      }
      case 5:
        pos += 4
        break
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`)
    }
  }
  if (pos !== end) throw new Error('truncated message')
}

/** The value of the `key` entry of a map<string,string> field (entries {key = 1, value = 2}). */
function entryOf(buf: Buffer, a: number, b: number, key: Buffer): string | undefined {
  let isKey = false
  let from = 0
  let to = 0
  eachField(buf, a, b, (h, x, y) => {
    if (h === 1) isKey = y - x === key.length && buf.compare(key, 0, key.length, x, y) === 0
    else if (h === 2) [from, to] = [x, y]
  })
  // Only the one value asked for is decoded.
  return isKey ? buf.toString('utf8', from, to) : undefined
}

export interface Item {
  id: string
  /** The sandbox of a container ("" for sandboxes). */
  sandboxId: string
  state: number
  /** The value of the label asked for ("" when absent or not asked). */
  label: string
}

/** Items of a List*Response (field 1): id is field 1, then the given fields. */
function decodeItems(buf: Buffer, f: {sandboxId?: number; state: number; labels: number}, label?: string): Item[] {
  const out: Item[] = []
  const key = label === undefined ? undefined : Buffer.from(label)
  eachField(buf, 0, buf.length, (field, s, e) => {
    if (field !== 1) return
    const item: Item = {id: '', sandboxId: '', state: 0, label: ''}
    eachField(
      buf,
      s,
      e,
      (g, a, b) => {
        if (g === 1) item.id = buf.toString('utf8', a, b)
        else if (g === f.sandboxId) item.sandboxId = buf.toString('utf8', a, b)
        else if (g === f.labels && key) item.label = entryOf(buf, a, b, key) ?? item.label
      },
      (g, v) => {
        if (g === f.state) item.state = v
      },
    )
    out.push(item)
  })
  return out
}

/** ListPodSandboxResponse (PodSandbox: id = 1, state = 3, labels = 5), with the value of `label`. */
export const decodeSandboxIds = (buf: Buffer, label?: string): Item[] => decodeItems(buf, {state: 3, labels: 5}, label)
/** ListContainersResponse (Container: id = 1, pod_sandbox_id = 2, state = 6, labels = 8), with the value of `label`. */
export const decodeContainerIds = (buf: Buffer, label?: string): Item[] => decodeItems(buf, {sandboxId: 2, state: 6, labels: 8}, label)
