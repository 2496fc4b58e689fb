// An interactive `podrun exec`: this process's stdin, stdout, stderr and terminal joined to a
// session on the runtime's streaming server, as `kubectl exec -it` joins them. With a terminal,
// stdin is put in raw mode (keys such as Ctrl-C reach the container's terminal, not podrun) and
// every change of the window's size is sent on.
import {type ExecStream, exitCodeOf, openExecStream} from '../cri/streaming.js'
import {ExitCode, PodrunError} from './errors.js'

/** Past this many unsent bytes, stdin is paused until the socket drains. */
const STDIN_HIGH_WATER = 1 << 20

export interface SessionIo {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  note(text: string): void
}

/** Runs the session to its end; resolves with the command's exit code. */
export async function runExecSession(url: string, o: {stdin: boolean; tty: boolean}, io: SessionIo): Promise<number> {
  const out = (w: NodeJS.WriteStream) => (data: Buffer) => {
    // The terminal or pipe is slower than the socket: hold the socket until it drains.
    if (!w.write(data)) {
      stream?.pause()
      w.once('drain', () => stream?.resume())
    }
  }
  let stream: ExecStream | undefined
  stream = await openExecStream(url, {stdout: out(io.stdout), stderr: out(io.stderr)})
  const s = stream
  const undo: (() => void)[] = []
  try {
    if (o.tty) {
      const size = (): void => s.resize(io.stdout.columns || 80, io.stdout.rows || 24)
      size()
      io.stdout.on('resize', size)
      undo.push(() => io.stdout.off('resize', size))
      if (io.stdin.isTTY) {
        io.stdin.setRawMode(true)
        undo.push(() => io.stdin.setRawMode(false))
      }
    }
    if (o.stdin) {
      const onData = (chunk: Buffer): void => {
        s.writeStdin(chunk, () => {
          if (io.stdin.isPaused() && s.buffered() < STDIN_HIGH_WATER) io.stdin.resume()
        })
        if (s.buffered() >= STDIN_HIGH_WATER) io.stdin.pause()
      }
      const onEnd = (): void => {
        if (s.canCloseStdin) return s.closeStdin()
        if (o.tty) return
        // Said only to a command still running a moment after its input ended (cat, say).
        const t = setTimeout(() => io.note(`note: the runtime's streaming protocol (${s.protocol}) cannot tell the command that stdin ended; it goes on until it exits by itself`), 2000)
        t.unref()
        undo.push(() => clearTimeout(t))
      }
      io.stdin.on('data', onData)
      io.stdin.once('end', onEnd)
      undo.push(() => {
        io.stdin.off('data', onData)
        io.stdin.off('end', onEnd)
        io.stdin.pause()
      })
      io.stdin.resume()
    }
    const status = await s.done
    const code = exitCodeOf(status)
    if (code === undefined) {
      throw new PodrunError(`the session failed: ${status.message ?? JSON.stringify(status)}`, {reason: status.reason || 'ExecFailed', exitCode: ExitCode.runtime})
    }
    return code
  } finally {
    for (const f of undo.reverse()) f()
    s.close()
  }
}
