// The daemon's settings, as one plain value: what the command's flags say, with the defaults of
// the issue (10 s resync, 1 s relist, crash-loop back-off 10 s doubling to 5 min, reset after
// 10 min). Checked here so that the command stays thin and tests can build options directly.
import fs from 'node:fs'
import path from 'node:path'
import {PodrunError} from '../lib/errors.js'
import type {BackoffPolicy} from '../reconcile/plan.js'
import type {LogLevel} from './log.js'
import type {PodSecurityPolicy} from '../manifest/pod-security.js'
import type {VerifyKey} from '../lib/signature.js'
import type {RemoteOptions} from '../manifest/remote.js'
import {DEFAULT_PARALLEL, DEFAULT_PARALLEL_PULLS} from '../reconcile/limits.js'

export const DEFAULT_MANIFEST_DIR = '/etc/podrun/manifests'
export const DEFAULT_STATE_DIR = '/run/podrun'
export const SOCKET_NAME = 'podrun.sock'
export const LOCK_NAME = 'daemon.pid'
export const DEFAULT_DAEMON_SOCKET = path.join(DEFAULT_STATE_DIR, SOCKET_NAME)

export interface DaemonOptions {
  /** Absolute path of the watched manifest folder; none: the daemon supervises applied pods only. */
  manifestDir?: string
  recursive: boolean
  /** Absolute path of the folder holding the lock file and the API socket. */
  stateDir: string
  /** CRI endpoint as given (undefined: the usual sockets). */
  endpoint?: string
  /** Deadline of each runtime call. */
  timeoutMs: number
  resyncMs: number
  relistMs: number
  /** Quiet time after a file event before the folder is read again. */
  debounceMs: number
  /** Crash-loop back-off; the image pull back-off uses the same initial delay and cap. */
  backoff: BackoffPolicy
  /** Runtime reconnection back-off. */
  reconnect: {initialMs: number; maxMs: number}
  /** Optional TCP listener for the API: 127.0.0.1 or ::1 only. */
  listen?: {host: string; port: number}
  logLevel: LogLevel
  /** Delete the daemon's pods on SIGTERM/SIGINT instead of leaving them running. */
  stopPodsOnExit: boolean
  /** Mutating runtime calls in flight. */
  parallel: number
  /** Image pulls in flight. */
  parallelPulls: number
  /** An edited pod not Ready within this long is rolled back to its last Ready version. */
  progressDeadlineMs: number
  /** A version is the pod's last Ready one once Ready this long. */
  minReadyMs: number
  /** Container logs are rotated past this size, and this many files kept per container. */
  logMaxBytes: number
  logMaxFiles: number
  /** How often the logs' sizes are checked. */
  logMonitorMs: number
  /** How often garbage (dead containers and sandboxes, their logs, unused images) is collected. */
  gcPeriodMs: number
  /** Unused images are removed once the image file system is this full (percent), down to the low mark. */
  imageGcHighPercent: number
  imageGcLowPercent: number
  /** An unused image is kept at least this long after it is first seen. */
  imageMinAgeMs: number
  /** The pod security level the folder's pods are held to (none: every pod runs). */
  podSecurity?: PodSecurityPolicy
  /** Read a manifest folder that others than root can write (StrictModes off). */
  insecureManifestDir: boolean
  /** A changed manifest is read once it has been still this long. */
  fileCheckDelayMs: number
  /** Each manifest must carry a valid signature (FILE.sig, URL.sig) by one of these keys. */
  verifyKeys: VerifyKey[]
  /** Manifest URLs polled for pods (beside or instead of the folder). */
  manifestUrls: string[]
  /** How the URLs are read: headers, CAs, plain http. */
  remote: Pick<RemoteOptions, 'headers' | 'caFiles' | 'allowHttp'>
  /** How often each URL is polled (when it answers). */
  urlCheckMs: number
  /** The pod security level the URLs' pods are held to (baseline by default: a server taken over cannot start a privileged pod). */
  urlPodSecurity?: PodSecurityPolicy
}

