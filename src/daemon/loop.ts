// The daemon's engine: triggers mark pods dirty, and each pod syncs on its own worker
// (reconcile/workers.ts), so a pod waiting out a grace period, a pull or a back-off holds up no
// other. This module only wires the parts together:
//
//   triggers   the manifest folder and apply's records (a file event, SIGHUP, a resync that finds
//              them changed): the pods of the old and new state; the runtime's changes (pleg.ts:
//              relist, resync, events): the pods that changed; a new connection: every pod; each
//              pod's own timers
//   desired    the folder's pods and the applied pods (desired.ts)
//   session    the runtime connection, reconnected with back-off (session.ts)
//   workers    one sync per pod at a time (pod-sync.ts: observe, plan, execute for that pod)
//   prober     liveness, readiness and startup probes of running containers (prober.ts); a
//              failed liveness probe has the pod's worker kill the container
//   status     what the API serves (status-manager.ts)
import {formatDiagnostic} from '../manifest/format.js'
import type {HostInfo} from '../reconcile/engine.js'
import {executeAll} from '../reconcile/execute.js'
import {execContext} from '../reconcile/engine.js'
import {limits, type Limits} from '../reconcile/limits.js'
import {observe} from '../reconcile/observe.js'
import {plan} from '../reconcile/plan.js'
import {PodWorkers} from '../reconcile/workers.js'
import type {CriClient} from '../cri/client.js'
import {ContainerState} from '../gen/runtime/v1/api.js'
import {rotateIfNeeded} from './log-rotation.js'
import {GarbageCollector} from './garbage-timer.js'
import {managedSelector} from '../reconcile/labels.js'
import {containerLogFile} from '../reconcile/sandbox-config.js'
import {logRoot} from '../lib/paths.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import type {DaemonOptions} from './options.js'
import {Pleg} from './pleg.js'
import {PodSyncer} from './pod-sync.js'
import {Prober} from './prober.js'
import {Rollouts, rolloutsRoot} from './rollouts.js'
import {desiredStateFromTexts} from '../manifest/index.js'
import {PullBackoff} from './pull-backoff.js'
import {RuntimeSession, type Connection} from './session.js'
import type {AppliedSource} from './applied-source.js'
import {DesiredSources} from './desired.js'
import {manifestErrors, type FileChange, type PodSource, type ReloadResult, type SourceInfo} from './sources.js'
import {StatusManager} from './status-manager.js'
import type {DaemonPodInfo, DaemonStatus} from './view.js'

export interface LoopDeps {
  opts: DaemonOptions
  log: Logger
  metrics: DaemonMetrics
  /** The manifest folder and URLs the daemon has, in that order (a pod two of them define is the first one's). */
  manifests: PodSource[]
  applied: AppliedSource
  host: HostInfo
  /** Opens a checked connection to the runtime (connectCri with the metrics hook). */
  connect: () => Promise<CriClient>
  /** Wall clock in ms (tests). */
  now?: () => number
  version?: string
  /** Called on every resync tick, for other periodic checks (one timer wakes the process). */
  onResyncTick?: () => void
}

/** A pod sync running longer than its grace period plus this makes /healthz fail: it is stuck. */
const STUCK_MARGIN_MS = 10 * 60_000

const iso = (ms: number) => new Date(ms).toISOString()

export class ReconcileLoop {
  private readonly opts: DaemonOptions
  private readonly log: Logger
  private readonly sources: DesiredSources
  private readonly now: () => number
  private readonly limits: Limits
  private readonly session: RuntimeSession
  private readonly pleg: Pleg
  private readonly statusManager: StatusManager
  private readonly workers: PodWorkers
  private readonly prober: Prober
  private readonly startedAt: number
  private interval: NodeJS.Timeout | undefined
  private reloadTimer: NodeJS.Timeout | undefined
  private reloadFailures = 0
  private ticking: Promise<void> | undefined
  private reloading: Promise<void> | undefined
  private reloadAgain = false
  /** Looks asked for while one ran, by kind. */
  private readonly queuedLooks = new Map<'connect' | 'relist' | 'resync' | 'event', (c: Connection) => Promise<void>>()
  private stopping = false
  private readonly reportedFirstLoad = new Set<PodSource>()
  private loaded = false
  /** The runtime has been listed since the connection was made. */
  private listed = false
  private lastSync: DaemonStatus['lastPass']
  /** Pod syncs finished (tests and benchmarks wait on it). */
  syncs = 0

