// The daemon's desired state: the manifest folder, read whole on every change (level-triggered),
// with the last good version of each file kept while that file is broken.
//
//   - a file without errors: its pods (and ConfigMaps, Secrets) are what it says now;
//   - a file with errors: frozen at its last good version (nothing about it changes), the errors
//     are recorded; a file that was never good contributes nothing;
//   - a file that disappeared: its pods are gone from the desired state (the loop prunes them);
//   - the folder itself unreadable (missing, permissions): everything frozen, the error recorded:
//     a mount hiccup must not tear down every workload of a device.
//
// Reading is cheap to skip: a fingerprint of the folder (names, sizes, mtimes, inodes, following
// symlinks) tells the periodic resync whether anything changed since the last read.
import fs from 'node:fs'
import path from 'node:path'
import type {DesiredPod} from '../model/desired.js'
import type {DesiredConfigMap, DesiredSecret, Diagnostic, Limits} from '../manifest/types.js'
import type {PodSecurityPolicy} from '../manifest/pod-security.js'
import type {VerifyKey} from '../lib/signature.js'
import {dataLookup} from '../reconcile/data.js'
import {fileTrust, folderTrust, TRUST_HINT, type TrustProblem} from './manifest-trust.js'
import type {DataLookup} from '../reconcile/container-config.js'
import {formatDiagnostic} from '../manifest/format.js'
import type {DesiredState} from '../manifest/types.js'

export interface FileState {
  /** Absolute path (also the `podrun.io/source` label of its pods). */
  file: string
  pods: DesiredPod[]
  configMaps: DesiredConfigMap[]
  secrets: DesiredSecret[]
  errors: Diagnostic[]
  warnings: Diagnostic[]
  /** Broken now, and running from its last good version. */
  frozen: boolean
  /** Every object the file defines now (valid or not), "Pod ns/name". */
  objects: string[]
}

export interface SourceSnapshot {
  dir: string
  /** Union of every file's pods (frozen files' last good pods included). */
  pods: DesiredPod[]
  data: DataLookup
  files: Map<string, FileState>
  /** The folder could not be read, or is not trusted: everything is frozen. */
  dirErrors: Diagnostic[]
  /** Paths refused as untrusted (manifest-trust.ts): the folder, one above it, or files. */
  untrusted: string[]
  /** Bumped on every change of the desired state or of the errors. */
  generation: number
}

export type FileChange =
  | {file: string; kind: 'added' | 'changed' | 'removed' | 'fixed'}
  | {file: string; kind: 'invalid'; errors: Diagnostic[]; frozen: boolean}

export interface ReloadResult {
  /** Whether anything was read again (false: the fingerprint said nothing changed). */
  read: boolean
  /** Whether the desired state or the errors changed. */
  changed: boolean
  changes: FileChange[]
  snapshot: SourceSnapshot
  /** A file changed less than the file check delay ago: read again in this many ms. */
  retryInMs?: number
}

export interface SourceOptions {
  recursive?: boolean
  limits?: Partial<Limits>
  /** The pod security level the folder's pods are held to. */
  podSecurity?: PodSecurityPolicy
  /** Refuse files and folders that others than root can write (a root daemon's folder); default: when running as root. */
  strictModes?: boolean
  /** A file is read only once it has not changed for this long (a half-written file is never applied); default 0. */
  fileCheckDelayMs?: number
  /** Keys one of which must have signed each file (FILE.sig beside it, lib/signature.ts); none: no signatures needed. */
  verifyKeys?: VerifyKey[]
}

/** How the last fetch went. */
export type FetchResult = 'changed' | 'unchanged' | 'not-modified' | 'refused' | 'error'

/** What /api/v1/sources shows of a source. */
export interface SourceInfo {
  kind: 'folder' | 'url'
  name: string
  pods: number
  errors: string[]
  /** URLs: the last fetch and how it went, the validators of the copy in use, back-off. */
  lastFetch?: string
  lastResult?: FetchResult
  lastSuccess?: string
  lastError?: {time: string; message: string}
  failures?: number
  nextFetch?: string
  etag?: string
  lastModified?: string
  /** The pods run from the copy cached on disk: the server has not answered since the daemon started. */
  fromCache?: boolean
  /** When the copy in use was fetched. */
  fetchedAt?: string
  fetches?: Partial<Record<FetchResult, number>>
  /** The pod security level its pods are held to. */
  podSecurity?: string
}

