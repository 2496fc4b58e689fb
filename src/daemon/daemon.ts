// `podrun daemon` as a library: the lock, the manifest sources (the folder and its watcher, the URLs), the reconcile loop,
// the API, and an orderly stop. The command only parses flags, calls runDaemon and waits.
//
// Start-up order matters on a device that boots: the lock first (refuse a second daemon before
// touching anything), then the API (so /healthz answers while the runtime is not up yet), then
// the loop, which reads the folder before its first pass and keeps trying to reach the runtime.
import {readFileSync} from 'node:fs'
import type {CriClient} from '../cri/client.js'
import {hostInfo, type HostInfo} from '../reconcile/engine.js'
import {ApiServer} from './api.js'
import {acquireLock, type Lock} from './lock.js'
import {createLogger, type Logger} from './log.js'
import {ReconcileLoop} from './loop.js'
import {DaemonMetrics} from './metrics.js'
import {socketPath, type DaemonOptions} from './options.js'
import {ManifestSource} from './sources.js'
import {UrlSource} from './url-source.js'
import {AppliedSource} from './applied-source.js'
import {ensureAppliedRoot} from '../reconcile/applied-store.js'
import {DirWatcher} from './watch.js'

export interface DaemonHandle {
  loop: ReconcileLoop
  api: ApiServer
  metrics: DaemonMetrics
  folder?: ManifestSource
  urls: UrlSource[]
  applied: AppliedSource
  log: Logger
  /** Finishes the current step, stops watching, closes the API, releases the lock. */
  stop(opts?: {stopPods?: boolean}): Promise<void>
}

export interface RunDeps {
  log?: Logger
  /** Replaces connectCri (tests). */
  connect?: (onCall: (method: string, code: string, ms: number) => void) => Promise<CriClient>
  host?: HostInfo
  now?: () => number
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {version: string}).version
  } catch {
    return ''
  }
}

export async function runDaemon(opts: DaemonOptions, deps: RunDeps = {}): Promise<DaemonHandle> {
  const log = deps.log ?? createLogger({level: opts.logLevel})
  const lock: Lock = await acquireLock(opts.stateDir)
  let api: ApiServer | undefined
  const watchers: DirWatcher[] = []
  try {
    const metrics = new DaemonMetrics()
    const folder = opts.manifestDir !== undefined ? new ManifestSource(opts.manifestDir, {recursive: opts.recursive, podSecurity: opts.podSecurity, strictModes: !opts.insecureManifestDir && process.geteuid?.() === 0, fileCheckDelayMs: opts.fileCheckDelayMs, verifyKeys: opts.verifyKeys}) : undefined
    // Each URL starts from its cached copy, if it has one: pods come up with the server down.
    const urls = opts.manifestUrls.map(
      (url) => new UrlSource(url, {remote: {...opts.remote, verifyKeys: opts.verifyKeys}, checkPeriodMs: opts.urlCheckMs, podSecurity: opts.urlPodSecurity, log}),
    )
    const applied = new AppliedSource(ensureAppliedRoot(), log)
    const connect =
      deps.connect !== undefined
        ? () => deps.connect!(metrics.onCall)
        : async () => {
            const {connectCri} = await import('../cri/client.js')
            return connectCri({endpoint: opts.endpoint, timeoutMs: opts.timeoutMs, onCall: metrics.onCall})
          }
    // The folder watch is checked on the loop's resync ticks: a timer of its own would wake the
    // process once more every period.
    const rearmWatch = () => {
      for (const w of watchers) {
        w.rearmIfNeeded()
          .then((did) => did && log.info('folder replaced or created: watching it again', {dir: w.dir}))
          .catch(() => undefined)
      }
    }
    const loop = new ReconcileLoop({
      opts,
      log,
      metrics,
      manifests: [...(folder ? [folder] : []), ...urls],
      applied,
      host: deps.host ?? (await hostInfo()),
      connect,
      now: deps.now,
      version: version(),
      onResyncTick: rearmWatch,
    })
    api = new ApiServer(
      {
        healthy: () => loop.healthy,
        ready: () => loop.readiness,
        // Container stats are read from the runtime when scraped (one ListContainerStats), never kept.
        metrics: async () => {
          const cri = loop.cri
          if (cri) {
            const {sampleUsage} = await import('../reconcile/pod-usage.js')
            await sampleUsage(cri).then((u) => metrics.setContainerUsage(u), () => metrics.setContainerUsage([]))
          }
          metrics.setSources(loop.sourceList(), loop.pods())
          return metrics.render()
        },
        pods: () => loop.pods(),
        status: () => loop.status(),
        sources: () => loop.sourceList(),
      },
      {socketPath: socketPath(opts.stateDir), listen: opts.listen},
    )
    await api.start()
    log.info('podrun daemon starting', {
      pid: process.pid,
      manifestDir: opts.manifestDir ?? (urls.length > 0 ? '(none)' : '(none: applied pods only)'),
      ...(urls.length > 0 ? {manifestUrls: urls.map((u) => u.name), urlCheck: `${opts.urlCheckMs}ms`} : {}),
      applied: applied.dir,
      stateDir: opts.stateDir,
      api: socketPath(opts.stateDir) + (opts.listen ? ` and http://${opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host}:${api.port}` : ''),
      relist: `${opts.relistMs}ms`,
      resync: `${opts.resyncMs}ms`,
    })
    // The manifest folder and apply's records: a change only asks for them to be read again.
    for (const [dir, what, recursive] of [
      ...(opts.manifestDir !== undefined ? [[opts.manifestDir, 'manifest folder', opts.recursive] as const] : []),
      [applied.dir, 'records of applied pods', false] as const,
    ]) {
      const w = new DirWatcher(dir, {
        recursive,
        debounceMs: opts.debounceMs,
        log,
        onChange: (why) => {
          log.debug(`${what} changed`, {event: why})
          loop.request('reload')
        },
      })
      watchers.push(w)
      await w.start()
    }
    loop.start()
    for (const u of urls) u.start(() => loop.request('reload'))

    let stopped: Promise<void> | undefined
    const handle: DaemonHandle = {
      loop,
      api,
      metrics,
      folder,
      urls,
      applied,
      log,
      stop(o = {}) {
        stopped ??= (async () => {
          for (const w of watchers) await w.close()
          for (const u of urls) await u.stop()
          await loop.stop({stopPods: o.stopPods ?? opts.stopPodsOnExit})
          await api!.close()
          lock.release()
          log.info('podrun daemon stopped', {podsLeftRunning: !(o.stopPods ?? opts.stopPodsOnExit)})
        })()
        return stopped
      },
    }
    return handle
  } catch (e) {
    for (const w of watchers) await w.close().catch(() => undefined)
    await api?.close().catch(() => undefined)
    lock.release()
    throw e
  }
}
