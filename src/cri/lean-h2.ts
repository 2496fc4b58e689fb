// A lean path for the daemon's once-a-second lists: gRPC unary calls written as HTTP/2 frames on
// one plain socket. On a small virtual machine a call that wakes a sleeping process costs mostly
// in the amount of code it runs; node:http2's streams and grpc-js's call stack run cold code worth
// several milliseconds per call, which made a 1 s relist the larger part of an idle daemon's CPU.
//
// It answers only the plain case: one uncompressed message followed by trailers. It does not
// decode HPACK, so it cannot read grpc-status: a stream that ends with exactly one message is
// taken as OK (gRPC servers send a unary reply only on success); everything else (a trailers-only
// answer, which is how errors come, a reset stream, a GOAWAY, a connection failure, anything
// unexpected) rejects with LeanMiss, and the caller asks the full client (grpc-js) again, which
// reports the runtime's own status and message. A deadline is final: DEADLINE_EXCEEDED.
//
// What the protocol asks of a client is kept: the connection preface and SETTINGS (push off, large
// receive windows so the server never waits for WINDOW_UPDATE on a stream, the connection window
// given back as it is read), SETTINGS and PING acknowledged, GOAWAY honoured, unknown frames
// ignored, request headers as HPACK literals that never touch the dynamic table.
//
// A PING's acknowledgement is held for a while and sent after the frames of a later request (RFC
// 9113 asks for an answer, and only that it SHOULD go first). gRPC servers (grpc-go: containerd,
// CRI-O) measure bandwidth with a PING on each request that arrives while none is outstanding; an
// acknowledgement sent at once means one PING per request, read in a wake-up of its own before the
// answer: a third of the relist's wake-ups. Sent after a later request's DATA, it keeps that PING
// outstanding across requests: one PING every few seconds instead of one a second. A held
// acknowledgement never waits longer than pingAckHoldMs (a timer sends it), well inside the 20 s
// that gRPC's keepalive gives a peer, and goes at once on a connection that is closing.
import net from 'node:net'
import type {Endpoint} from './endpoint.js'

/** The lean path could not answer this call; ask the full client. */
export class LeanMiss extends Error {}

/** The call ran out of time (final: the full client would wait as long again). */
export class LeanTimeout extends Error {}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')
const DATA = 0
const HEADERS = 1
const RST_STREAM = 3
const SETTINGS = 4
const PUSH_PROMISE = 5
const PING = 6
const GOAWAY = 7
const WINDOW_UPDATE = 8
const CONTINUATION = 9
const END_STREAM = 0x1
const ACK = 0x1
const END_HEADERS = 0x4
const PADDED = 0x8
const PRIORITY = 0x20
const CANCEL = 0x8

/** The receive window of each stream and of the connection. */
const WINDOW = 1 << 30
/** The largest frame a peer may send without a SETTINGS_MAX_FRAME_SIZE from us (RFC 9113 6.5.2). */
const MAX_FRAME = 16_384
const MAX_STREAM_ID = 0x7fffffff
/** The flow-control window a peer grants before its SETTINGS and WINDOW_UPDATEs. */
const INITIAL_PEER_WINDOW = 65_535
/** Longest wait of a PING acknowledgement; a request from half of it on carries it. */
export const PING_ACK_HOLD_MS = 8000

export interface LeanOptions {
  /** Longest wait of a PING acknowledgement (0: sent at once). */
  pingAckHoldMs?: number
}

/** One HTTP/2 frame (RFC 9113 4.1). */
export function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const f = Buffer.allocUnsafe(9 + payload.length)
  f.writeUIntBE(payload.length, 0, 3)
  f[3] = type
  f[4] = flags
  f.writeUInt32BE(stream, 5)
  payload.copy(f, 9)
  return f
}

/** An HPACK integer with an n-bit prefix; `first` holds the pattern bits above the prefix. */
function hpackInt(value: number, bits: number, first: number): number[] {
  const max = (1 << bits) - 1
  if (value < max) return [first | value]
  const out = [first | max]
  value -= max
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80)
    value >>>= 7
  }
  out.push(value)
  return out
}

const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'latin1')
  return Buffer.concat([Buffer.from(hpackInt(b.length, 7, 0)), b])
}
/** Literal header field without indexing, name from the static table (RFC 7541 6.2.2). */
const indexedName = (index: number, value: string): Buffer => Buffer.concat([Buffer.from(hpackInt(index, 4, 0)), str(value)])
/** Literal header field without indexing, new name. */
const newName = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0]), str(name), str(value)])

