// Manifests from a URL, as `kubectl apply -f https://...` reads them, through Node's own http and
// https: the system's CAs plus --manifest-url-ca, plain http only with --allow-http, at most 5
// redirects (never from https down to http), a size limit, and extra headers
// (--manifest-url-header). With --verify-key, the body counts only with a valid detached
// signature at URL.sig by one of the keys (lib/signature.ts). Conditional requests (ETag,
// Last-Modified) are supported for pollers: a 304 comes back without a body.
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import tls from 'node:tls'
import {signatureProblem, type VerifyKey} from '../lib/signature.js'

export interface RemoteOptions {
  /** PEM files of CAs trusted beside the system's. */
  caFiles?: string[]
  headers?: Record<string, string>
  allowHttp?: boolean
  /** When given, a body counts only with a valid signature at URL.sig by one of these. */
  verifyKeys?: VerifyKey[]
  maxBytes?: number
  timeoutMs?: number
}

export interface Fetched {
  status: number
  body?: Buffer
  etag?: string
  lastModified?: string
  /** The URL answered, after redirects. */
  url: string
}

const MAX_REDIRECTS = 5

export const isUrl = (s: string): boolean => /^https?:\/\//i.test(s)

/**
 * One agent per set of options: its TLS context (the system's CAs and --manifest-url-ca, parsed
 * once) and its kept-alive connection serve every poll of a URL, so that a poll answered 304 costs
 * a request, not a handshake. Idle sockets do not keep a process alive (Node unrefs them).
 */
const agents = new WeakMap<RemoteOptions, https.Agent>()
function agentFor(o: RemoteOptions): https.Agent {
  let a = agents.get(o)
  if (!a) {
    const ca = o.caFiles?.length ? [...tls.rootCertificates, ...o.caFiles.map((f) => fs.readFileSync(f, 'utf8'))] : undefined
    a = new https.Agent({keepAlive: true, maxSockets: 4, ...(ca ? {secureContext: tls.createSecureContext({ca})} : {})})
    agents.set(o, a)
  }
  return a
}

/** What one request adds to the options: a conditional GET, another size limit, a way to abort it. */
export interface FetchRequest {
  etag?: string
  lastModified?: string
  maxBytes?: number
  signal?: AbortSignal
}

/** One GET, following redirects; rejects with a message that names the URL. */
export function fetchUrl(url: string, o: RemoteOptions, r: FetchRequest = {}): Promise<Fetched> {
  const maxBytes = r.maxBytes ?? o.maxBytes ?? 4 * 1024 * 1024
  const get = (target: URL, hops: number): Promise<Fetched> =>
    new Promise((resolve, reject) => {
      if (target.protocol === 'http:' && !o.allowHttp) return reject(new Error(`${target.href}: plain http is refused (anyone on the way can change the manifests); use https, or --allow-http`))
      if (target.protocol !== 'http:' && target.protocol !== 'https:') return reject(new Error(`${target.href}: only https (and http with --allow-http) URLs are read`))
      const headers: Record<string, string> = {'user-agent': 'podrun', accept: 'application/yaml, application/json, text/plain, */*', ...o.headers}
      if (r.etag) headers['if-none-match'] = r.etag
      if (r.lastModified) headers['if-modified-since'] = r.lastModified
      const lib = target.protocol === 'https:' ? https : http
      const req = lib.get(target, {headers, timeout: o.timeoutMs ?? 30_000, signal: r.signal, ...(target.protocol === 'https:' ? {agent: agentFor(o)} : {})}, (res) => {
        const status = res.statusCode ?? 0
        if (status >= 300 && status < 400 && status !== 304 && res.headers.location) {
          res.resume()
          if (hops >= MAX_REDIRECTS) return reject(new Error(`${url}: more than ${MAX_REDIRECTS} redirects`))
          const next = new URL(res.headers.location, target)
          if (target.protocol === 'https:' && next.protocol === 'http:') return reject(new Error(`${url}: redirected from https to plain http (${next.href}); refused`))
          return resolve(get(next, hops + 1))
        }
        const fetched: Fetched = {status, url: target.href, etag: res.headers.etag, lastModified: res.headers['last-modified']}
        if (status === 304) {
          res.resume()
          return resolve(fetched)
        }
        if (status !== 200) {
          res.resume()
          return reject(new Error(`${target.href}: HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`))
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (c: Buffer) => {
          size += c.length
          if (size > maxBytes) {
            req.destroy(new Error(`${target.href}: the body is larger than ${maxBytes} bytes; refused`))
            return
          }
          chunks.push(c)
        })
        res.on('end', () => resolve({...fetched, body: Buffer.concat(chunks)}))
        res.on('error', reject)
      })
      req.on('timeout', () => req.destroy(new Error(`${target.href}: no answer within ${Math.round((o.timeoutMs ?? 30_000) / 1000)}s`)))
      req.on('error', (e) => reject(e.message.startsWith(target.href) ? e : new Error(`${target.href}: ${e.message}`)))
    })
  return get(new URL(url), 0)
}

/**
 * The signature check of a body under --verify-key: the signature (URL.sig, kept with a cached
 * copy so that it can be checked again) when one of the keys made it, or why the body does not count.
 */
export async function remoteSignature(url: string, body: Buffer, o: RemoteOptions, signal?: AbortSignal): Promise<{signature?: string; problem?: string}> {
  if (!o.verifyKeys?.length) return {}
  let sig: Fetched
  try {
    sig = await fetchUrl(`${url}.sig`, o, {maxBytes: 64 * 1024, signal})
  } catch (e) {
    return {problem: `no signature: ${(e as Error).message}`}
  }
  const signature = sig.body?.toString('utf8') ?? ''
  const problem = signatureProblem(body, signature, o.verifyKeys)
  return problem ? {problem} : {signature}
}

/** The text of a manifest URL, verified when keys are given; or why it cannot be used. */
export async function readRemote(url: string, o: RemoteOptions): Promise<{text: string} | {error: string; unsigned?: boolean}> {
  try {
    const f = await fetchUrl(url, o)
    const body = f.body ?? Buffer.alloc(0)
    const {problem} = await remoteSignature(url, body, o)
    if (problem) return {error: problem, unsigned: true}
    return {text: body.toString('utf8')}
  } catch (e) {
    return {error: (e as Error).message}
  }
}