  constructor(private readonly deps: LoopDeps) {
    this.opts = deps.opts
    this.log = deps.log
    this.sources = new DesiredSources(deps.manifests, deps.applied)
    this.now = deps.now ?? Date.now
    this.startedAt = this.now()
    this.limits = limits(this.opts.parallel, this.opts.parallelPulls)
    const pullBackoff = new PullBackoff(this.opts.backoff.initialMs, this.opts.backoff.maxMs, this.now)
    const keep = this.sources.owns
    this.statusManager = new StatusManager({backoff: this.opts.backoff, metrics: deps.metrics, nodeName: deps.host.nodeName, now: this.now})
    this.pleg = new Pleg({metrics: deps.metrics, log: this.log, keep, now: this.now, onChanged: (keys) => this.enqueueAll(keys)})
    this.session = new RuntimeSession({
      connect: deps.connect,
      log: this.log,
      metrics: deps.metrics,
      endpoint: this.opts.endpoint ?? '',
      reconnect: this.opts.reconnect,
      relistMs: this.opts.relistMs,
      limits: this.limits,
      pullBackoff,
      keep,
      now: this.now,
      onListing: this.pleg.observed,
      onConnected: () => this.connected(),
      onEvent: () => this.look('event', (c) => this.pleg.event(c)),
    })
    const prober = new Prober({
      cri: () => this.session.current?.cri,
      onChange: (key) => this.workers.enqueue(key),
      onFailure: (key, id, name, which, message) => {
        syncer.requestKill(key, id, name, which, message)
        this.workers.enqueue(key)
      },
      event: (key, reason, message) => this.statusManager.event(key, 'Warning', reason, message),
      now: this.now,
    })
    this.prober = prober
    const syncer = new PodSyncer({
      opts: this.opts,
      log: this.log,
      metrics: deps.metrics,
      sources: this.sources,
      session: this.session,
      status: this.statusManager,
      limits: this.limits,
      pullBackoff,
      host: deps.host,
      now: this.now,
      forget: (key) => this.workers.forget(key),
      prober,
      rollouts: new Rollouts(rolloutsRoot(), {
        deadlineMs: this.opts.progressDeadlineMs,
        minReadyMs: this.opts.minReadyMs,
        now: this.now,
        log: this.log,
        parse: (pod, source) => desiredStateFromTexts([{file: source, text: JSON.stringify(pod)}], {source: () => source}).pods[0],
      }),
    })
    this.workers = new PodWorkers({
      sync: async (key, signal) => {
        const t0 = performance.now()
        const r = await syncer.sync(key, signal)
        this.syncs++
        const durationMs = Math.round((performance.now() - t0) * 10) / 10
        this.lastSync = {at: iso(this.now()), pod: key, ok: !r.failed, durationMs, ...(r.failed ? {error: this.statusManager.get(key)?.lastError?.message} : {})}
        return r
      },
      // A failed sync is retried from 1 s, doubling to 30 s (shorter when the crash-loop back-off is).
      backoff: {initialMs: Math.min(1000, this.opts.backoff.initialMs), maxMs: Math.min(30_000, this.opts.backoff.maxMs)},
      now: this.now,
      onError: (key, e) => this.log.error('internal error in a pod sync; retrying', {pod: key, error: (e as Error).stack ?? String(e)}),
    })
  }

  // ---- life cycle ----

  /** Reads the folder, connects, then the periodic triggers. */
  start(): void {
    this.request('reload')
    this.session.start()
    // One timer for relist and resync: every wake-up of an idle process has a cost of its own.
    const period = Math.min(this.opts.relistMs, this.opts.resyncMs)
    const every = Math.max(1, Math.round(this.opts.resyncMs / period))
    let ticks = 0
    this.logTimer = setInterval(() => void this.rotateLogs(), this.opts.logMonitorMs)
    this.garbage = new GarbageCollector({cri: () => (this.stopping ? undefined : this.cri), wanted: () => this.wantedForGc(), log: this.log, metrics: this.deps.metrics}, this.opts)
    this.gcTimer = setInterval(() => void this.garbage?.collect(), this.opts.gcPeriodMs)
    this.interval = setInterval(() => {
      ticks++
      if (ticks % every === 0) {
        this.request('resync')
        this.deps.onResyncTick?.()
      } else if (!this.session.streaming) {
        // Where the runtime streams its container events, they tell of exits (the evented PLEG).
        this.look('relist', (c) => this.pleg.relist(c))
      }
    }, period)
  }

  private rotating = false
  private logTimer: NodeJS.Timeout | undefined
  private gcTimer: NodeJS.Timeout | undefined
  private garbage: GarbageCollector | undefined

