// The daemon's reconcile loop: one pass at a time, forever. Triggers only ask for a pass (they
// carry no data); a pass reads everything it needs (controller-runtime's contract):
//
//   reload   a file event (debounced) or SIGHUP: read the manifest folder again, then a full pass
//   resync   every --resync-period: read the folder if its fingerprint changed; list the ids and
//            states of everything podrun runs; a full pass when either differs from what the last
//            full pass saw, and every 6th resync regardless (once a minute by default)
//   relist   every --relist-period: list the daemon's EXITED containers (a handful, one call); a
//            full pass when they changed: a container exited
//   event    a GetContainerEvents event, where the runtime streams them: a full pass at once
//   timer    the planner's requeueAfterMs (crash-loop back-off ends), an image pull back-off
//            ending, a retry after failures, a look after changes, a reconnection attempt
//
// A full pass = observe -> plan (pure) -> execute, with the daemon's scope: it prunes only pods
// whose source is a file of its folder, leaves pods of other owners alone (a conflict), and never
// prunes the pods of a file that is broken. The runtime going away is not an error of the daemon:
// it is reported, the client is dropped and a new connection is tried with back-off.
import type {CriClient} from '../cri/client.js'
import {isTransient, isUnimplemented} from '../cri/errors.js'
import {formatDiagnostic} from '../manifest/format.js'
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import {execContext, type HostInfo} from '../reconcile/engine.js'
import {executeAll} from '../reconcile/execute.js'
import {limits, type Limits} from '../reconcile/limits.js'
import {observe} from '../reconcile/observe.js'
import {describe as describeActions, isNoop, plan, type PodActions} from '../reconcile/plan.js'
import {podFromRuntime, statusReason} from '../reconcile/status.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import type {DaemonOptions} from './options.js'
import {PullBackoff} from './pull-backoff.js'
import {fullStateOfPods, Relister, sameState, stateOfPods, type RuntimeState} from './relist.js'
import {manifestErrors, type FileChange, type ManifestSource, type ReloadResult} from './sources.js'
import {EventRing, statusOverrides, type DaemonEvent, type DaemonPodInfo, type DaemonStatus, type WaitingInfo} from './view.js'

export interface LoopDeps {
  opts: DaemonOptions
  log: Logger
  metrics: DaemonMetrics
  source: ManifestSource
  host: HostInfo
  /** Opens a checked connection to the runtime (connectCri with the metrics hook). */
  connect: () => Promise<CriClient>
  /** Wall clock in ms (tests). */
  now?: () => number
  version?: string
  /** Called on every resync tick, for other periodic checks (one timer wakes the process). */
  onResyncTick?: () => void
}

interface Wants {
  reload: boolean
  resync: boolean
  relist: boolean
  full: boolean
}

const none = (): Wants => ({reload: false, resync: false, relist: false, full: false})

interface PodRecord {
  events: EventRing
  lastError?: {time: string; reason: string; message: string}
  waiting: Record<string, WaitingInfo>
  conflictLogged?: string
  backoffSeen: Map<string, string>
}

/** A resync that finds nothing changed still makes a full pass every this many times (1 min by default). */
const FULL_EVERY = 6

/** A pass that runs longer than this makes /healthz fail: the loop is stuck. */
const STUCK_MS = 10 * 60_000

const iso = (ms: number) => new Date(ms).toISOString()

export class ReconcileLoop {
  private readonly opts: DaemonOptions
  private readonly log: Logger
  private readonly metrics: DaemonMetrics
  private readonly source: ManifestSource
  private readonly now: () => number
  private readonly pullBackoff: PullBackoff
  private readonly limits: Limits

  private cri: CriClient | undefined
  private relister: Relister | undefined
  private cancelEvents: (() => void) | undefined
  private wants: Wants = none()
  private running: Promise<void> | undefined
  private passStartedAt: number | undefined
  private stopping = false
  private loaded = false
  private intervals: NodeJS.Timeout[] = []
  private requeueTimer: NodeJS.Timeout | undefined
  private requeueAt = Infinity
  private reconnectTimer: NodeJS.Timeout | undefined
  private reconnectDelay: number
  private nextConnectAt = 0
  private failStreak = 0
  private resyncs = 0
  private lastState: RuntimeState | undefined
  /** What the view was last built from; unchanged: no rebuild. */
  private viewKey = ''
  private viewState: RuntimeState | undefined
  private viewDirty = true
  private unimplementedLogged = false
  private reportedFirstLoad = false

