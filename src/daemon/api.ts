// The daemon's local API (node:http, read-only): on a unix socket in the state folder, mode 0600
// (root only), and optionally on a loopback TCP port for a Prometheus scraper.
//
//   GET /healthz        200 while the loop is alive, 503 when stopping or stuck
//   GET /readyz         200 when the runtime answers and the last pass succeeded, else 503 + why
//   GET /metrics        Prometheus text format
//   GET /api/v1/pods    JSON: the daemon's view of every pod (DaemonPodList)
//   GET /api/v1/pods/NAMESPACE/NAME
//   GET /api/v1/status  JSON: the daemon itself (runtime, last pass, manifest errors)
//   GET /api/v1/sources JSON: each manifest source (folder, URLs: last fetch, ETag, last error, cache)
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import type {DaemonPodInfo, DaemonPodList, DaemonStatus} from './view.js'
import type {SourceInfo} from './sources.js'

export interface ApiSource {
  healthy(): {ok: boolean; reason?: string}
  ready(): {ok: boolean; reason?: string}
  metrics(): string | Promise<string>
  pods(): DaemonPodInfo[]
  status(): DaemonStatus
  sources?(): SourceInfo[]
}

export interface ApiOptions {
  socketPath?: string
  listen?: {host: string; port: number}
}

export class ApiServer {
  private readonly servers: http.Server[] = []
  /** The TCP port actually bound (when listen.port was 0). */
  port: number | undefined

  constructor(
    private readonly src: ApiSource,
    private readonly o: ApiOptions,
  ) {}

  async start(): Promise<void> {
    if (this.o.socketPath) {
      const server = this.server()
      // The lock is held: a socket file left here is a dead daemon's.
      fs.rmSync(this.o.socketPath, {force: true})
      const old = process.umask(0o177)
      try {
        await listen(server, {path: this.o.socketPath})
      } finally {
        process.umask(old)
      }
      fs.chmodSync(this.o.socketPath, 0o600)
      this.servers.push(server)
    }
    if (this.o.listen) {
      const server = this.server()
      await listen(server, {host: this.o.listen.host, port: this.o.listen.port})
      this.port = (server.address() as AddressInfo).port
      this.servers.push(server)
    }
  }

  async close(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve())
            s.closeAllConnections()
          }),
      ),
    )
    this.servers.length = 0
    if (this.o.socketPath) fs.rmSync(this.o.socketPath, {force: true})
  }

  private server(): http.Server {
    const server = http.createServer((req, res) => {
      try {
        this.handle(req, res)
      } catch (e) {
        send(res, 500, 'text/plain', `internal error: ${(e as Error).message}\n`)
      }
    })
    server.keepAliveTimeout = 5000
    server.headersTimeout = 10_000
    server.requestTimeout = 10_000
    return server
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://podrun')
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      send(res, 405, 'text/plain', 'method not allowed: the API is read-only\n')
      return
    }
    const p = url.pathname.replace(/\/+$/, '') || '/'
    if (p === '/healthz' || p === '/readyz') {
      const r = p === '/healthz' ? this.src.healthy() : this.src.ready()
      send(res, r.ok ? 200 : 503, 'text/plain', r.ok ? 'ok\n' : `${r.reason ?? 'not ready'}\n`)
      return
    }
    if (p === '/metrics') {
      void Promise.resolve(this.src.metrics()).then(
        (text) => send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', text),
        (e: unknown) => send(res, 500, 'text/plain; charset=utf-8', `${(e as Error).message}\n`),
      )
      return
    }
    if (p === '/api/v1/status') {
      sendJson(res, 200, this.src.status())
      return
    }
    if (p === '/api/v1/sources') {
      sendJson(res, 200, {kind: 'SourceList', items: this.src.sources?.() ?? []})
      return
    }
    if (p === '/api/v1/pods') {
      const list: DaemonPodList = {kind: 'DaemonPodList', daemon: this.src.status(), pods: this.src.pods()}
      sendJson(res, 200, list)
      return
    }
    const m = /^\/api\/v1\/pods\/([^/]+)\/([^/]+)$/.exec(p)
    if (m) {
      let key: string
      try {
        key = `${decodeURIComponent(m[1])}/${decodeURIComponent(m[2])}`
      } catch {
        sendJson(res, 400, {error: `malformed path: ${p}`})
        return
      }
      const pod = this.src.pods().find((x) => x.key === key)
      if (pod) sendJson(res, 200, pod)
      else sendJson(res, 404, {error: `pod ${key} is not known to the daemon`})
      return
    }
    send(res, 404, 'text/plain', 'not found: try /healthz, /readyz, /metrics, /api/v1/pods, /api/v1/status, /api/v1/sources\n')
  }
}

function listen(server: http.Server, at: {path: string} | {host: string; port: number}): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(at, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

function send(res: http.ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, {'Content-Type': type, 'Cache-Control': 'no-store'})
  res.end(res.req.method === 'HEAD' ? undefined : body)
}

function sendJson(res: http.ServerResponse, code: number, body: unknown): void {
  send(res, code, 'application/json', JSON.stringify(body, null, 2) + '\n')
}