/** A source of pods the daemon runs, changes and prunes: the manifest folder or a manifest URL. */
export interface PodSource {
  readonly kind: 'folder' | 'url'
  /** The folder, or the URL without credentials: what its pods' `podrun.io/source` is or lies under. */
  readonly name: string
  readonly snapshot: SourceSnapshot
  /** Whether a `podrun.io/source` value is one of this source's. */
  owns(source: string): boolean
  /** Makes the snapshot again from what the source holds now (force: even if it seems unchanged). */
  reload(opts?: {force?: boolean}): Promise<ReloadResult>
  /** What /api/v1/sources shows of it. */
  info(): SourceInfo
}

/** However busy a file is, the folder is read at last after this long. */
const MAX_STABILITY_WAIT_MS = 30_000

function same<T>(a: T, b: T): boolean {
  return JSON.stringify(a) === JSON.stringify(b)
}

export class ManifestSource implements PodSource {
  readonly kind = 'folder' as const
  readonly dir: string
  private readonly recursive: boolean
  private readonly limits?: Partial<Limits>
  private readonly podSecurity?: PodSecurityPolicy
  private readonly strictModes: boolean
  private readonly fileCheckDelayMs: number
  private readonly verifyKeys: VerifyKey[]
  /** Since when the folder waits for its files to settle. */
  private settlingSince: number | undefined
  private fingerprintText: string | undefined
  private current: SourceSnapshot

  constructor(dir: string, opts: SourceOptions = {}) {
    this.dir = path.resolve(dir)
    this.recursive = opts.recursive ?? false
    this.limits = opts.limits
    this.podSecurity = opts.podSecurity
    this.strictModes = opts.strictModes ?? process.geteuid?.() === 0
    this.fileCheckDelayMs = opts.fileCheckDelayMs ?? 0
    this.verifyKeys = opts.verifyKeys ?? []
    this.current = {dir: this.dir, pods: [], data: () => undefined, files: new Map(), dirErrors: [], untrusted: [], generation: 0}
  }

  get snapshot(): SourceSnapshot {
    return this.current
  }

  get name(): string {
    return this.dir
  }

  info(): SourceInfo {
    const s = this.current
    return {
      kind: 'folder',
      name: this.dir,
      pods: s.pods.length,
      errors: [...manifestErrors(s).values()].flat(),
      podSecurity: this.podSecurity?.enforce ?? 'privileged',
    }
  }