  /** The daemon's pods (its folder's and the applied ones) and the images they name: garbage collection keeps them. */
  private wantedForGc(): {keys: Set<string>; images: Set<string>} {
    const keys = this.sources.keys()
    const images = new Set<string>()
    for (const key of keys) {
      const w = this.sources.wanted(key)
      for (const c of [...(w?.pod.initContainers ?? []), ...(w?.pod.containers ?? [])]) if (c.spec.image) images.add(c.spec.image)
    }
    return {keys, images}
  }

  /** Rotates the running containers' logs that grew past the size (log-rotation.ts); one pass at a time. */
  private async rotateLogs(): Promise<void> {
    const cri = this.cri
    if (!cri || this.rotating || this.stopping) return
    this.rotating = true
    try {
      const running = await cri.listContainers({labelSelector: managedSelector, state: {state: ContainerState.CONTAINER_RUNNING}})
      for (const c of running) {
        let logPath: string
        try {
          logPath = containerLogFile(logRoot(), c.labels, c.metadata?.name ?? '', c.metadata?.attempt ?? 0)
        } catch {
          continue // labels that are not plain names: not a pod of ours to touch
        }
        await rotateIfNeeded(cri, {id: c.id, logPath}, {maxBytes: this.opts.logMaxBytes, maxFiles: this.opts.logMaxFiles}).catch((e: unknown) =>
          this.deps.log.warn('could not rotate a container log', {container: c.id, file: logPath, error: (e as Error).message}),
        )
      }
    } catch (e) {
      this.deps.log.debug('log rotation skipped: could not list containers', {error: (e as Error).message})
    } finally {
      this.rotating = false
    }
  }

  /** A trigger. reload: read the folder again; resync: the folder if it changed, and the runtime. */
  request(kind: 'reload' | 'resync'): void {
    if (this.stopping) return
    if (kind === 'reload') this.reload(true)
    else {
      this.reload(false)
      this.look('resync', (c) => this.pleg.resync(c))
    }
  }

