// The cheap relist: once a second the daemon must notice a container that exited; it need not
// re-read what runs fine. So a relist asks the runtime only for podrun's EXITED containers
// (ListContainers with a state filter and podrun's label selector): a handful of items on a
// healthy machine, however many pods run, in one call (on a small virtual machine each wake-up of
// the process costs as much as the work itself). Their ids are compared with what the last full
// pass saw; any difference asks for a full pass. Reading 100 pods' labels and annotations every
// second cost several percent of a core; this costs a fraction of one. A sandbox that died, a pod
// removed behind podrun's back, a container stuck in CREATED: the resync sees those.
//
// The resync (every 10 s) lists everything podrun runs, still reading only ids and states, and
// runs a full pass only when something differs from what the last full pass saw (or the folder
// changed, or a full pass is due anyway).
//
// The calls go over one plain HTTP/2 session (node:http2), and the protobuf answers are read for
// the few fields needed (ids, state, the podrun.io/source label), skipping everything else.
import http2 from 'node:http2'
import net from 'node:net'
import type {Endpoint} from '../cri/endpoint.js'
import {ContainerState, ListContainersRequest, ListPodSandboxRequest} from '../gen/runtime/v1/api.js'
import {GrpcCode, grpcCodeName, mapGrpcError} from '../cri/errors.js'
import {Label, managedSelector} from '../reconcile/labels.js'
import {CONTAINER_STATES, SANDBOX_STATES} from '../reconcile/observe.js'
import type {ActualPod} from '../model/actual.js'


/** What a relist compares: "c<id>" of EXITED containers (and, from the resync, "s<id>:<state>"...). */
export type RuntimeState = Set<string>

export function sameState(a: RuntimeState | undefined, b: RuntimeState): boolean {
  if (!a || a.size !== b.size) return false
  for (const k of b) if (!a.has(k)) return false
  return true
}

/** What a relist would see in observed pods (what a full pass saw), for the sources `keep` accepts. */
export function stateOfPods(pods: ActualPod[], keep: (source: string) => boolean = () => true): RuntimeState {
  const out: RuntimeState = new Set()
  for (const p of pods) for (const c of p.containers) if (c.state === 'EXITED' && keep(c.labels[Label.source] ?? '')) out.add(`c${c.id}`)
  return out
}

/**
 * Every id and state of podrun's sandboxes and containers ("s<id>:<state>", "c<id>:<state>", CRI
 * state numbers): what the resync compares before deciding that a full pass is needed.
 */
export function fullStateOfPods(pods: ActualPod[]): RuntimeState {
  const out: RuntimeState = new Set()
  for (const p of pods) {
    for (const s of p.sandboxes) out.add(`s${s.id}:${Math.max(0, SANDBOX_STATES.indexOf(s.state))}`)
    for (const c of p.containers) out.add(`c${c.id}:${Math.max(0, CONTAINER_STATES.indexOf(c.state))}`)
  }
  return out
}

// ---- a protobuf reader that only keeps what it is asked for ----

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

const SOURCE_KEY = Buffer.from(Label.source)

/** The value of the podrun.io/source entry of a map<string,string> field (entries {key = 1, value = 2}). */
function sourceOf(buf: Buffer, a: number, b: number): string | undefined {
  let isSource = false
  let value = ''
  eachField(buf, a, b, (h, x, y) => {
    if (h === 1) isSource = y - x === SOURCE_KEY.length && buf.compare(SOURCE_KEY, 0, SOURCE_KEY.length, x, y) === 0
    else if (h === 2) value = buf.toString('utf8', x, y)
  })
  return isSource ? value : undefined
}

export interface Item {
  id: string
  /** The sandbox of a container ("" for sandboxes). */
  sandboxId: string
  state: number
  source: string
}

/** Items of a List*Response (field 1): id is field 1, then the given fields. */
function decodeItems(buf: Buffer, f: {sandboxId?: number; state: number; labels: number}): Item[] {
  const out: Item[] = []
  eachField(buf, 0, buf.length, (field, s, e) => {
    if (field !== 1) return
    const item: Item = {id: '', sandboxId: '', state: 0, source: ''}
    eachField(
      buf,
      s,
      e,
      (g, a, b) => {
        if (g === 1) item.id = buf.toString('utf8', a, b)
        else if (g === f.sandboxId) item.sandboxId = buf.toString('utf8', a, b)
        else if (g === f.labels) item.source = sourceOf(buf, a, b) ?? item.source
      },
      (g, v) => {
        if (g === f.state) item.state = v
      },
    )
    out.push(item)
  })
  return out
}

/** ListPodSandboxResponse (PodSandbox: id = 1, state = 3, labels = 5). */
export const decodeSandboxIds = (buf: Buffer): Item[] => decodeItems(buf, {state: 3, labels: 5})
/** ListContainersResponse (Container: id = 1, pod_sandbox_id = 2, state = 6, labels = 8). */
export const decodeContainerIds = (buf: Buffer): Item[] => decodeItems(buf, {sandboxId: 2, state: 6, labels: 8})

const SERVICE = 'runtime.v1.RuntimeService'

/**
 * gRPC unary calls over one plain HTTP/2 session (node:http2): a relist every second through
 * grpc-js's interceptors, resolver and load balancer cost a few milliseconds of CPU per call;
 * this costs a fraction of one. Same wire protocol: POST /service/method, application/grpc, a
 * length-prefixed message, grpc-status in the trailers. The session reconnects on the next call
 * after the runtime went away.
 */
export class H2Unary {
  private session: http2.ClientHttp2Session | undefined

  constructor(private readonly target: Endpoint) {}