  /** Whether a `podrun.io/source` value names a file inside this folder (the daemon's pods). */
  owns(source: string): boolean {
    if (!path.isAbsolute(source)) return false
    const rel = path.relative(this.dir, source)
    return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) && (this.recursive || !rel.includes(path.sep))
  }

  /**
   * A cheap summary of the folder: changes when any manifest file (or what a symlink points at)
   * does. Synchronous on purpose: a hundred stat calls take well under a millisecond on a local
   * folder, while as many thread-pool round trips would each wake the process up. With it, the
   * newest change time of a file (for --file-check-delay).
   */
  fingerprint(): {text: string; newestChangeMs: number} {
    const parts: string[] = []
    let newest = 0
    const walk = (dir: string, depth: number): void => {
      let names: string[]
      try {
        names = fs.readdirSync(dir).sort()
      } catch (e) {
        parts.push(`${dir}!${(e as NodeJS.ErrnoException).code ?? 'ERR'}`)
        return
      }
      for (const name of names) {
        const p = path.join(dir, name)
        if (name.startsWith('.')) continue
        const st = fs.statSync(p, {throwIfNoEntry: false})
        if (!st) parts.push(`${p}!ENOENT`)
        else if (st.isDirectory()) {
          if (this.recursive && depth < 32) walk(p, depth + 1)
        } else {
          parts.push(`${p}|${st.size}|${st.mtimeMs}|${st.ctimeMs}|${st.ino}`)
          newest = Math.max(newest, st.mtimeMs, st.ctimeMs)
        }
      }
    }
    // The folder's owner and mode count too (ctime above catches a file's chmod and chown).
    const own = fs.statSync(this.dir, {throwIfNoEntry: false})
    parts.push(own ? `${own.uid}|${own.mode}` : '!')
    try {
      walk(this.dir, 0)
    } catch (e) {
      parts.push(`!${(e as NodeJS.ErrnoException).code ?? 'ERR'}`)
    }
    return {text: parts.join('\n'), newestChangeMs: newest}
  }

  /** What in the folder others than root could have written: the folder and those above it, each file and the folders between. */
  private trustProblems(files: string[]): TrustProblem[] {
    const out = folderTrust(this.dir)
    const seen = new Set<string>()
    for (const f of files.map((x) => path.resolve(x))) {
      for (let d = path.dirname(f); d.startsWith(`${this.dir}/`) && !seen.has(d); d = path.dirname(d)) {
        seen.add(d)
        out.push(...fileTrust(d, this.dir).map((p) => ({...p, folder: true})))
      }
      out.push(...fileTrust(f, this.dir))
    }
    return out
  }

  /**
   * Reads the folder again (always when force; on a resync only when the fingerprint changed) and
   * computes the new desired state with the last-good rule.
   */
  async reload(opts: {force?: boolean} = {}): Promise<ReloadResult> {
    const {text: fp, newestChangeMs} = this.fingerprint()
    if (!opts.force && fp === this.fingerprintText) return {read: false, changed: false, changes: [], snapshot: this.current}
    // Only whole files: one written a moment ago may still be being written. Wait until every
    // file has been still for the delay (within a bound), then read.
    const now = Date.now()
    const unsettled = newestChangeMs + this.fileCheckDelayMs - now
    if (this.fileCheckDelayMs > 0 && unsettled > 0 && now - (this.settlingSince ??= now) < MAX_STABILITY_WAIT_MS) {
      return {read: false, changed: false, changes: [], snapshot: this.current, retryInMs: Math.ceil(unsettled) + 10}
    }
    this.settlingSince = undefined
    this.fingerprintText = fp
    const {loadDesiredState} = await import('../manifest/index.js')
    const state = await loadDesiredState([this.dir], {recursive: this.recursive, source: (f) => path.resolve(f), limits: this.limits, podSecurity: this.podSecurity, remote: {verifyKeys: this.verifyKeys}})
    const untrusted = this.strictModes ? this.trustProblems(state.files) : []
    for (const t of untrusted) {
      state.diagnostics.push({severity: 'error', file: t.folder ? this.dir : t.path, line: 0, col: 0, path: '', message: `untrusted: ${t.path} is ${t.message}; ${TRUST_HINT}`})
    }
    const r = advanceSnapshot(this.current, state, {name: this.dir, norm: (f) => path.resolve(f), untrusted: untrusted.map((t) => t.path)})
    this.current = r.snapshot
    return {read: true, ...r}
  }
}

/** What a source's read gave: objects, their files and the problems found, as the loader returns them. */
export type SourceRead = Pick<DesiredState, 'files' | 'diagnostics' | 'objects' | 'pods' | 'configMaps' | 'secrets'>

/**
 * The next snapshot of a source from what was read, with the last-good rule: a file with errors
 * keeps its last good objects (frozen), an error of the source itself (not of one file) keeps
 * everything, a file gone is gone. `name` is the source (the folder or the URL), `norm` makes a
 * file name comparable (absolute paths for a folder); a `single` source is one file named as the
 * source itself (a URL), whose errors are that file's.
 */