  /** Resolves when no sync, reload or relist is running or pending (tests). */
  async idle(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r))
      if (this.reloading) await this.reloading
      if (this.ticking) await this.ticking
      await this.workers.idle()
      if (!this.reloading && !this.ticking && this.queuedLooks.size === 0) return
    }
  }

  /**
   * Stops every trigger and the workers (a sync in flight is cancelled at its next step; one
   * waiting out a grace period is waited for up to the call timeout, then left to the runtime),
   * and (stopPods) deletes the daemon's pods, all at once: the longest grace period, not their sum.
   * Pods are otherwise left running: a restarted daemon adopts them.
   */
  async stop(opts: {stopPods?: boolean} = {}): Promise<void> {
    this.stopping = true
    clearInterval(this.interval)
    clearInterval(this.logTimer)
    clearInterval(this.gcTimer)
    clearTimeout(this.reloadTimer)
    this.prober.stop()
    const inFlight = this.workers.stop({abort: true})
    let bound: NodeJS.Timeout | undefined
    const waited = Promise.race([inFlight, new Promise<void>((r) => (bound = setTimeout(r, this.opts.timeoutMs)))]).finally(() => clearTimeout(bound))
    const c = this.session.current
    if (opts.stopPods && c) {
      await Promise.all([this.stopPods(c), waited])
      // A start that was in flight may have made a container after that listing: once more.
      await this.stopPods(c)
    } else {
      await waited
    }
    await this.reloading
    await this.ticking
    this.session.close()
  }

  private async stopPods(c: Connection): Promise<void> {
    try {
      const actual = await observe(c.cri)
      // The manifests' pods only: applied pods are apply's to delete.
      const actions = plan([], actual, {now: BigInt(this.now()) * 1_000_000n, prune: (a) => this.sources.sourceOf(a.source) !== undefined})
      for (const a of actions) this.log.info('stopping pod (daemon exits with --stop-pods-on-exit)', {pod: a.key})
      const ctx = execContext({cri: c.cri, host: this.deps.host, data: () => undefined, parallel: this.opts.parallel, limits: this.limits, prune: () => false})
      const results = await executeAll(actions, ctx)
      for (const r of results) if (!r.ok) this.log.error('could not stop pod', {pod: r.key, error: r.error})
    } catch (e) {
      this.log.error('could not stop the pods', {error: (e as Error).message})
    }
  }

  // ---- what the API shows ----

  /** The runtime client of the live connection, if any (for /metrics' container stats). */
  get cri(): CriClient | undefined {
    return this.session.current?.cri
  }

  get healthy(): {ok: boolean; reason?: string} {
    if (this.stopping) return {ok: false, reason: 'stopping'}
    const now = this.now()
    for (const w of this.workers.inFlight()) {
      const grace = this.sources.wanted(w.key)?.pod.terminationGracePeriodSeconds ?? 30
      const limit = grace * 1000 + this.opts.timeoutMs * 4 + STUCK_MARGIN_MS
      if (now - w.since > limit) return {ok: false, reason: `the sync of pod ${w.key} has been running for ${Math.round((now - w.since) / 1000)}s`}
    }
    return {ok: true}
  }

  get readiness(): {ok: boolean; reason?: string} {
    if (this.stopping) return {ok: false, reason: 'stopping'}
    const rt = this.session.info
    if (!rt.up) return {ok: false, reason: `runtime unavailable${rt.error ? `: ${rt.error}` : ''}`}
    if (!this.loaded) return {ok: false, reason: 'manifests not read yet'}
    if (!this.listed) return {ok: false, reason: 'runtime not listed yet'}
    return {ok: true}
  }

  status(): DaemonStatus {
    const r = this.readiness
    return {
      pid: process.pid,
      version: this.deps.version ?? '',
      manifestDir: this.opts.manifestDir,
      startedAt: iso(this.startedAt),
      runtime: {...this.session.info},
      lastPass: this.lastSync,
      ready: r.ok,
      notReadyReason: r.reason,
      manifestErrors: Object.fromEntries([...this.manifestErrors(), ...this.sources.duplicates()]),
      backoff: {...this.opts.backoff},
    }
  }

  pods(): DaemonPodInfo[] {
    return this.statusManager.pods()
  }

  /** Every manifest source's errors, by file (or URL). */
  private manifestErrors(): Array<[string, string[]]> {
    return this.deps.manifests.flatMap((m) => [...manifestErrors(m.snapshot)])
  }

  /** Each manifest source: what it holds, its errors, and for a URL its fetches. */
  sourceList(): SourceInfo[] {
    return this.deps.manifests.map((m) => m.info())
  }

  // ---- triggers ----

  private enqueueAll(keys: Iterable<string>, opts: {cancel?: boolean} = {}): void {
    for (const k of keys) this.workers.enqueue(k, opts)
  }

  /** Every pod the daemon knows of: its folder's, the runtime's as last listed, the view's. */
  private knownKeys(): Set<string> {
    return new Set([...this.sources.keys(), ...this.pods().map((p) => p.key)])
  }

  /** A new connection: everything may have changed while there was none. */
  private connected(): void {
    this.pleg.reset()
    this.listed = false
    if (this.stopping) return
    // The first listing tells the pleg of every pod the runtime has; the folder's pods sync too.
    this.enqueueAll(this.knownKeys())
    this.look('connect', async (c) => {
      await c.listing.newerThan(this.now())
      if (c === this.session.current) this.listed = true
    })
  }

  /**
   * Runs a look at the runtime, one at a time; a transport failure drops the connection. A look
   * asked for while another runs waits behind it, one per kind (a relist coming again meanwhile is
   * the same relist; a resync or the first listing of a connection is not).
   */
  private look(kind: 'connect' | 'relist' | 'resync' | 'event', fn: (c: Connection) => Promise<void>): void {
    if (this.stopping) return
    if (this.ticking) {
      this.queuedLooks.set(kind, fn)
      return
    }
    const c = this.session.current
    if (!c) return
    this.ticking = fn(c)
      .catch((e: unknown) => {
        if (!this.session.failed(c, e)) this.log.warn('could not list the runtime\'s pods', {error: (e as Error).message})
      })
      .finally(() => {
        this.ticking = undefined
        const next = this.queuedLooks.entries().next().value
        if (next) {
          this.queuedLooks.delete(next[0])
          this.look(next[0], next[1])
        }
      })
  }

  /** Reads the folder (force: even when its fingerprint is unchanged); its changed pods sync. */
  private reload(force: boolean): void {
    if (this.reloading) {
      if (force) this.reloadAgain = true
      return
    }
    this.reloading = this.reloadOnce(force).finally(() => {
      this.reloading = undefined
      if (this.reloadAgain && !this.stopping) {
        this.reloadAgain = false
        this.reload(true)
      }
    })
  }

  private async reloadOnce(force: boolean): Promise<void> {
    const before = this.sources.keys()
    const changed: string[] = []
    try {
      changed.push(...(await this.deps.applied.reload({force})))
    } catch (e) {
      this.log.error('could not read the records of applied pods', {dir: this.deps.applied.dir, error: (e as Error).message})
    }
    let failed = false
    for (const m of this.deps.manifests) {
      let r: ReloadResult
      try {
        r = await m.reload({force})
      } catch (e) {
        failed = true
        this.log.error(`could not read the manifest ${m.kind === 'folder' ? 'folder' : 'URL'}`, {source: m.name, error: (e as Error).message})
        this.reloadFailures++
        clearTimeout(this.reloadTimer)
        this.reloadTimer = setTimeout(() => this.request('reload'), Math.min(1000 * 2 ** (this.reloadFailures - 1), 30_000))
        continue
      }
      if (r.retryInMs !== undefined) {
        clearTimeout(this.reloadTimer)
        this.reloadTimer = setTimeout(() => this.request('reload'), r.retryInMs)
      }
      if (r.read) this.reportSource(m, r)
      // Every pod of the source, and those the view shows (errors and conflicts change too).
      if (r.changed) changed.push(...r.snapshot.pods.map((p) => p.key), ...this.pods().map((p) => p.key))
    }
    if (!failed) this.reloadFailures = 0
    this.loaded = true
    if (changed.length === 0) return
    const after = this.sources.keys()
    // A removed pod cancels its sync in flight (a start is finished, then undone).
    this.enqueueAll([...before].filter((k) => !after.has(k)), {cancel: true})
    this.enqueueAll(new Set(changed.filter((k) => after.has(k))))
  }

  private reportSource(m: PodSource, r: ReloadResult): void {
    const snap = r.snapshot
    const errs = manifestErrors(snap)
    this.deps.metrics.manifestErrors.reset(this.manifestErrors().map(([file, list]) => ({labels: {file}, value: list.length})))
    this.deps.metrics.untrusted.reset(this.deps.manifests.flatMap((x) => x.snapshot.untrusted).map((p) => ({labels: {path: p}, value: 1})))
    if (snap.dirErrors.length > 0 && r.changed) {
      const why = snap.untrusted.length > 0 ? 'the manifest folder is not trusted' : m.kind === 'folder' ? 'cannot read the manifest folder' : 'no manifests from the URL yet'
      this.log.error(`${why}: keeping every pod as it is`, {source: snap.dir, errors: errs.get(snap.dir)})
    }
    if (this.reportedFirstLoad.has(m)) {
      for (const c of r.changes) this.reportChange(m, c)
      return
    }
    // The first read: one line for the source, then only what is wrong.
    this.reportedFirstLoad.add(m)
    if (m.kind === 'folder') this.log.info('read the manifest folder', {dir: snap.dir, files: snap.files.size, pods: snap.pods.length, invalidFiles: errs.size})
    else this.log.info('read the manifest URL', {url: snap.dir, pods: snap.pods.length, fromCache: m.info().fromCache})
    for (const c of r.changes) if (c.kind === 'invalid') this.reportChange(m, c)
  }

  private reportChange(m: PodSource, c: FileChange): void {
    const file = m.snapshot.files.get(c.file)
    const keys = file ? [...new Set([...file.pods.map((p) => p.key), ...file.objects.filter((o) => o.startsWith('Pod ')).map((o) => o.slice(4))])] : []
    if (c.kind === 'invalid' && c.errors.some((d) => d.code === 'unsigned')) {
      // Unsigned, tampered or signed by a key not given: refused whole, nothing of it changes.
      const why = c.errors.find((d) => d.code === 'unsigned')!.message
      this.deps.metrics.unverified.inc({source: c.file})
      this.log.warn(`manifest refused: ${c.frozen ? 'its pods keep running from the last verified version' : 'nothing of it is applied'}`, {file: c.file, error: why})
      for (const k of keys) this.statusManager.event(k, 'Warning', 'ManifestUnverified', `${c.file}: ${why}`)
    } else if (c.kind === 'invalid') {
      const lines = c.errors.map(formatDiagnostic)
      this.log.warn(c.frozen ? 'manifest invalid: its pods keep running from the last good version' : 'manifest invalid: nothing of it is applied', {
        file: c.file,
        errors: lines,
      })
      for (const k of keys) this.statusManager.event(k, 'Warning', 'ManifestInvalid', `${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`)
    } else if (c.kind === 'fixed') {
      this.log.info('manifest valid again', {file: c.file})
      for (const k of keys) this.statusManager.event(k, 'Normal', 'ManifestValid', `${c.file} is valid again`)
    } else {
      this.log.info(`manifest ${c.kind}`, {file: c.file})
    }
  }
}
