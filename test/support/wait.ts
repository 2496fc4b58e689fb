// Polling for the tests and benchmarks that watch a real runtime or a daemon.
import http from 'node:http'

/**
 * Calls fn every `every` ms until it returns something truthy, and returns that; after `ms`
 * throws, naming what it waited for (and detail(), such as the tail of a log).
 */
export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
  every = 100,
  detail?: () => string,
): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`)
    await new Promise((r) => setTimeout(r, every))
  }
}

/** GET over a unix socket (the daemon's API): the status and body; code 0 when nothing answered. */
export function getOverSocket(socketPath: string, path: string, timeoutMs = 2000): Promise<{code: number; body: string}> {
  return new Promise((resolve) => {
    const req = http.get({socketPath, path, timeout: timeoutMs}, (res) => {
      let body = ''
      res.on('data', (c) => (body += c))
      res.on('end', () => resolve({code: res.statusCode ?? 0, body}))
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve({code: 0, body: ''}))
  })
}