/** The request header block: :method POST (static 3), :scheme http (6), :path (4), :authority (1), content-type (31). */
export function requestHeaders(path: string, authority: string, timeoutMs: number): Buffer {
  return Buffer.concat([
    Buffer.from([0x83, 0x86]),
    indexedName(4, path),
    indexedName(1, authority),
    indexedName(31, 'application/grpc'),
    newName('te', 'trailers'),
    newName('grpc-timeout', `${Math.max(1, Math.ceil(timeoutMs))}m`),
  ])
}

/**
 * The frames of a request (HEADERS, then DATA split at the frame size), built once per message,
 * path and deadline (the daemon sends the same few requests again and again) and copied with the
 * stream id written in.
 */
const templates = new WeakMap<Uint8Array, Map<string, {bytes: Buffer; idAt: number[]}>>()

function requestFrames(path: string, authority: string, timeoutMs: number, message: Uint8Array, id: number): Buffer {
  let forMessage = templates.get(message)
  if (!forMessage) templates.set(message, (forMessage = new Map()))
  const key = `${path}\u0000${authority}\u0000${timeoutMs}`
  let t = forMessage.get(key)
  if (!t) {
    const body = Buffer.allocUnsafe(5 + message.length)
    body[0] = 0
    body.writeUInt32BE(message.length, 1)
    body.set(message, 5)
    const frames = [frame(HEADERS, END_HEADERS, 0, requestHeaders(path, authority, timeoutMs))]
    for (let at = 0; at < body.length; at += MAX_FRAME) {
      const end = Math.min(body.length, at + MAX_FRAME)
      frames.push(frame(DATA, end === body.length ? END_STREAM : 0, 0, body.subarray(at, end)))
    }
    const idAt: number[] = []
    let offset = 0
    for (const f of frames) {
      idAt.push(offset + 5)
      offset += f.length
    }
    t = {bytes: Buffer.concat(frames), idAt}
    forMessage.set(key, t)
  }
  const out = Buffer.from(t.bytes)
  for (const at of t.idAt) out.writeUInt32BE(id, at)
  return out
}

interface Call {
  chunks: Buffer[]
  size: number
  /** END_STREAM was seen on a HEADERS frame (trailers, or a trailers-only answer). */
  trailers: boolean
  /** performance.now() after which the call fails, and the timeout it came from. */
  deadline: number
  timeoutMs: number
  resolve: (b: Buffer) => void
  reject: (e: Error) => void
}

/** One HTTP/2 connection; draining once it got a GOAWAY or ran out of stream ids. */
class Connection {
  readonly sock: net.Socket
  draining = false
  private nextId = 1
  private readonly calls = new Map<number, Call>()
  private buf: Buffer = Buffer.alloc(0)
  /** Connection-window bytes read and not yet given back. */
  private unacked = 0
  /** A header block continues in CONTINUATION frames for this stream (0: none). */
  private continuing = 0
  private dead = false
  /** PING acknowledgements held back, when the first of them was held, and the timer that sends them. */
  private heldAcks: Buffer[] = []
  private heldSince = 0
  private heldTimer: NodeJS.Timeout | undefined
  /**
   * One timer for the deadlines of all calls in flight, at the earliest, cleared once none is in
   * flight. A timer per call would wake an idle process for nothing: node leaves the list of a
   * cleared timer in place while other timers of the same duration remain, and wakes at its expiry.
   */
  private deadlineTimer: NodeJS.Timeout | undefined
  private deadlineAt = Infinity

