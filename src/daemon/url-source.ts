// A manifest URL as a source of the daemon's pods (--manifest-url), as the kubelet's
// --manifest-url but safe for a fleet:
//
//   polling   every check period, with the last good copy's ETag and Last-Modified (the server
//             answers 304 without a body when nothing changed); on failure an exponential
//             back-off with jitter, so that a fleet does not hammer a server that came back
//   trust     with --verify-key, a body counts only with a valid URL.sig by one of the keys;
//             its pods are held to the source's pod security level (baseline by default)
//   last good a body that is valid and verified is kept on disk (url-cache.ts); at boot the
//             daemon runs the cached pods at once, and says so until the server answers
//
// The body is one "file" of the source: a body that is invalid or refused freezes its pods at their
// last good version, as a broken file does (sources.ts). A failed fetch changes nothing at all.
import crypto from 'node:crypto'
import {desiredStateFromTexts} from '../manifest/index.js'
import {formatDiagnostic} from '../manifest/format.js'
import type {Diagnostic, Limits} from '../manifest/types.js'
import type {PodSecurityPolicy} from '../manifest/pod-security.js'
import {fetchUrl, remoteSignature, type RemoteOptions} from '../manifest/remote.js'
import {signatureProblem} from '../lib/signature.js'
import {advanceSnapshot, type FetchResult, type PodSource, type ReloadResult, type SourceInfo, type SourceRead, type SourceSnapshot} from './sources.js'
import {cacheFile, readCache, writeCache, type CachedBody} from './url-cache.js'
import type {Logger} from './log.js'

export interface UrlSourceOptions {
  remote: RemoteOptions
  checkPeriodMs: number
  /** The pod security level the URL's pods are held to. */
  podSecurity?: PodSecurityPolicy
  limits?: Partial<Limits>
  log: Logger
  /** Folder of the cached copies (tests); default url-cache.ts' sourcesRoot(). */
  cacheRoot?: string
  now?: () => number
  random?: () => number
}

/** A URL as shown and as its pods' `podrun.io/source`: no credentials, no query (tokens live there). */
export function sourceName(url: string): string {
  const u = new URL(url)
  const query = u.search !== ''
  u.username = ''
  u.password = ''
  u.search = ''
  u.hash = ''
  return query ? `${u.href}?…` : u.href
}

/** The back-off after `failures` failed fetches in a row: doubling from the period, at most 5 min (or the period), ±20 %. */
export function nextDelayMs(periodMs: number, failures: number, random: () => number): number {
  const base = failures === 0 ? periodMs : Math.min(periodMs * 2 ** failures, Math.max(periodMs, 300_000))
  return Math.round(base * (0.8 + 0.4 * random()))
}

interface Body {
  text: string
  signature?: string
  /** Why it does not count under --verify-key. */
  problem?: string
  etag?: string
  lastModified?: string
  fetchedAt: string
  sha: string
}

const sha = (text: string) => crypto.createHash('sha256').update(text).digest('hex')
const iso = (ms: number) => new Date(ms).toISOString()

export class UrlSource implements PodSource {
  readonly kind = 'url' as const
  readonly name: string
  private readonly file: string
  private readonly now: () => number
  private readonly random: () => number
  private current: SourceSnapshot
  /** The body the snapshot is (to be) made of: the newest fetched or the cached one. */
  private latest: Body | undefined
  /** The body last made into a snapshot. */
  private readKey: string | undefined
  /** The last body that was good (valid and verified): what conditional requests ask about. */
  private good: Body | undefined
  private timer: NodeJS.Timeout | undefined
  private fetching: Promise<void> | undefined
  private stopped = false
  private readonly abort = new AbortController()
  private failures = 0
  private lastFetch: number | undefined
  private lastResult: FetchResult | undefined
  private lastSuccess: number | undefined
  private lastError: {time: string; message: string} | undefined
  private nextFetch: number | undefined
  private readonly fetches: Partial<Record<FetchResult, number>> = {}
  private onChange: () => void = () => undefined

