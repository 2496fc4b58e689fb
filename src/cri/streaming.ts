// The runtime's streaming server, for what a unary CRI call cannot carry: an interactive exec
// and a port forward. CRI Exec and PortForward answer with a one-time URL; podrun opens it as a
// WebSocket (the `ws` library) speaking the kubelet's channel protocol: every message starts
// with one byte naming its channel, the rest is that channel's data.
//
// Exec channels: 0 stdin, 1 stdout, 2 stderr, 3 the final status (a Kubernetes Status as JSON),
// 4 terminal size ({"Width","Height"}). Port forward: per port, 0 data and 1 errors, each
// opened by the port number in two bytes (little-endian) that are not data.
//
// v4.channel.k8s.io has no way to close one channel: stdin's end can be told to the command
// only by v5.channel.k8s.io (the message 255, channel), which is asked for first.
import WebSocket from 'ws'

const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io']
const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io']
const CLOSE_CHANNEL = 255

export const enum ExecChannel {
  stdin = 0,
  stdout = 1,
  stderr = 2,
  status = 3,
  resize = 4,
}

/** Past this many unsent bytes on a socket, what feeds it is paused until it drains. */
const HIGH_WATER = 1 << 20

/** A reader's data sent on a socket (`write`), the reader paused while too much waits to be sent. */
export function sendPaced(src: {pause(): void; resume(): void; isPaused(): boolean}, write: (data: Buffer, done: () => void) => void, buffered: () => number): (data: Buffer) => void {
  return (data) => {
    write(data, () => {
      if (src.isPaused() && buffered() < HIGH_WATER) src.resume()
    })
    if (buffered() >= HIGH_WATER) src.pause()
  }
}

/** A socket's data written to `dest`, the socket held while `dest` is full (a terminal or pipe slower than the network). */
export function receivePaced(dest: NodeJS.WritableStream, socket: () => {pause(): void; resume(): void} | undefined): (data: Buffer) => void {
  return (data) => {
    if (!dest.write(data)) {
      socket()?.pause()
      dest.once('drain', () => socket()?.resume())
    }
  }
}

/** The status the server sends on channel 3 when the command has ended. */
export interface StreamStatus {
  status?: string
  message?: string
  reason?: string
  details?: {causes?: {reason?: string; message?: string}[]}
}

/** The command's exit code from its final status; undefined when the session itself failed. */
export function exitCodeOf(s: StreamStatus): number | undefined {
  if (s.status === 'Success') return 0
  if (s.reason !== 'NonZeroExitCode') return undefined
  const code = Number(s.details?.causes?.find((c) => c.reason === 'ExitCode')?.message)
  return Number.isInteger(code) ? code : undefined
}

/** One frame: the channel byte, then the data. */
export function frame(channel: number, data: Uint8Array | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data) : data
  const out = Buffer.allocUnsafe(body.length + 1)
  out[0] = channel
  out.set(body, 1)
  return out
}

/**
 * Opens the socket. onMessage is attached at once: frames that came in the same packet as the
 * handshake's answer are delivered before the promise's continuation could attach it.
 */
function open(url: string, protocols: string[], handshakeTimeoutMs: number, onMessage: (data: Buffer) => void, onClose: (code: number, reason: Buffer) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    // perMessageDeflate off: the runtime does not offer it, and a terminal wants every byte now.
    const ws = new WebSocket(url, protocols, {handshakeTimeout: handshakeTimeoutMs, perMessageDeflate: false})
    ws.on('message', onMessage)
    ws.once('open', () => ws.once('close', onClose))
    ws.on('error', () => {
      /* after the handshake, a 'close' follows and settles */
    })
    const fail = (e: Error): void => reject(new Error(`the runtime's streaming server at ${new URL(url).host} refused the session: ${e.message}`))
    ws.once('error', fail)
    ws.once('unexpected-response', (req, res) => {
      fail(new Error(`HTTP ${res.statusCode}`))
      req.destroy()
    })
    ws.once('open', () => {
      ws.off('error', fail)
      resolve(ws)
    })
  })
}

export interface ExecStreamHandlers {
  stdout(data: Buffer): void
  stderr(data: Buffer): void
}