  private readonly records = new Map<string, PodRecord>()
  private infos: DaemonPodInfo[] = []
  private readonly startedAt: number
  private runtime: DaemonStatus['runtime']
  private lastPass: DaemonStatus['lastPass']
  /** Full passes run (tests and benchmarks wait on it). */
  passes = 0

  constructor(private readonly deps: LoopDeps) {
    this.opts = deps.opts
    this.log = deps.log
    this.metrics = deps.metrics
    this.source = deps.source
    this.now = deps.now ?? Date.now
    this.pullBackoff = new PullBackoff(this.opts.backoff.initialMs, this.opts.backoff.maxMs, this.now)
    this.limits = limits(this.opts.parallel, this.opts.parallelPulls)
    this.reconnectDelay = this.opts.reconnect.initialMs
    this.startedAt = this.now()
    this.runtime = {up: false, endpoint: this.opts.endpoint ?? '', since: iso(this.startedAt), events: 'unknown'}
  }

  // ---- life cycle ----

  /** First pass (read the folder, connect, converge), then the periodic triggers. */
  start(): void {
    this.request('reload')
    // One timer for both: every wake-up of an idle process has a cost of its own. (A resync also
    // sees what a relist would.)
    const period = Math.min(this.opts.relistMs, this.opts.resyncMs)
    const every = Math.max(1, Math.round(this.opts.resyncMs / period))
    let ticks = 0
    this.intervals.push(
      setInterval(() => {
        ticks++
        if (ticks % every === 0) {
          this.request('resync')
          this.deps.onResyncTick?.()
        } else this.relistTick()
      }, period),
    )
  }

  /** The relist on its own, straight from the timer when nothing else is going on (the common case). */
  private relistTick(): void {
    const w = this.wants
    const cri = this.cri
    const relister = this.relister
    if (this.stopping) return
    if (this.running || !cri || !relister || this.pending || !this.loaded) {
      this.request('relist')
      return
    }
    this.running = this.relistOnce(cri, relister)
      .then((changed) => {
        if (changed) this.wants.full = true
      })
      .catch((e: unknown) => this.log.error('internal error in a relist', {error: (e as Error).stack ?? String(e)}))
      .finally(this.ran)
  }

  /** Something asked for work that has not run yet. */
  private get pending(): boolean {
    const w = this.wants
    return w.reload || w.resync || w.relist || w.full
  }

  /** After a relist or a drain: run again if work came in meanwhile. */
  private readonly ran = (): void => {
    this.running = undefined
    if (!this.stopping && this.pending) this.kick()
  }

  /** Lists the exited containers; true when they differ from what the last full pass saw. */
  private async relistOnce(cri: CriClient, relister: Relister): Promise<boolean> {
    let st: RuntimeState
    try {
      st = await relister.state()
    } catch (e) {
      this.callFailed(cri, e)
      return false
    }
    if (sameState(this.lastState, st)) {
      this.metrics.relists.inc({outcome: 'unchanged'})
      return false
    }
    this.metrics.relists.inc({outcome: 'changed'})
    this.log.debug('relist: a container exited')
    return true
  }

  /** Asks for work; never waits. */
  request(kind: 'reload' | 'resync' | 'relist' | 'full' | 'event'): void {
    if (this.stopping) return
    if (kind === 'event') this.wants.full = true
    else this.wants[kind] = true
    this.kick()
  }

  /** Resolves when no pass runs and none is wanted (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running
  }

  /**
   * Finishes the current step, stops every trigger, and (stopPods) deletes the daemon's pods.
   * Pods are otherwise left running: a restarted daemon adopts them.
   */
  async stop(opts: {stopPods?: boolean} = {}): Promise<void> {
    this.stopping = true
    for (const t of this.intervals) clearInterval(t)
    this.intervals = []
    clearTimeout(this.requeueTimer)
    clearTimeout(this.reconnectTimer)
    this.cancelEvents?.()
    this.cancelEvents = undefined
    await this.idle()
    if (opts.stopPods && this.cri) {
      try {
        const actual = await observe(this.cri)
        const actions = plan([], actual, {now: this.nowNs(), prune: (a) => this.source.owns(a.source)})
        for (const a of actions) this.log.info('stopping pod (daemon exits with --stop-pods-on-exit)', {pod: a.key})
        const results = await executeAll(actions, this.context(this.cri))
        for (const r of results) if (!r.ok) this.log.error('could not stop pod', {pod: r.key, error: r.error})
      } catch (e) {
        this.log.error('could not stop the pods', {error: (e as Error).message})
      }
    }
    this.cri?.close()
    this.cri = undefined
    this.relister = undefined
  }