  constructor(
    readonly url: string,
    private readonly o: UrlSourceOptions,
  ) {
    this.name = sourceName(url)
    this.file = cacheFile(url, o.cacheRoot)
    this.now = o.now ?? Date.now
    this.random = o.random ?? Math.random
    this.current = {dir: this.name, pods: [], data: () => undefined, files: new Map(), dirErrors: [], untrusted: [], generation: 0}
    const cached = readCache(this.file, this.name)
    if (cached) this.useCache(cached)
  }

  private useCache(c: CachedBody): void {
    const keys = this.o.remote.verifyKeys ?? []
    // A copy signed by a key no longer among --verify-key does not count any more.
    const problem = keys.length > 0 ? (c.signature ? signatureProblem(Buffer.from(c.body), c.signature, keys) : 'no signature kept with the cached copy') : undefined
    if (problem) {
      this.o.log.warn('the cached copy of a manifest URL is not used: its signature does not count under --verify-key', {source: this.name, error: problem})
      return
    }
    const b: Body = {text: c.body, signature: c.signature, etag: c.etag, lastModified: c.lastModified, fetchedAt: c.fetchedAt, sha: sha(c.body)}
    this.latest = b
    this.good = b
  }

  get snapshot(): SourceSnapshot {
    return this.current
  }

  owns(source: string): boolean {
    return source === this.name
  }

  /** Polls from now on; `onChange` is called when a fetched body differs from the last one. */
  start(onChange: () => void): void {
    this.onChange = onChange
    this.schedule(0)
  }