  constructor(
    target: Endpoint,
    private readonly authority: string,
    private readonly maxMessageBytes: number,
    private readonly pingAckHoldMs: number,
  ) {
    // Reads land in one reused buffer, outside the stream machinery (less code per wake-up).
    const onread = {buffer: Buffer.allocUnsafe(64 * 1024), callback: (n: number, b: Buffer) => (this.read(Buffer.from(b.subarray(0, n))), true)}
    if (target.kind === 'unix') this.sock = net.connect({path: target.path!, onread})
    else {
      const colon = target.address.lastIndexOf(':')
      this.sock = net.connect({port: Number(target.address.slice(colon + 1)), host: target.address.slice(0, colon).replace(/^\[|\]$/g, ''), onread, noDelay: true})
    }
    const settings = Buffer.alloc(12)
    settings.writeUInt16BE(0x2, 0) // ENABLE_PUSH = 0
    settings.writeUInt32BE(0, 2)
    settings.writeUInt16BE(0x4, 6) // INITIAL_WINDOW_SIZE
    settings.writeUInt32BE(WINDOW, 8)
    const grow = Buffer.alloc(4)
    grow.writeUInt32BE(WINDOW - 65_535, 0)
    this.sock.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, grow)]))
    this.sock.on('error', (e) => this.fail(new LeanMiss(`connection failed: ${e.message}`)))
    this.sock.on('close', () => this.fail(new LeanMiss('connection closed')))
  }

  get usable(): boolean {
    return !this.dead && !this.draining
  }

  call(path: string, message: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const id = this.nextId
    this.nextId += 2
    if (this.nextId > MAX_STREAM_ID) this.draining = true
    const bytes = requestFrames(path, this.authority, timeoutMs, message, id)
    return new Promise<Buffer>((resolve, reject) => {
      const now = performance.now()
      const deadline = now + timeoutMs
      this.calls.set(id, {chunks: [], size: 0, trailers: false, deadline, timeoutMs, resolve, reject})
      if (deadline < this.deadlineAt) this.armDeadline(deadline)
      // Held acknowledgements go after the request's DATA, so that its PING is still outstanding
      // when the server reads it.
      if (this.heldAcks.length > 0 && now - this.heldSince >= this.pingAckHoldMs / 2) {
        this.sock.write(Buffer.concat([bytes, ...this.takeAcks()]))
      } else this.sock.write(bytes)
    })
  }

  private armDeadline(at: number): void {
    clearTimeout(this.deadlineTimer)
    this.deadlineAt = at
    this.deadlineTimer = at === Infinity ? undefined : setTimeout(() => this.expire(), Math.max(1, Math.ceil(at - performance.now())))
  }

  /** Fails the calls past their deadline; waits for the next one, if any. */
  private expire(): void {
    const now = performance.now()
    let next = Infinity
    for (const [id, c] of [...this.calls]) {
      if (c.deadline <= now + 1) {
        this.reset(id)
        this.end(id)
        c.reject(new LeanTimeout(`no answer within ${c.timeoutMs}ms`))
      } else next = Math.min(next, c.deadline)
    }
    this.armDeadline(next)
  }

  private holdAck(payload: Buffer): void {
    if (this.sock.writableEnded) return
    const ack = frame(PING, ACK, 0, payload)
    if (this.pingAckHoldMs <= 0 || this.draining) {
      this.sock.write(ack)
      return
    }
    if (this.heldAcks.length === 0) {
      this.heldSince = performance.now()
      // Not unref'd: node drops the list of a cleared timer only for ref'd ones; an unref'd one
      // would still wake the process at its expiry.
      this.heldTimer = setTimeout(() => this.flushAcks(), this.pingAckHoldMs)
    }
    this.heldAcks.push(ack)
  }

  private takeAcks(): Buffer[] {
    const acks = this.heldAcks
    this.heldAcks = []
    clearTimeout(this.heldTimer)
    this.heldTimer = undefined
    return acks
  }

  private flushAcks(): void {
    if (!this.dead && this.heldAcks.length > 0) this.sock.write(Buffer.concat(this.takeAcks()))
  }

  close(): void {
    this.fail(new LeanMiss('closed'))
  }

  private reset(id: number): void {
    if (this.dead) return
    const code = Buffer.alloc(4)
    code.writeUInt32BE(CANCEL, 0)
    this.sock.write(frame(RST_STREAM, 0, id, code))
  }

  /** Forgets a call; a draining connection with nothing left goes away. */
  private end(id: number): Call | undefined {
    const c = this.calls.get(id)
    if (!c) return undefined
    this.calls.delete(id)
    // The timer stays while other calls are in flight (firing early only re-arms it).
    if (this.calls.size === 0) this.armDeadline(Infinity)
    if (this.draining && this.calls.size === 0) this.sock.end()
    return c
  }

  private fail(e: Error): void {
    if (this.dead) return
    this.dead = true
    this.takeAcks()
    for (const id of [...this.calls.keys()]) this.end(id)?.reject(e)
    this.sock.destroy()
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d])
    while (this.buf.length >= 9) {
      const len = this.buf.readUIntBE(0, 3)
      if (len > MAX_FRAME) return this.fail(new LeanMiss(`frame of ${len} bytes exceeds ${MAX_FRAME}`))
      if (this.buf.length < 9 + len) break
      const type = this.buf[3]
      const flags = this.buf[4]
      const id = this.buf.readUInt32BE(5) & MAX_STREAM_ID
      const payload = this.buf.subarray(9, 9 + len)
      this.buf = this.buf.subarray(9 + len)
      this.onFrame(type, flags, id, payload)
      if (this.dead) return
    }
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.continuing && type !== CONTINUATION) return this.fail(new LeanMiss('header block interrupted'))
    switch (type) {
      case DATA: {
        this.giveBack(p.length)
        const c = this.calls.get(id)
        if (!c) return
        let body = p
        if (flags & PADDED) body = p.subarray(1, p.length - p[0])
        c.size += body.length
        if (c.size > this.maxMessageBytes + 5) {
          this.reset(id)
          this.end(id)?.reject(new LeanMiss(`answer larger than ${this.maxMessageBytes} bytes`))
          return
        }
        c.chunks.push(body)
        // An answer that ends on DATA has no trailers: not gRPC.
        if (flags & END_STREAM) this.end(id)?.reject(new LeanMiss('stream ended without trailers'))
        return
      }
      case HEADERS: {
        // The block itself (after padding and priority) is not needed: what matters is where it ends.
        const c = this.calls.get(id)
        if (c && flags & END_STREAM) c.trailers = true
        if (!(flags & END_HEADERS)) this.continuing = id
        else if (c?.trailers) this.finish(id)
        return
      }
      case CONTINUATION:
        if (id !== this.continuing) return this.fail(new LeanMiss('unexpected CONTINUATION'))
        if (flags & END_HEADERS) {
          this.continuing = 0
          if (this.calls.get(id)?.trailers) this.finish(id)
        }
        return
      case RST_STREAM:
        this.end(id)?.reject(new LeanMiss(`stream reset (HTTP/2 error ${p.length >= 4 ? p.readUInt32BE(0) : '?'})`))
        return
      case SETTINGS:
        if (!(flags & ACK)) this.sock.write(frame(SETTINGS, ACK, 0, Buffer.alloc(0)))
        return
      case PING:
        if (!(flags & ACK)) this.holdAck(p)
        return
      case GOAWAY: {
        // A server closing gracefully waits for the answer to a PING sent after its GOAWAY.
        this.draining = true
        this.flushAcks()
        const last = p.length >= 4 ? p.readUInt32BE(0) & MAX_STREAM_ID : 0
        for (const sid of [...this.calls.keys()]) if (sid > last) this.end(sid)?.reject(new LeanMiss('the runtime is closing the connection'))
        if (this.calls.size === 0) this.sock.end()
        return
      }
      case PUSH_PROMISE:
        return this.fail(new LeanMiss('push promise after push was disabled'))
      default:
        // PRIORITY, WINDOW_UPDATE (requests are small), and unknown types: nothing to do.
        return
    }
  }

  private finish(id: number): void {
    const c = this.end(id)
    if (!c) return
    const body = c.chunks.length === 1 ? c.chunks[0] : Buffer.concat(c.chunks)
    if (body.length < 5 || body[0] !== 0 || body.readUInt32BE(1) !== body.length - 5) {
      c.reject(new LeanMiss(body.length === 0 ? 'no message (an error status)' : 'not exactly one uncompressed message'))
      return
    }
    // read() copied each chunk out of the reused read buffer already.
    c.resolve(body.subarray(5))
  }

  private giveBack(n: number): void {
    this.unacked += n
    if (this.unacked < WINDOW / 2) return
    const inc = Buffer.alloc(4)
    inc.writeUInt32BE(this.unacked, 0)
    this.unacked = 0
    this.sock.write(frame(WINDOW_UPDATE, 0, 0, inc))
  }
}