export interface ExecStream {
  /** The negotiated protocol. */
  protocol: string
  /** Whether the end of stdin can be told to the command (v5). */
  canCloseStdin: boolean
  writeStdin(data: Buffer, done?: (err?: Error) => void): void
  closeStdin(): void
  resize(width: number, height: number): void
  /** How many bytes wait to be sent (for back-pressure on stdin). */
  buffered(): number
  pause(): void
  resume(): void
  /** Settles with the final status when the session ends; a session that ends without one rejects. */
  done: Promise<StreamStatus>
  close(): void
}

export async function openExecStream(url: string, h: ExecStreamHandlers, handshakeTimeoutMs = 10_000): Promise<ExecStream> {
  let status: StreamStatus | undefined
  let settle: {resolve: (s: StreamStatus) => void; reject: (e: Error) => void} | undefined
  const done = new Promise<StreamStatus>((resolve, reject) => {
    settle = {resolve, reject}
  })
  const onClose = (code: number, reason: Buffer): void => {
    if (status) settle?.resolve(status)
    else settle?.reject(new Error(`the runtime's streaming session ended without the command's status (WebSocket close ${code}${reason.length > 0 ? `: ${reason.toString()}` : ''})`))
  }
  const ws = await open(url, EXEC_PROTOCOLS, handshakeTimeoutMs, (data) => {
    if (data.length < 2) return // the server opens each channel with an empty message
    const body = data.subarray(1)
    switch (data[0]) {
      case ExecChannel.stdout:
        h.stdout(body)
        break
      case ExecChannel.stderr:
        h.stderr(body)
        break
      case ExecChannel.status:
        try {
          status = JSON.parse(body.toString()) as StreamStatus
        } catch {
          status = {status: 'Failure', message: body.toString()}
        }
        break
    }
  }, onClose)
  const canCloseStdin = ws.protocol.startsWith('v5.')
  const send = (b: Buffer, cb?: (err?: Error) => void): void => {
    if (ws.readyState === WebSocket.OPEN) ws.send(b, cb)
    else cb?.()
  }
  return {
    protocol: ws.protocol,
    canCloseStdin,
    writeStdin: (data, cb) => send(frame(ExecChannel.stdin, data), cb),
    closeStdin: () => {
      if (canCloseStdin) send(Buffer.from([CLOSE_CHANNEL, ExecChannel.stdin]))
    },
    resize: (width, height) => send(frame(ExecChannel.resize, JSON.stringify({Width: width, Height: height}))),
    buffered: () => ws.bufferedAmount,
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    done,
    close: () => ws.close(),
  }
}

export interface PortStream {
  write(data: Buffer, done?: (err?: Error) => void): void
  buffered(): number
  pause(): void
  resume(): void
  close(): void
}

export interface PortStreamHandlers {
  data(data: Buffer): void
  /** What the runtime reports on the error channel (it could not reach the port, say). */
  error(message: string): void
  closed(): void
}

/** One connection to `port` in the pod's network. */
export async function openPortStream(url: string, port: number, h: PortStreamHandlers, handshakeTimeoutMs = 10_000): Promise<PortStream> {
  const u = new URL(url)
  u.searchParams.set('port', String(port))
  // Each channel's first two bytes are its port number, not data.
  const prefix = [2, 2]
  const ws = await open(u.toString(), PORT_FORWARD_PROTOCOLS, handshakeTimeoutMs, (data) => {
    const ch = data[0]
    if (ch !== 0 && ch !== 1) return
    let body = data.subarray(1)
    if (prefix[ch] > 0) {
      const skip = Math.min(prefix[ch], body.length)
      prefix[ch] -= skip
      body = body.subarray(skip)
    }
    if (body.length === 0) return
    if (ch === 0) h.data(body)
    else h.error(body.toString().trim())
  }, () => h.closed())
  return {
    write: (data, cb) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(frame(0, data), cb)
      else cb?.()
    },
    buffered: () => ws.bufferedAmount,
    pause: () => ws.pause(),
    resume: () => ws.resume(),
    close: () => ws.close(),
  }
}