export function defaultOptions(o: Partial<DaemonOptions> = {}): DaemonOptions {
  return {
    manifestDir: o.manifestDir === undefined ? undefined : path.resolve(o.manifestDir),
    recursive: o.recursive ?? false,
    stateDir: path.resolve(o.stateDir ?? DEFAULT_STATE_DIR),
    endpoint: o.endpoint,
    timeoutMs: o.timeoutMs ?? 10_000,
    resyncMs: o.resyncMs ?? 10_000,
    relistMs: o.relistMs ?? 1_000,
    debounceMs: o.debounceMs ?? 150,
    backoff: o.backoff ?? {initialMs: 10_000, maxMs: 300_000, resetMs: 600_000},
    reconnect: o.reconnect ?? {initialMs: 500, maxMs: 10_000},
    listen: o.listen,
    logLevel: o.logLevel ?? 'info',
    stopPodsOnExit: o.stopPodsOnExit ?? false,
    parallel: o.parallel ?? DEFAULT_PARALLEL,
    parallelPulls: o.parallelPulls ?? DEFAULT_PARALLEL_PULLS,
    progressDeadlineMs: o.progressDeadlineMs ?? 600_000,
    minReadyMs: o.minReadyMs ?? 10_000,
    logMaxBytes: o.logMaxBytes ?? 10 * 1024 * 1024,
    logMaxFiles: o.logMaxFiles ?? 5,
    logMonitorMs: o.logMonitorMs ?? 10_000,
    gcPeriodMs: o.gcPeriodMs ?? 60_000,
    imageGcHighPercent: o.imageGcHighPercent ?? 85,
    imageGcLowPercent: o.imageGcLowPercent ?? 80,
    imageMinAgeMs: o.imageMinAgeMs ?? 120_000,
    podSecurity: o.podSecurity,
    insecureManifestDir: o.insecureManifestDir ?? false,
    fileCheckDelayMs: o.fileCheckDelayMs ?? 1000,
    verifyKeys: o.verifyKeys ?? [],
    manifestUrls: o.manifestUrls ?? [],
    remote: o.remote ?? {},
    urlCheckMs: o.urlCheckMs ?? 20_000,
    urlPodSecurity: o.urlPodSecurity,
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]'])

/** "127.0.0.1:9090", ":9090" (loopback implied), "[::1]:9090"; anything but loopback is refused. */
export function parseListen(text: string): {host: string; port: number} {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(text.trim())
  const port = m ? Number(m[2]) : NaN
  if (!m || !(port > 0 && port < 65536)) {
    throw new PodrunError(`invalid --listen "${text}": use 127.0.0.1:PORT`, {reason: 'Usage'})
  }
  const host = m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1]
  if (!LOOPBACK.has(host)) {
    throw new PodrunError(`--listen ${text}: the API has no authentication, so it listens on loopback only (127.0.0.1 or [::1])`, {
      reason: 'Usage',
      suggestions: ['use the unix socket, or --listen 127.0.0.1:PORT and a reverse proxy for remote scraping'],
    })
  }
  return {host: host === 'localhost' ? '127.0.0.1' : host.replace(/^\[|\]$/g, ''), port}
}

/** The unix socket of the daemon's API inside its state folder. */
export function socketPath(stateDir: string): string {
  return path.join(stateDir, SOCKET_NAME)
}

/** Manifest URLs must be http(s), plain http only when allowed, and name distinct sources. */
export function checkUrls(o: Pick<DaemonOptions, 'manifestUrls' | 'remote'>, name: (url: string) => string): void {
  const seen = new Map<string, string>()
  for (const u of o.manifestUrls) {
    let url: URL
    try {
      url = new URL(u)
    } catch {
      throw new PodrunError(`--manifest-url ${JSON.stringify(u)} is not a URL`, {reason: 'Usage'})
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PodrunError(`--manifest-url ${u}: only https (and http with --allow-http) URLs are read`, {reason: 'Usage'})
    if (url.protocol === 'http:' && !o.remote.allowHttp) {
      throw new PodrunError(`--manifest-url ${u}: plain http is refused (anyone on the way can change the manifests)`, {reason: 'Usage', suggestions: ['use https, or --allow-http']})
    }
    const n = name(u)
    if (seen.has(n)) throw new PodrunError(`--manifest-url ${u} and ${seen.get(n)} are the same source (${n}): give each URL once`, {reason: 'Usage'})
    seen.set(n, u)
  }
}

/** Folders the daemon is given must be real folders of its own, not files or kernel file systems. */
export function checkFolders(o: Pick<DaemonOptions, 'manifestDir' | 'stateDir'>): void {
  for (const [flag, dir] of [['--state-dir', o.stateDir], ['--manifest-dir', o.manifestDir]] as const) {
    if (dir === undefined) continue
    if (/^\/(proc|sys|dev)(\/|$)/.test(dir)) throw new PodrunError(`${flag} ${dir}: a kernel file system is no place for podrun's files`, {reason: 'Usage'})
    let st: fs.Stats | undefined
    try {
      st = fs.statSync(dir)
    } catch {
      st = undefined // made when needed (the state folder), or watched until it appears (the manifest folder)
    }
    if (st && !st.isDirectory()) throw new PodrunError(`${flag} ${dir} is not a folder`, {reason: 'Usage', suggestions: [flag === '--manifest-dir' ? 'give the folder that holds the manifests, not one file' : 'give a folder']})
  }
}