  // ---- what the API shows ----

  get healthy(): {ok: boolean; reason?: string} {
    if (this.stopping) return {ok: false, reason: 'stopping'}
    if (this.passStartedAt !== undefined && this.now() - this.passStartedAt > STUCK_MS) {
      return {ok: false, reason: `a pass has been running for ${Math.round((this.now() - this.passStartedAt) / 1000)}s`}
    }
    return {ok: true}
  }

  get readiness(): {ok: boolean; reason?: string} {
    if (this.stopping) return {ok: false, reason: 'stopping'}
    if (!this.runtime.up) return {ok: false, reason: `runtime unavailable${this.runtime.error ? `: ${this.runtime.error}` : ''}`}
    if (!this.lastPass) return {ok: false, reason: 'no reconcile pass yet'}
    if (!this.lastPass.ok) return {ok: false, reason: `last pass failed: ${this.lastPass.error ?? 'unknown error'}`}
    return {ok: true}
  }

  status(): DaemonStatus {
    const r = this.readiness
    return {
      pid: process.pid,
      version: this.deps.version ?? '',
      manifestDir: this.opts.manifestDir,
      startedAt: iso(this.startedAt),
      runtime: {...this.runtime},
      lastPass: this.lastPass,
      ready: r.ok,
      notReadyReason: r.reason,
      manifestErrors: Object.fromEntries(manifestErrors(this.source.snapshot)),
      backoff: {...this.opts.backoff},
    }
  }

  pods(): DaemonPodInfo[] {
    return this.infos
  }

  // ---- the loop ----

  private kick(): void {
    if (this.running || this.stopping) return
    this.running = this.drain().finally(this.ran)
  }

  private async drain(): Promise<void> {
    // Let triggers that arrive together (a burst of events) make one pass.
    await new Promise((r) => setImmediate(r))
    while (!this.stopping) {
      if (!this.pending) return
      const w = this.wants
      this.wants = none()
      try {
        await this.step(w)
      } catch (e) {
        this.log.error('internal error in the reconcile loop; retrying', {error: (e as Error).stack ?? String(e)})
        this.scheduleRequeue(this.nextFailureDelay())
      }
    }
  }

  private async step(w: Wants): Promise<void> {
    let full = w.full
    if (w.reload || w.resync || !this.loaded) {
      let r: ReloadResult
      try {
        r = await this.source.reload({force: w.reload || !this.loaded})
      } catch (e) {
        this.log.error('could not read the manifest folder', {dir: this.opts.manifestDir, error: (e as Error).message})
        this.scheduleRequeue(this.nextFailureDelay(), true)
        return
      }
      if (!this.loaded) full = true
      this.loaded = true
      if (r.read) this.reportSource(r)
      if (r.changed) full = true
    }
    if (!this.cri) {
      if (this.now() < this.nextConnectAt) return
      await this.connect()
      if (!this.cri) return
      full = true
    }
    const cri: CriClient = this.cri
    if (!full && w.resync) {
      // The resync: everything podrun runs, ids and states only; a full pass when anything differs
      // from what the last one saw, and every FULL_EVERY resyncs regardless.
      this.resyncs++
      let st: RuntimeState
      try {
        st = await this.relister!.all()
      } catch (e) {
        this.callFailed(cri, e)
        return
      }
      if (!sameState(this.viewState, st) || this.resyncs % FULL_EVERY === 0) full = true
      else {
        this.metrics.relists.inc({outcome: 'unchanged'})
        return
      }
    }
    if (!full && !(await this.relistOnce(cri, this.relister!))) return
    await this.fullPass(cri)
  }

  // ---- the runtime connection ----