/** Unary gRPC calls over one lean HTTP/2 connection, opened on first use and after a failure. */
export class LeanUnary {
  private conn: Connection | undefined
  /** Every connection still open (a replaced one finishes its calls first). */
  private readonly open = new Set<Connection>()
  private readonly authority: string

  private readonly pingAckHoldMs: number

  constructor(
    private readonly target: Endpoint,
    private readonly maxMessageBytes: number,
    opts: LeanOptions = {},
  ) {
    this.pingAckHoldMs = opts.pingAckHoldMs ?? PING_ACK_HOLD_MS
    this.authority = target.kind === 'unix' ? 'localhost' : target.address
  }

  /** The response message; rejects with LeanMiss (ask the full client) or LeanTimeout. */
  call(path: string, message: Uint8Array, timeoutMs: number): Promise<Buffer> {
    // Requests are sent without waiting for the peer's WINDOW_UPDATEs: only what fits in the
    // window every peer starts with (RFC 9113 6.9.2) goes this way.
    if (message.length + 5 > INITIAL_PEER_WINDOW) return Promise.reject(new LeanMiss(`request of ${message.length} bytes: larger than the lean path sends`))
    if (!this.conn?.usable) {
      const c = new Connection(this.target, this.authority, this.maxMessageBytes, this.pingAckHoldMs)
      this.open.add(c)
      c.sock.once('close', () => this.open.delete(c))
      this.conn = c
    }
    return this.conn.call(path, message, timeoutMs)
  }

  close(): void {
    for (const c of this.open) c.close()
    this.open.clear()
    this.conn = undefined
  }
}
