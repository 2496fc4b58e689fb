// Probe and lifecycle-hook handlers, run as the kubelet runs them: exec inside the container
// (CRI ExecSync, exit code 0 is success), httpGet from the host to the pod's IP (or to the host
// named in the handler; status 200-399 is success; HTTPS without certificate checks, as the
// kubelet), tcpSocket (a connection is success), grpc (the standard health service answering
// SERVING) and sleep (hooks). Every handler ends by its timeout and reports why it failed in the
// words an operator reads in events.
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import {Client, credentials, Metadata} from '@grpc/grpc-js'
import {BinaryReader, BinaryWriter} from '@bufbuild/protobuf/wire'
import type {Container, LifecycleHandler, Probe} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'

export type Handler = LifecycleHandler & Pick<Probe, 'grpc'>

export interface HandlerTarget {
  cri: CriClient
  containerId: string
  container: Container
  /** The pod's IP; 127.0.0.1 for a pod on the host network. */
  podIP: string
}

export interface HandlerResult {
  ok: boolean
  /** Why it failed (or what it said), for events. */
  message: string
}

/** A port given by number or by the name of one of the container's ports. */
export function resolvePort(port: number | string | undefined, c: Container): number | undefined {
  if (typeof port === 'number') return port
  if (port === undefined) return undefined
  if (/^\d+$/.test(port)) return Number(port)
  return c.ports?.find((p) => p.name === port)?.containerPort
}

const ok = (message = ''): HandlerResult => ({ok: true, message})
const fail = (message: string): HandlerResult => ({ok: false, message})

export async function runHandler(h: Handler, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  try {
    if (h.exec) return await execHandler(h.exec.command ?? [], t, timeoutMs)
    if (h.httpGet) return await httpHandler(h.httpGet, t, timeoutMs)
    if (h.tcpSocket) return await tcpHandler(h.tcpSocket.host || t.podIP, resolvePort(h.tcpSocket.port, t.container), timeoutMs)
    if (h.grpc) return await grpcHandler(t.podIP, h.grpc.port, h.grpc.service ?? '', timeoutMs)
    if (h.sleep) {
      await new Promise((r) => setTimeout(r, Math.min(h.sleep!.seconds * 1000, timeoutMs)))
      return ok()
    }
    return fail('the handler has no action')
  } catch (e) {
    return fail((e as Error).message)
  }
}

async function execHandler(command: string[], t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const r = await t.cri.execSync(t.containerId, command, Math.max(1, Math.ceil(timeoutMs / 1000)))
  const out = Buffer.concat([Buffer.from(r.stdout), Buffer.from(r.stderr)]).toString('utf8').trim().slice(0, 1024)
  return r.exitCode === 0 ? ok(out) : fail(`command ${JSON.stringify(command)} exited with ${r.exitCode}${out ? `: ${out}` : ''}`)
}

function httpHandler(g: NonNullable<LifecycleHandler['httpGet']>, t: HandlerTarget, timeoutMs: number): Promise<HandlerResult> {
  const port = resolvePort(g.port, t.container)
  if (port === undefined) return Promise.resolve(fail(`port ${JSON.stringify(g.port)} is not a port of container ${t.container.name}`))
  const host = g.host || t.podIP
  const secure = g.scheme === 'HTTPS'
  const headers: Record<string, string> = {'User-Agent': 'podrun-probe', Accept: '*/*'}
  for (const h of g.httpHeaders ?? []) headers[h.name] = h.value
  const url = `${secure ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}${g.path ?? '/'}`
  return new Promise((resolve) => {
    const req = (secure ? https : http).get(url, {headers, timeout: timeoutMs, ...(secure ? {rejectUnauthorized: false} : {})}, (res) => {
      const code = res.statusCode ?? 0
      res.resume()
      resolve(code >= 200 && code < 400 ? ok(`HTTP ${code}`) : fail(`HTTP probe failed with statuscode: ${code}`))
    })
    req.on('timeout', () => req.destroy(new Error(`Get "${url}": timeout after ${timeoutMs} ms`)))
    req.on('error', (e) => resolve(fail(e.message.startsWith('Get "') ? e.message : `Get "${url}": ${e.message}`)))
  })
}

function tcpHandler(host: string, port: number | undefined, timeoutMs: number): Promise<HandlerResult> {
  if (port === undefined) return Promise.resolve(fail('no port'))
  return new Promise((resolve) => {
    const s = net.connect({host, port, timeout: timeoutMs})
    s.once('connect', () => {
      s.destroy()
      resolve(ok())
    })
    s.once('timeout', () => {
      s.destroy()
      resolve(fail(`dial tcp ${host}:${port}: i/o timeout`))
    })
    s.once('error', (e) => resolve(fail(`dial tcp ${host}:${port}: ${e.message}`)))
  })
}

/** grpc.health.v1.Health/Check: HealthCheckRequest {string service = 1}, answer {ServingStatus status = 1}, SERVING = 1. */
function grpcHandler(host: string, port: number, service: string, timeoutMs: number): Promise<HandlerResult> {
  const client = new Client(`${host.includes(':') ? `[${host}]` : host}:${port}`, credentials.createInsecure())
  const encode = (s: string) => {
    const w = new BinaryWriter()
    if (s) w.tag(1, 2).string(s)
    return Buffer.from(w.finish())
  }
  const decode = (b: Buffer) => {
    const r = new BinaryReader(b)
    let status = 0
    while (r.pos < r.len) {
      const [field, wire] = r.tag()
      if (field === 1 && wire === 0) status = r.int32()
      else r.skip(wire)
    }
    return status
  }
  return new Promise<HandlerResult>((resolve) => {
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/Check',
      encode,
      decode,
      service,
      new Metadata(),
      {deadline: Date.now() + timeoutMs},
      (err, status) => {
        if (err) resolve(fail(`gRPC health check failed: ${err.details || err.message}`))
        else resolve(status === 1 ? ok('SERVING') : fail(`service unhealthy (responded with ${['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][status ?? 0] ?? status})`))
      },
    )
  }).finally(() => client.close())
}