  private async connect(): Promise<void> {
    let cri: CriClient
    try {
      cri = await this.deps.connect()
    } catch (e) {
      this.runtimeDown(e)
      return
    }
    if (this.stopping) {
      cri.close()
      return
    }
    this.cri = cri
    this.relister = new Relister(cri, (source) => this.source.owns(source))
    this.reconnectDelay = this.opts.reconnect.initialMs
    const wasDown = this.runtime.error !== undefined
    this.runtime = {up: true, endpoint: cri.endpoint, name: cri.runtimeName, version: cri.runtimeVersion, since: iso(this.now()), events: 'unknown'}
    this.metrics.runtimeUp.set({}, 1)
    this.log.info(wasDown ? 'runtime available again' : 'connected to the runtime', {endpoint: cri.endpoint, runtime: `${cri.runtimeName} ${cri.runtimeVersion}`})
    this.lastState = undefined
    this.subscribe(cri)
  }

  private subscribe(cri: CriClient): void {
    this.runtime.events = 'streaming'
    this.cancelEvents = cri.getContainerEvents(
      () => this.request('event'),
      (err) => {
        if (cri !== this.cri) return
        this.cancelEvents = undefined
        this.runtime.events = 'relisting'
        if (err && isUnimplemented(err)) {
          if (!this.unimplementedLogged) {
            this.log.info(`the runtime has no container event stream (GetContainerEvents is UNIMPLEMENTED): relisting every ${this.opts.relistMs}ms`)
          }
          this.unimplementedLogged = true
        } else if (!this.stopping) {
          this.log.debug('container event stream ended; relisting', {error: err?.message})
        }
      },
    )
  }

  /** A call failed: the runtime is gone when it was a transport failure, else the pass failed. */
  private callFailed(cri: CriClient, e: unknown): void {
    if (isTransient(e)) {
      if (cri === this.cri) {
        this.cancelEvents?.()
        this.cancelEvents = undefined
        this.cri = undefined
        cri.close()
        this.relister = undefined
      }
      this.runtimeDown(e)
    } else {
      this.passFailed(e)
    }
  }

  private runtimeDown(e: unknown): void {
    const message = (e as Error).message
    if (this.runtime.up || this.runtime.error === undefined) {
      this.log.warn('runtime unavailable: retrying with back-off (pods keep running)', {error: message})
      this.runtime = {...this.runtime, up: false, since: iso(this.now()), error: message, events: 'unknown'}
    } else {
      this.runtime.error = message
      this.log.debug('runtime still unavailable', {error: message, retryInMs: this.reconnectDelay})
    }
    this.metrics.runtimeUp.set({}, 0)
    const delay = this.reconnectDelay
    this.reconnectDelay = Math.min(this.reconnectDelay * 2, this.opts.reconnect.maxMs)
    this.nextConnectAt = this.now() + delay
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = setTimeout(() => this.request('full'), delay)
  }

  private passFailed(e: unknown): void {
    const message = (e as Error).message
    this.lastPass = {at: iso(this.now()), ok: false, durationMs: 0, error: message}
    this.metrics.passes.inc({result: 'error'})
    this.log.error('reconcile pass failed; retrying', {error: message})
    this.scheduleRequeue(this.nextFailureDelay())
  }

  private nextFailureDelay(): number {
    this.failStreak++
    return Math.min(1000 * 2 ** (this.failStreak - 1), 30_000)
  }

  private scheduleRequeue(delayMs: number, reload = false): void {
    if (this.stopping) return
    if (reload) {
      setTimeout(() => this.request('reload'), delayMs)
      return
    }
    const at = this.now() + Math.max(1, delayMs)
    if (this.requeueTimer && at >= this.requeueAt) return
    clearTimeout(this.requeueTimer)
    this.requeueAt = at
    this.requeueTimer = setTimeout(() => {
      this.requeueTimer = undefined
      this.requeueAt = Infinity
      this.request('full')
    }, Math.max(1, delayMs))
  }

  private nowNs(): bigint {
    return BigInt(this.now()) * 1_000_000n
  }

  private context(cri: CriClient) {
    return execContext({
      cri,
      host: this.deps.host,
      data: this.source.snapshot.data,
      parallel: this.opts.parallel,
      limits: this.limits,
      prune: () => false,
      puller: this.pullBackoff.puller(cri, this.limits.pulls),
    })
  }

  private record(key: string): PodRecord {
    let r = this.records.get(key)
    if (!r) {
      r = {events: new EventRing(20), waiting: {}, backoffSeen: new Map()}
      this.records.set(key, r)
    }
    return r
  }

  private event(key: string, type: DaemonEvent['type'], reason: string, message: string): void {
    this.record(key).events.add({time: iso(this.now()), type, reason, message})
    this.viewDirty = true
  }

  // ---- manifests ----