  private connect(): http2.ClientHttp2Session {
    const cur = this.session
    if (cur && !cur.closed && !cur.destroyed) return cur
    const s =
      this.target.kind === 'unix'
        ? http2.connect('http://localhost', {createConnection: () => net.connect(this.target.path!)})
        : http2.connect(`http://${this.target.address}`)
    s.on('error', () => {}) // surfaces on the streams
    const forget = () => {
      if (this.session === s) this.session = undefined
    }
    s.on('close', forget)
    s.on('goaway', forget)
    this.session = s
    return s
  }

  /** Resolves with the response message, or rejects with {code, details} (a gRPC status). */
  call(method: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let settled = false
      const fail = (code: number, details: string) => {
        if (settled) return
        settled = true
        reject({code, details})
      }
      let req: http2.ClientHttp2Stream
      try {
        req = this.connect().request({
          ':method': 'POST',
          ':path': `/${SERVICE}/${method}`,
          'content-type': 'application/grpc',
          te: 'trailers',
        })
      } catch (e) {
        this.session?.destroy()
        fail(GrpcCode.UNAVAILABLE, (e as Error).message)
        return
      }
      const chunks: Buffer[] = []
      let headers: http2.IncomingHttpHeaders = {}
      let trailers: http2.IncomingHttpHeaders = {}
      req.setTimeout(timeoutMs, () => {
        req.close(http2.constants.NGHTTP2_CANCEL)
        fail(GrpcCode.DEADLINE_EXCEEDED, `no answer within ${timeoutMs}ms`)
      })
      req.on('response', (h) => (headers = h))
      req.on('trailers', (t) => (trailers = t))
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('error', (e: Error) => {
        this.session?.destroy()
        fail(GrpcCode.UNAVAILABLE, e.message)
      })
      req.on('close', () => {
        if (settled) return
        const status = trailers['grpc-status'] ?? headers['grpc-status']
        if (status === undefined) {
          fail(GrpcCode.UNAVAILABLE, `no grpc-status (HTTP ${headers[':status'] ?? '?'}): the connection was closed`)
          return
        }
        const code = Number(status)
        if (code !== GrpcCode.OK) {
          const msg = trailers['grpc-message'] ?? headers['grpc-message']
          fail(code, decodeURIComponent(String(msg ?? '')))
          return
        }
        const body = Buffer.concat(chunks)
        if (body.length < 5 || body[0] !== 0) {
          fail(GrpcCode.INTERNAL, 'unexpected response framing (compressed or truncated)')
          return
        }
        const len = body.readUInt32BE(1)
        settled = true
        resolve(body.subarray(5, 5 + len))
      })
      const frame = Buffer.alloc(5 + message.length)
      frame.writeUInt32BE(message.length, 1)
      message.copy(frame, 5)
      req.end(frame)
    })
  }

  close(): void {
    this.session?.close()
    this.session = undefined
  }
}

export class Relister {
  private readonly h2: H2Unary
  private readonly containerReq: Buffer
  private readonly allSandboxesReq: Buffer
  private readonly allContainersReq: Buffer

  constructor(
    private readonly target: Endpoint,
    private readonly timeoutMs: number,
    private readonly onCall?: (method: string, code: string, ms: number) => void,
    /** Which pods matter (by their podrun.io/source): the others' changes wait for a resync. */
    private readonly keep: (source: string) => boolean = () => true,
  ) {
    this.h2 = new H2Unary(target)
    const exited = {state: {state: ContainerState.CONTAINER_EXITED}, labelSelector: managedSelector}
    this.containerReq = Buffer.from(ListContainersRequest.encode(ListContainersRequest.fromPartial({filter: exited})).finish())
    this.allSandboxesReq = Buffer.from(ListPodSandboxRequest.encode(ListPodSandboxRequest.fromPartial({filter: {labelSelector: managedSelector}})).finish())
    this.allContainersReq = Buffer.from(ListContainersRequest.encode(ListContainersRequest.fromPartial({filter: {labelSelector: managedSelector}})).finish())
  }

  private async call<T>(method: string, req: Buffer, decode: (b: Buffer) => T): Promise<T> {
    const started = performance.now()
    try {
      const res = await this.h2.call(method, req, this.timeoutMs)
      this.onCall?.(method, 'OK', performance.now() - started)
      return decode(res)
    } catch (e) {
      const code = typeof (e as {code?: unknown}).code === 'number' ? (e as {code: number}).code : GrpcCode.INTERNAL
      this.onCall?.(method, grpcCodeName(code), performance.now() - started)
      throw mapGrpcError(e, {method: `${SERVICE}/${method}`, endpoint: this.target.display, timeoutMs: this.timeoutMs})
    }
  }

  /** The EXITED containers of the pods `keep` accepts. */
  async state(): Promise<RuntimeState> {
    const containers = await this.call('ListContainers', this.containerReq, decodeContainerIds)
    const out: RuntimeState = new Set()
    for (const c of containers) if (this.keep(c.source)) out.add(`c${c.id}`)
    return out
  }

  /** Every id and state of podrun's sandboxes and containers (as fullStateOfPods). */
  async all(): Promise<RuntimeState> {
    const [sandboxes, containers] = await Promise.all([
      this.call('ListPodSandbox', this.allSandboxesReq, decodeSandboxIds),
      this.call('ListContainers', this.allContainersReq, decodeContainerIds),
    ])
    const out: RuntimeState = new Set()
    const ids = new Set<string>()
    for (const s of sandboxes) {
      ids.add(s.id)
      out.add(`s${s.id}:${s.state}`)
    }
    // As observe does: containers whose sandbox is not podrun's are not podrun's.
    for (const c of containers) if (ids.has(c.sandboxId)) out.add(`c${c.id}:${c.state}`)
    return out
  }

  close(): void {
    this.h2.close()
  }
}
