// Reading only what a cheap list needs out of ListPodSandbox and ListContainers answers: ids,
// states, the sandbox of a container, and the value of one label. Everything else in the message
// (metadata, image, annotations with whole specs) is skipped without being decoded, which is what
// makes a list of every pod podrun runs cheap enough to repeat every few seconds. The wire format
// is read by @bufbuild/protobuf's reader, the one the generated bindings use.
import {BinaryReader, WireType} from '@bufbuild/protobuf/wire'

export interface Item {
  id: string
  /** The sandbox of a container ("" for sandboxes). */
  sandboxId: string
  state: number
  /** The value of the label asked for ("" when absent or not asked). */
  label: string
}

interface Fields {
  sandboxId?: number
  state: number
  labels: number
}

/** The value of a map<string,string> entry ({key = 1, value = 2}) when its key is `key`. */
function entryValue(entry: Uint8Array, key: string): string | undefined {
  const r = new BinaryReader(entry)
  let k: string | undefined
  let v = ''
  while (r.pos < r.len) {
    const [field, wire] = r.tag()
    if (field === 1 && wire === WireType.LengthDelimited) k = r.string()
    else if (field === 2 && wire === WireType.LengthDelimited && k === key) v = r.string()
    else r.skip(wire)
  }
  return k === key ? v : undefined
}

function decodeItem(bytes: Uint8Array, f: Fields, label: string | undefined): Item {
  const r = new BinaryReader(bytes)
  const item: Item = {id: '', sandboxId: '', state: 0, label: ''}
  while (r.pos < r.len) {
    const [field, wire] = r.tag()
    if (field === 1 && wire === WireType.LengthDelimited) item.id = r.string()
    else if (field === f.sandboxId && wire === WireType.LengthDelimited) item.sandboxId = r.string()
    else if (field === f.state && wire === WireType.Varint) item.state = r.int32()
    else if (field === f.labels && wire === WireType.LengthDelimited && label !== undefined) item.label = entryValue(r.bytes(), label) ?? item.label
    else r.skip(wire)
  }
  return item
}

/** Items of a List*Response (its field 1). */
function decodeItems(buf: Uint8Array, f: Fields, label?: string): Item[] {
  const r = new BinaryReader(buf)
  const out: Item[] = []
  while (r.pos < r.len) {
    const [field, wire] = r.tag()
    if (field === 1 && wire === WireType.LengthDelimited) out.push(decodeItem(r.bytes(), f, label))
    else r.skip(wire)
  }
  return out
}

/** ListPodSandboxResponse (PodSandbox: id = 1, state = 3, labels = 5), with the value of `label`. */
export const decodeSandboxIds = (buf: Uint8Array, label?: string): Item[] => decodeItems(buf, {state: 3, labels: 5}, label)
/** ListContainersResponse (Container: id = 1, pod_sandbox_id = 2, state = 6, labels = 8), with the value of `label`. */
export const decodeContainerIds = (buf: Uint8Array, label?: string): Item[] => decodeItems(buf, {sandboxId: 2, state: 6, labels: 8}, label)