  private reportSource(r: ReloadResult): void {
    const snap = r.snapshot
    const errs = manifestErrors(snap)
    this.metrics.manifestErrors.reset([...errs].map(([file, list]) => ({labels: {file}, value: list.length})))
    if (snap.dirErrors.length > 0 && r.changed) {
      this.log.error('cannot read the manifest folder: keeping every pod as it is', {dir: snap.dir, errors: errs.get(snap.dir)})
    }
    if (this.reportedFirstLoad) {
      for (const c of r.changes) this.reportChange(c)
      return
    }
    // The first read: one line for the folder, then only what is wrong.
    this.reportedFirstLoad = true
    this.log.info('read the manifest folder', {dir: snap.dir, files: snap.files.size, pods: snap.pods.length, invalidFiles: errs.size})
    for (const c of r.changes) if (c.kind === 'invalid') this.reportChange(c)
  }

  private reportChange(c: FileChange): void {
    const file = this.source.snapshot.files.get(c.file)
    const keys = file ? [...new Set([...file.pods.map((p) => p.key), ...file.objects.filter((o) => o.startsWith('Pod ')).map((o) => o.slice(4))])] : []
    if (c.kind === 'invalid') {
      const lines = c.errors.map(formatDiagnostic)
      this.log.warn(c.frozen ? 'manifest invalid: its pods keep running from the last good version' : 'manifest invalid: nothing of it is applied', {
        file: c.file,
        errors: lines,
      })
      for (const k of keys) this.event(k, 'Warning', 'ManifestInvalid', `${lines[0]}${lines.length > 1 ? ` (and ${lines.length - 1} more)` : ''}`)
    } else if (c.kind === 'fixed') {
      this.log.info('manifest valid again', {file: c.file})
      for (const k of keys) this.event(k, 'Normal', 'ManifestValid', `${c.file} is valid again`)
    } else {
      this.log.info(`manifest ${c.kind}`, {file: c.file})
    }
  }

  // ---- one full pass ----

  private async fullPass(cri: CriClient): Promise<void> {
    const t0 = performance.now()
    this.passStartedAt = this.now()
    try {
      await this.fullPassInner(cri, t0)
    } finally {
      this.passStartedAt = undefined
    }
  }