  /** No more polls; a fetch in flight is aborted (a daemon stops at once, not after a timeout). */
  stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    this.abort.abort()
    return this.fetching ?? Promise.resolve()
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.nextFetch = this.now() + ms
    this.timer = setTimeout(() => {
      this.fetching = this.poll().then(
        () => undefined,
        () => undefined,
      ).finally(() => (this.fetching = undefined))
    }, ms)
  }

  /** One fetch (tests call it directly); schedules the next. */
  async poll(): Promise<FetchResult> {
    const r = await this.fetchOnce()
    this.fetches[r] = (this.fetches[r] ?? 0) + 1
    this.lastResult = r
    this.failures = r === 'error' ? this.failures + 1 : 0
    this.schedule(nextDelayMs(this.o.checkPeriodMs, this.failures, this.random))
    return r
  }

  private async fetchOnce(): Promise<FetchResult> {
    const t = this.now()
    this.lastFetch = t
    const fail = (message: string): FetchResult => {
      this.lastError = {time: iso(t), message}
      return 'error'
    }
    let f
    try {
      f = await fetchUrl(this.url, this.o.remote, {etag: this.good?.etag, lastModified: this.good?.lastModified, signal: this.abort.signal})
    } catch (e) {
      if (this.stopped) return 'unchanged'
      const message = this.redact((e as Error).message)
      if (this.failures === 0) this.o.log.warn('could not fetch a manifest URL; its pods stay as they are', {source: this.name, error: message})
      return fail(message)
    }
    if (this.stopped) return 'unchanged'
    if (f.status === 304) {
      this.lastSuccess = t
      return 'not-modified'
    }
    const text = (f.body ?? Buffer.alloc(0)).toString('utf8')
    const digest = sha(text)
    const same = this.latest?.sha === digest
    // The same body again needs nothing, unless its signature was what was wrong (the .sig may be fixed).
    if (same && !this.latest!.problem) {
      this.lastSuccess = t
      const good = this.good
      if (good && this.latest === good && (good.etag !== f.etag || good.lastModified !== f.lastModified)) {
        Object.assign(good, {etag: f.etag, lastModified: f.lastModified})
        this.keep(good)
      }
      return 'unchanged'
    }
    const {signature, problem} = await remoteSignature(this.url, Buffer.from(text), this.o.remote, this.abort.signal)
    if (this.stopped) return 'unchanged'
    this.lastSuccess = t
    if (same && problem === this.latest!.problem) return 'refused'
    this.latest = {text, signature, problem: problem && this.redact(problem), etag: f.etag, lastModified: f.lastModified, fetchedAt: iso(t), sha: digest}
    if (problem) this.lastError = {time: iso(t), message: this.latest.problem!}
    this.onChange()
    return problem ? 'refused' : 'changed'
  }

  /** A message without the URL's credentials and query (they name the source as it is shown). */
  private redact(message: string): string {
    return [this.url, new URL(this.url).href].reduce((m, u) => m.split(u).join(this.name), message)
  }

  /** Makes the snapshot of the newest body (force: even when it was already made). */
  async reload(opts: {force?: boolean} = {}): Promise<ReloadResult> {
    const b = this.latest
    const key = b ? `${b.sha}|${b.problem ?? ''}` : `none|${this.lastError?.message ?? ''}`
    if (!opts.force && key === this.readKey) return {read: false, changed: false, changes: [], snapshot: this.current}
    this.readKey = key
    const r = advanceSnapshot(this.current, this.read(b), {name: this.name, norm: (f) => f, single: true})
    this.current = r.snapshot
    // A good body fetched now becomes the copy a boot without the server starts from.
    const file = r.snapshot.files.get(this.name)
    if (b && b !== this.good && file && file.errors.length === 0) {
      this.keep(b)
      this.good = b
    }
    return {read: true, ...r}
  }

  private keep(b: Body): void {
    try {
      writeCache(this.file, {source: this.name, body: b.text, signature: b.signature, etag: b.etag, lastModified: b.lastModified, fetchedAt: b.fetchedAt})
    } catch (e) {
      this.o.log.warn('could not keep the last good copy of a manifest URL', {source: this.name, file: this.file, error: (e as Error).message})
    }
  }

  private read(b: Body | undefined): SourceRead {
    const empty = {objects: [], pods: [], configMaps: [], secrets: []}
    const error = (message: string, code?: 'unsigned'): Diagnostic => ({severity: 'error', file: this.name, line: 0, col: 0, path: '', message, ...(code ? {code} : {})})
    // Nothing ever read: the source's own error keeps whatever of it runs.
    if (!b) return {files: [], diagnostics: [error(`not fetched yet${this.lastError ? `: ${this.lastError.message}` : ''} (and no cached copy)`)], ...empty}
    if (b.problem) return {files: [this.name], diagnostics: [error(b.problem, 'unsigned')], ...empty}
    // An empty answer is more often a server's or a proxy's fault than an order to stop every pod.
    if (!/^[ \t]*[^#\s]/m.test(b.text)) return {files: [this.name], diagnostics: [error('the body is empty: refused (to run no pods, serve `kind: List` with `items: []`)')], ...empty}
    return desiredStateFromTexts([{file: this.name, text: b.text}], {source: () => this.name, podSecurity: this.o.podSecurity, limits: this.o.limits})
  }

  info(): SourceInfo {
    const errors = [...this.current.dirErrors, ...[...this.current.files.values()].flatMap((f) => f.errors)].map(formatDiagnostic)
    const inUse = this.good
    return {
      kind: 'url',
      name: this.name,
      pods: this.current.pods.length,
      errors,
      lastFetch: this.lastFetch === undefined ? undefined : iso(this.lastFetch),
      lastResult: this.lastResult,
      lastSuccess: this.lastSuccess === undefined ? undefined : iso(this.lastSuccess),
      lastError: this.lastError,
      failures: this.failures,
      nextFetch: this.nextFetch === undefined || this.stopped ? undefined : iso(this.nextFetch),
      etag: inUse?.etag,
      lastModified: inUse?.lastModified,
      // A good copy with no answer from the server since the start can only be the cached one.
      fromCache: !!inUse && this.lastSuccess === undefined,
      fetchedAt: inUse?.fetchedAt,
      fetches: {...this.fetches},
      podSecurity: this.o.podSecurity?.enforce ?? 'privileged',
    }
  }
}