export function advanceSnapshot(
  prev: SourceSnapshot,
  state: SourceRead,
  o: {name: string; norm: (file: string) => string; untrusted?: string[]; single?: boolean},
): {changed: boolean; changes: FileChange[]; snapshot: SourceSnapshot} {
  const errorsOf = new Map<string, Diagnostic[]>()
  const warningsOf = new Map<string, Diagnostic[]>()
  const dirErrors: Diagnostic[] = []
  const files = new Set(state.files.map((f) => o.norm(f)))
  for (const d of state.diagnostics) {
    const f = o.norm(d.file)
    if (d.severity === 'error' && ((f === o.name && !o.single) || !files.has(f))) {
      dirErrors.push(d)
      continue
    }
    const m = d.severity === 'error' ? errorsOf : warningsOf
    m.set(f, [...(m.get(f) ?? []), d])
  }

  const next = new Map<string, FileState>()
  const changes: FileChange[] = []
  if (dirErrors.length > 0) {
    // Keep everything as it was; only the source's own problem (the folder's, the URL's) is new.
    for (const [f, s] of prev.files) next.set(f, {...s, frozen: s.frozen || s.pods.length > 0})
  } else {
    for (const f of files) {
      const errors = errorsOf.get(f) ?? []
      const warnings = warningsOf.get(f) ?? []
      const objects = state.objects.filter((x) => o.norm(x.file) === f).map((x) => `${x.kind} ${x.key}`)
      const old = prev.files.get(f)
      if (errors.length > 0) {
        const good = old ? {pods: old.pods, configMaps: old.configMaps, secrets: old.secrets} : {pods: [], configMaps: [], secrets: []}
        const frozen = good.pods.length + good.configMaps.length + good.secrets.length > 0
        next.set(f, {file: f, ...good, errors, warnings, frozen, objects})
        if (!old || !same(old.errors.map(formatDiagnostic), errors.map(formatDiagnostic))) {
          changes.push({file: f, kind: 'invalid', errors, frozen})
        }
        continue
      }
      const of = <T extends {origin: {file: string}}>(list: T[]) => list.filter((x) => o.norm(x.origin.file) === f)
      const s: FileState = {
        file: f,
        pods: of(state.pods),
        configMaps: of(state.configMaps),
        secrets: of(state.secrets),
        errors: [],
        warnings,
        frozen: false,
        objects,
      }
      next.set(f, s)
      if (!old) changes.push({file: f, kind: 'added'})
      else if (old.errors.length > 0) changes.push({file: f, kind: 'fixed'})
      else if (!same(contentOf(old), contentOf(s))) changes.push({file: f, kind: 'changed'})
    }
    for (const f of prev.files.keys()) if (!next.has(f)) changes.push({file: f, kind: 'removed'})
  }

  const all = [...next.values()]
  const pods = all.flatMap((s) => s.pods)
  const changed =
    changes.length > 0 || !same(prev.dirErrors.map(formatDiagnostic), dirErrors.map(formatDiagnostic)) || !same(pods.map(podIdentity), prev.pods.map(podIdentity))
  const snapshot: SourceSnapshot = {
    dir: o.name,
    pods,
    data: dataLookup(
      all.flatMap((s) => s.configMaps),
      all.flatMap((s) => s.secrets),
    ),
    files: next,
    dirErrors,
    untrusted: o.untrusted ?? [],
    generation: prev.generation + (changed ? 1 : 0),
  }
  return {changed, changes, snapshot}
}

function podIdentity(p: DesiredPod): string {
  return `${p.key}|${p.source}|${JSON.stringify(p.pod)}`
}

function contentOf(s: FileState): string[] {
  return [...s.pods.map(podIdentity), ...s.configMaps.map((c) => `${c.key}|${c.hash}`), ...s.secrets.map((c) => `${c.key}|${c.hash}`)]
}

/** The errors of the whole source, by file, as `file:line:col: path: message` lines. */
export function manifestErrors(s: SourceSnapshot): Map<string, string[]> {
  const out = new Map<string, string[]>()
  if (s.dirErrors.length > 0) out.set(s.dir, s.dirErrors.map(formatDiagnostic))
  for (const f of s.files.values()) if (f.errors.length > 0) out.set(f.file, f.errors.map(formatDiagnostic))
  return out
}