  private async fullPassInner(cri: CriClient, t0: number): Promise<void> {
    const snap = this.source.snapshot
    let actual: ActualPod[]
    try {
      actual = await observe(cri)
    } catch (e) {
      this.callFailed(cri, e)
      return
    }
    this.lastState = stateOfPods(actual, (source) => this.source.owns(source))
    const now = this.now()
    const byKey = new Map(actual.map((a) => [a.key, a]))

    // Ownership: the daemon's pods are those whose source is a file of its folder.
    const owned = (a: ActualPod) => this.source.owns(a.source)
    const conflicts = new Map<string, string>()
    const desired: DesiredPod[] = []
    for (const d of snap.pods) {
      const a = byKey.get(d.key)
      if (a && a.source !== d.source && !owned(a)) conflicts.set(d.key, a.source || '(no source label)')
      else desired.push(d)
    }
    // Files that are broken and were never good in this daemon's life (it restarted meanwhile):
    // their pods run from a version only the runtime knows; leave them alone rather than prune.
    const untouchable = new Set([...snap.files.values()].filter((f) => f.errors.length > 0 && !f.frozen).map((f) => f.file))
    const frozenAll = snap.dirErrors.length > 0
    const prune = (a: ActualPod) => owned(a) && !untouchable.has(a.source) && !frozenAll

    const actions = plan(desired, actual, {now: BigInt(now) * 1_000_000n, prune, backoff: this.opts.backoff})
    const work = actions.filter((a) => !isNoop(a))
    for (const a of work) this.log.info(describeActions(a), {pod: a.key, change: a.change})
    const results = work.length > 0 ? await executeAll(work, this.context(cri)) : []

    // Outcomes: events, failures, waiting reasons.
    const byResult = new Map(results.map((r) => [r.key, r]))
    let failures = 0
    for (const r of this.records.values()) {
      r.waiting = {}
    }
    for (const a of actions) {
      const rec = this.record(a.key)
      const r = byResult.get(a.key)
      if (r) {
        this.metrics.actions.inc({change: a.change === 'unchanged' ? 'synced' : a.change, result: r.ok ? 'ok' : 'error'})
        if (r.ok) this.actionEvents(a)
        else {
          const isBackoff = r.reason === 'ImagePullBackOff'
          if (!isBackoff) failures++
          rec.lastError = {time: iso(now), reason: r.reason ?? 'Error', message: r.error ?? ''}
          const level = isBackoff ? 'debug' : 'warn'
          this.log[level]('pod failed to converge', {pod: a.key, reason: r.reason, error: r.error})
          if (!isBackoff) this.event(a.key, 'Warning', r.reason === 'ErrImagePull' ? 'Failed' : 'FailedSync', r.error ?? 'failed')
          if (r.reason === 'ErrImagePull' || r.reason === 'ErrImageNeverPull' || isBackoff) {
            // ErrImagePull on the pass that tried and failed, ImagePullBackOff on the passes that
            // wait: what kubectl shows.
            for (const s of a.startContainers) {
              const f = this.pullBackoff.get(s.container.spec.image ?? '')
              if (f) rec.waiting[s.container.name] = {reason: r.reason!, message: r.error, until: iso(f.until)}
            }
          }
        }
      }
      for (const w of a.waiting) {
        if (w.reason !== 'CrashLoopBackOff') continue
        const until = w.until !== undefined ? iso(Number(w.until / 1_000_000n)) : undefined
        rec.waiting[w.name] = {reason: w.reason, message: w.message, until}
        if (until && rec.backoffSeen.get(w.name) !== until) {
          rec.backoffSeen.set(w.name, until)
          this.log.info('container crash-looping: waiting out its back-off', {pod: a.key, container: w.name, message: w.message, until})
          this.event(a.key, 'Warning', 'BackOff', `Back-off restarting failed container ${w.name}: ${w.message}`)
        }
      }
    }
    for (const [key, owner] of conflicts) {
      const rec = this.record(key)
      if (rec.conflictLogged !== owner) {
        rec.conflictLogged = owner
        const d = snap.pods.find((p) => p.key === key)
        this.log.warn('pod already exists with another owner: leaving it alone', {pod: key, manifest: d?.source, owner})
        this.event(key, 'Warning', 'Conflict', `pod exists and belongs to ${owner}; the daemon leaves it alone`)
      }
    }
    for (const key of this.records.keys()) if (!conflicts.has(key)) this.records.get(key)!.conflictLogged = undefined

    const durationMs = performance.now() - t0
    this.passes++
    this.lastPass = {at: iso(now), ok: true, durationMs: Math.round(durationMs * 10) / 10}
    this.metrics.passes.inc({result: 'ok'})
    this.metrics.passDuration.observe({}, durationMs / 1000)
    if (work.length > 0) this.log.debug('pass done', {ms: Math.round(durationMs), changed: work.length})

    // Rebuilding the view parses every pod's stored spec: skip it when nothing it shows changed.
    const viewKey = `${snap.generation}|${[...conflicts].join(';')}`
    const viewState = fullStateOfPods(actual)
    const waiting = [...this.records.values()].some((r) => Object.keys(r.waiting).length > 0)
    if (this.viewDirty || work.length > 0 || waiting || viewKey !== this.viewKey || !sameState(this.viewState, viewState)) {
      this.buildView(actual, snap.pods, conflicts, actions)
      this.viewKey = viewKey
      this.viewState = viewState
      this.viewDirty = false
    }

    // When to come back: back-off ends, pull back-off ends, failures retried.
    let next = Infinity
    for (const a of actions) if (a.requeueAfterMs !== undefined) next = Math.min(next, a.requeueAfterMs)
    const pull = this.pullBackoff.nextRetry()
    if (pull !== undefined) next = Math.min(next, pull - now)
    if (failures > 0) next = Math.min(next, this.nextFailureDelay())
    else this.failStreak = 0
    // After changes, look once more soon: the relist only watches for exits, and this pass's view
    // was built from the state before its own changes.
    // After a failed pull, once more soon: the pod then shows ImagePullBackOff while it waits.
    if (results.some((r) => r.mutations > 0 || r.reason === 'ErrImagePull')) next = Math.min(next, this.opts.relistMs)
    if (Number.isFinite(next)) this.scheduleRequeue(next)
  }

