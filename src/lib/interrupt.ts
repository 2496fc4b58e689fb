// Ctrl-C for commands that wait: SIGINT aborts a signal instead of ending the process, so the
// command can say what was still in progress. The handler is removed when the wait is over.
export interface Interrupt {
  signal: AbortSignal
  /** Resolves on Ctrl-C. */
  interrupted: Promise<void>
  dispose(): void
}

export function onInterrupt(): Interrupt {
  const ac = new AbortController()
  const interrupted = new Promise<void>((resolve) => ac.signal.addEventListener('abort', () => resolve(), {once: true}))
  const onInt = () => ac.abort()
  process.once('SIGINT', onInt)
  return {signal: ac.signal, interrupted, dispose: () => process.off('SIGINT', onInt)}
}
