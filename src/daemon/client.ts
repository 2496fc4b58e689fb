// Asking a running daemon (its unix socket) for its view of the pods, for `podrun get pods`. Any
// failure (no daemon, no permission, a slow answer, a garbled one) is "no daemon": callers fall back
// to the runtime alone.
import http from 'node:http'
import type {DaemonPodList} from './view.js'

export async function fetchDaemonPods(socketPath: string, timeoutMs = 1000): Promise<DaemonPodList | undefined> {
  return new Promise((resolve) => {
    const req = http.get({socketPath, path: '/api/v1/pods', timeout: timeoutMs, headers: {Accept: 'application/json'}}, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        resolve(undefined)
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DaemonPodList
          resolve(body && body.kind === 'DaemonPodList' && Array.isArray(body.pods) ? body : undefined)
        } catch {
          resolve(undefined)
        }
      })
      res.on('error', () => resolve(undefined))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(undefined))
  })
}

/** Whether a daemon answers on the socket at all (healthy or not). */
export function daemonAnswers(socketPath: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({socketPath, path: '/healthz', timeout: timeoutMs}, (res) => {
      res.resume()
      resolve(true)
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(false))
  })
}