  private actionEvents(a: PodActions): void {
    const ev = (reason: string, message: string) => this.event(a.key, 'Normal', reason, message)
    if (a.change === 'pruned') {
      ev('Killing', `Stopped and removed the pod: ${a.reason}`)
      this.records.delete(a.key)
      return
    }
    if (a.killPod) ev('Killing', `Stopping the pod: ${a.reason}`)
    if (a.createSandbox) ev('SandboxCreated', `Created the pod sandbox (attempt ${a.sandboxAttempt})`)
    for (const k of a.killContainers) ev('Killing', `Stopped container ${k.name}: ${k.reason}`)
    for (const s of a.startExisting) ev('Started', `Started container ${s.name}: ${s.reason}`)
    for (const s of a.startContainers) {
      const restart = s.reason.startsWith('restarting')
      ev(restart ? 'Restarted' : 'Started', `${restart ? 'Restarted' : 'Started'} container ${s.container.name} (attempt ${s.attempt}): ${s.reason}`)
    }
  }

  private buildView(actual: ActualPod[], desired: DesiredPod[], conflicts: Map<string, string>, actions: PodActions[]): void {
    const snap = this.source.snapshot
    const now = this.now()
    const nowNs = BigInt(now) * 1_000_000n
    const byKey = new Map(actual.map((a) => [a.key, a]))
    const desiredByKey = new Map(desired.map((d) => [d.key, d]))
    const pruned = new Set(actions.filter((a) => a.change === 'pruned').map((a) => a.key))
    const keys = new Set<string>([...desired.map((d) => d.key), ...actual.filter((a) => this.source.owns(a.source) && !pruned.has(a.key)).map((a) => a.key)])
    const infos: DaemonPodInfo[] = []
    const phases: Record<string, number> = {Pending: 0, Running: 0, Succeeded: 0, Failed: 0, Unknown: 0}
    const restarts: Array<{labels: Record<string, string>; value: number}> = []
    const dirErr = snap.dirErrors.map((e) => `${e.file}: ${e.message}`)
    for (const key of [...keys].sort()) {
      const a = byKey.get(key)
      const d = desiredByKey.get(key)
      const rec = this.record(key)
      const waiting: Record<string, WaitingInfo> = {...rec.waiting}
      const conflict = conflicts.get(key)
      const source = conflict ?? d?.source ?? a?.source ?? ''
      const fileState = snap.files.get(d?.source ?? a?.source ?? '')
      const errors = fileState?.errors ?? []
      const errLines = errors.map(formatDiagnostic)
      const info: DaemonPodInfo = {
        key,
        name: d?.name ?? a?.name ?? key.split('/')[1],
        namespace: d?.namespace ?? a?.namespace ?? key.split('/')[0],
        source,
        phase: 'Pending',
        ready: false,
        status: 'Pending',
        restarts: 0,
        waiting,
        lastError: rec.lastError,
        events: rec.events.list(),
      }
      if (a) {
        const pod = podFromRuntime(a, nowNs, {backoff: this.opts.backoff, waiting: statusOverrides(waiting)})
        info.phase = pod.status?.phase ?? 'Unknown'
        info.ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
        info.status = statusReason(pod)
        for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
          info.restarts += cs.restartCount ?? 0
          if (!conflict) restarts.push({labels: {namespace: info.namespace, pod: info.name, container: cs.name}, value: cs.restartCount ?? 0})
        }
      } else {
        const w = Object.values(waiting)[0]
        info.status = w?.reason ?? (d ? 'ContainerCreating' : 'Pending')
        if (d && !conflict) {
          const ref = (c: DesiredPod['containers'][number]) => ({name: c.name, image: c.spec.image ?? ''})
          info.absent = {initContainers: d.initContainers.map(ref), containers: d.containers.map(ref)}
        }
      }
      if (errLines.length > 0) {
        info.manifestError = errLines[0]
        info.manifestErrors = errLines
        info.frozen = fileState?.frozen
      } else if (dirErr.length > 0) {
        info.manifestError = dirErr[0]
        info.manifestErrors = dirErr
        info.frozen = true
      }
      if (conflict) info.conflict = `pod exists and belongs to ${conflict}; the daemon leaves it alone (manifest ${d?.source ?? '?'})`
      if (!conflict) phases[info.phase in phases ? info.phase : 'Unknown']++
      infos.push(info)
    }
    // Forget pods that are gone from both sides.
    for (const k of [...this.records.keys()]) if (!keys.has(k) && !conflicts.has(k)) this.records.delete(k)
    this.infos = infos
    this.metrics.pods.reset(Object.entries(phases).map(([phase, value]) => ({labels: {phase}, value})))
    this.metrics.restarts.reset(restarts)
  }
}
