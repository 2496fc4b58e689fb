// An interactive `podrun exec`: this process's stdin, stdout, stderr and terminal joined to a
// session on the runtime's streaming server, as `kubectl exec -it` joins them. With a terminal,
// stdin is put in raw mode (keys such as Ctrl-C reach the container's terminal, not podrun) and
// every change of the window's size is sent on.
import {type ExecStream, exitCodeOf, openExecStream, receivePaced, sendPaced} from '../cri/streaming.js'
import {ExitCode, PodrunError} from './errors.js'

export interface SessionIo {
  stdin: NodeJS.ReadStream
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  note(text: string): void
}

/** Runs the session to its end; resolves with the command's exit code. */
export async function runExecSession(url: string, o: {stdin: boolean; tty: boolean}, io: SessionIo): Promise<number> {
  // Frames may arrive before the open completes: the stream is held once it is known.
  let s: ExecStream | undefined
  const opened = await openExecStream(url, {stdout: receivePaced(io.stdout, () => s), stderr: receivePaced(io.stderr, () => s)})
  s = opened
  const undo: (() => void)[] = []
  try {
    if (o.tty) {
      const size = (): void => opened.resize(io.stdout.columns || 80, io.stdout.rows || 24)
      size()
      io.stdout.on('resize', size)
      undo.push(() => io.stdout.off('resize', size))
      if (io.stdin.isTTY) {
        io.stdin.setRawMode(true)
        undo.push(() => io.stdin.setRawMode(false))
      }
    }
    if (o.stdin) {
      const onData = sendPaced(io.stdin, (d, done) => opened.writeStdin(d, done), () => opened.buffered())
      const onEnd = (): void => {
        if (opened.canCloseStdin) return opened.closeStdin()
        if (o.tty) return
        // Said only to a command still running a moment after its input ended (cat, say).
        const t = setTimeout(() => io.note(`note: the runtime's streaming protocol (${opened.protocol}) cannot tell the command that stdin ended; it goes on until it exits by itself`), 2000)
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
    const status = await opened.done
    const code = exitCodeOf(status)
    if (code === undefined) {
      throw new PodrunError(`the session failed: ${status.message ?? JSON.stringify(status)}`, {reason: status.reason || 'ExecFailed', exitCode: ExitCode.runtime})
    }
    return code
  } finally {
    for (const f of undo.reverse()) f()
    opened.close()
  }
}
