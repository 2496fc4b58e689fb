// One pod's sync in the daemon (the kubelet's syncPod): a listing taken after this pod's last
// change (shared with the pods that ask at the same time), the pod's manifest, the plan for this
// pod alone, its actions, and a report to the status manager. The daemon's scope is decided per pod
// (reconcile/ownership.ts): it prunes only pods whose source is a file of its folder, leaves pods of
// other owners alone (a conflict), never prunes the pods of a file that is broken, and supervises
// applied pods from apply's records without changing or pruning them. An applied pod is synced
// under its lease, so that the daemon and a running `podrun apply` or `delete` never act on the
// same pod at once.
import {isNoop, describe as describeActions, plan, type PodActions} from '../reconcile/plan.js'
import {executePod, type PodResult} from '../reconcile/execute.js'
import {execContext, type HostInfo} from '../reconcile/engine.js'
import type {Limits} from '../reconcile/limits.js'
import type {SyncResult} from '../reconcile/workers.js'
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import {apiVolumesOf, sandboxIP, stopWithPreStop} from '../reconcile/execute.js'
import {podRoot} from '../lib/paths.js'
import {APPLY_SOURCE, daemonScope, podLeaseName} from '../reconcile/ownership.js'
import {tryLease, type Lease} from '../lib/lease.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import type {DaemonOptions} from './options.js'
import type {PullBackoff} from './pull-backoff.js'
import type {Connection, RuntimeSession} from './session.js'
import type {DesiredSources} from './desired.js'
import type {StatusManager} from './status-manager.js'
import type {Prober, ProbeTarget} from './prober.js'
import type {Rollouts} from './rollouts.js'
import {Annotation, annotationJson} from '../reconcile/labels.js'
import type {Container} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'

export interface PodSyncDeps {
  opts: DaemonOptions
  log: Logger
  metrics: DaemonMetrics
  sources: DesiredSources
  session: RuntimeSession
  status: StatusManager
  limits: Limits
  pullBackoff: PullBackoff
  host: HostInfo
  now: () => number
  /** The pod is gone from the runtime and from the folder: its worker may go. */
  forget: (key: string) => void
  prober: Prober
  rollouts: Rollouts
}

const iso = (ms: number) => new Date(ms).toISOString()

export class PodSyncer {
  /** When each pod last changed something in the runtime (ms): its next listing must be newer. */
  private readonly lastChange = new Map<string, number>()
  /** Containers whose liveness or startup probe failed: killed by the pod's next sync. */
  private readonly kills = new Map<string, Array<{id: string; name: string; which: string; message: string}>>()
  /** Pod IPs by sandbox id, for network probes. */
  private readonly podIPs = new Map<string, Promise<string>>()

  constructor(private readonly d: PodSyncDeps) {}

  /** A probe asks for a container to be killed; the pod's worker does it (one sync per pod at a time). */
  requestKill(key: string, id: string, name: string, which: string, message: string): void {
    const list = this.kills.get(key) ?? []
    if (!list.some((k) => k.id === id)) list.push({id, name, which, message})
    this.kills.set(key, list)
  }

  readonly sync = async (key: string, signal: AbortSignal): Promise<SyncResult> => {
    let lease: Lease | undefined
    try {
      return await this.syncPod(key, signal, async () => {
        lease = await tryLease(podLeaseName(key))
        return lease !== undefined
      })
    } finally {
      await lease?.release()
    }
  }

  private async syncPod(key: string, signal: AbortSignal, takeLease: () => Promise<boolean>): Promise<SyncResult> {
    const {sources, session, status, log, metrics, opts} = this.d
    const conn = session.current
    // No runtime: the session syncs every pod again once it is back.
    if (!conn) return {}
    const t0 = performance.now()
    let seen = await this.look(conn, key, this.lastChange.get(key) ?? -Infinity)
    if (seen.stop) return seen.stop
    let a = seen.pod
    const w = sources.wanted(key, a)
    // A folder pod whose edited version was rolled back runs its last Ready version.
    const eff = w && w.pod.source !== APPLY_SOURCE && !w.shadowed ? this.d.rollouts.effective(key, w.pod) : undefined
    const d = eff?.pod ?? w?.pod
    const scope = daemonScope(d, a, {owns: sources.owns, frozen: sources.frozen})
    if (scope.kind === 'none') {
      // Not the daemon's (any more): nothing to do or show.
      status.remove(key)
      this.lastChange.delete(key)
      this.kills.delete(key)
      this.d.prober.forget(key)
      this.d.rollouts.forget(key)
      this.d.forget(key)
      return {}
    }
    const manifest = sources.manifestState(d?.source ?? a?.source ?? '')
    if (scope.kind === 'conflict') {
      this.conflict(key, scope.owner, d!.source)
      status.update(key, {actual: a, desired: d, conflict: scope.owner, manifest, generation: sources.generation})
      return {}
    }
    // A folder manifest naming a pod of apply: reported, and the pod supervised as apply's.
    const shadowedBy = w?.shadowed ? APPLY_SOURCE : undefined
    if (w?.shadowed) this.conflict(key, APPLY_SOURCE, w.shadowed.source)
    else status.record(key).conflictLogged = undefined
    if ((d ?? a)!.source === APPLY_SOURCE || a?.source === APPLY_SOURCE) {
      // apply or delete is working on this pod: after them, with a listing that shows their work.
      if (!(await takeLease())) return {requeueAfterMs: 500}
      this.lastChange.set(key, this.d.now())
      seen = await this.look(conn, key, this.d.now())
      if (seen.stop) return seen.stop
      a = seen.pod
    }
    if (await this.probeKills(key, a, conn.cri, d)) {
      this.lastChange.set(key, this.d.now())
      seen = await this.look(conn, key, this.d.now())
      if (seen.stop) return seen.stop
      a = seen.pod
    }
    // What the status manager shows of the pod, and what the prober watches, from the listing used.
    const show = () => {
      this.probe(key, a, d, conn.cri)
      status.update(key, {actual: a, desired: d, conflict: shadowedBy, conflictManifest: w?.shadowed?.source, manifest, generation: sources.generation, probes: this.probes(a), rolledBack: eff?.rolledBack})
    }
    const prune = () => scope.mayPrune
    const now = this.d.now()
    const actions = plan(d ? [d] : [], a ? [a] : [], {now: BigInt(now) * 1_000_000n, prune, backoff: opts.backoff, started: (id) => this.d.prober.state(id)?.started ?? true})[0]
    if (!actions) {
      show()
      return {}
    }
    status.record(key).waiting = {}
    // ConfigMap, Secret and downwardAPI sources that changed reach the running pod's files in
    // place (no restart), as the kubelet updates them.
    const updated = await apiVolumesOf(actions, podRoot(), w?.data ?? (() => undefined), {update: true}).catch((e: unknown) => {
      log.warn('could not update the files of a volume', {pod: key, error: (e as Error).message})
      return []
    })
    if (updated.length > 0) {
      log.info('volume files updated in place', {pod: key, volumes: updated})
      status.event(key, 'Normal', 'VolumeUpdated', `Updated the files of volume${updated.length > 1 ? 's' : ''} ${updated.join(', ')} in place`)
    }
    let r: PodResult | undefined
    if (!isNoop(actions)) {
      log.info(describeActions(actions), {pod: key, change: actions.change})
      this.lastChange.set(key, this.d.now())
      r = await executePod(actions, this.context(conn.cri, conn.puller, w?.data ?? (() => undefined)), signal)
      this.lastChange.set(key, this.d.now())
    }
    const failed = r ? this.report(actions, r, now) : false
    this.waitingReasons(actions)
    if (actions.change === 'pruned' && r?.ok) {
      status.remove(key)
    } else {
      show()
    }
    // The edited version of a folder pod: Ready long enough to be the good one, or rolled back.
    let judged: {rollBack?: string; requeueAfterMs?: number} = {}
    if (eff && !eff.rolledBack && actions.change !== 'pruned') {
      const looping = actions.waiting.find((x) => x.reason === 'CrashLoopBackOff')
      judged = this.d.rollouts.judge(key, d!, {ready: status.get(key)?.ready === true, crashLooping: looping && `${looping.name}: ${looping.message}`})
      if (judged.rollBack) {
        log.warn('rolling back to the last Ready version', {pod: key, reason: judged.rollBack})
        status.event(key, 'Warning', 'RolledBack', `Rolled back to the last Ready version: ${judged.rollBack}`)
        metrics.rollbacks.inc({namespace: d!.namespace, pod: d!.name})
      }
    }
    const ms = performance.now() - t0
    metrics.syncs.inc({result: failed ? 'error' : 'ok'})
    metrics.syncDuration.observe({}, ms / 1000)

    // When to come back: a back-off ends, a pull back-off ends, a look after changes (this sync's
    // view was built from the state before them), a failed pull shown as ImagePullBackOff soon.
    if (judged.rollBack) return {requeueAfterMs: 1}
    let next = Math.min(actions.requeueAfterMs ?? Infinity, judged.requeueAfterMs ?? Infinity)
    for (const s of actions.startContainers) {
      const f = this.d.pullBackoff.waiting(s.container.spec.image ?? '')
      if (f) next = Math.min(next, f.until - this.d.now())
    }
    if (r && (r.mutations > 0 || r.reason === 'ErrImagePull')) next = Math.min(next, opts.relistMs)
    if (r?.reason === 'Cancelled') return {}
    return {failed, requeueAfterMs: Number.isFinite(next) ? Math.max(1, next) : undefined}
  }

  /** The pod in a listing taken after `after`; or, when the runtime could not be listed, the sync's result. */
  private async look(conn: Connection, key: string, after: number): Promise<{pod?: ActualPod; stop?: SyncResult}> {
    try {
      return {pod: (await conn.listing.newerThan(after)).find((p) => p.key === key)}
    } catch (e) {
      if (this.d.session.failed(conn, e)) return {stop: {}}
      this.d.log.error('could not list the runtime\'s pods; retrying', {pod: key, error: (e as Error).message})
      return {stop: {failed: true}}
    }
  }

  /** Kills the containers whose liveness or startup probe failed (preStop first, within the grace period). */
  private async probeKills(key: string, a: ActualPod | undefined, cri: CriClient, d: DesiredPod | undefined): Promise<boolean> {
    const list = this.kills.get(key)
    if (!list) return false
    this.kills.delete(key)
    let any = false
    await Promise.all(
      list.map(async (k) => {
        const c = a?.containers.find((x) => x.id === k.id && x.state === 'RUNNING')
        if (!c) return
        const spec = this.specOf(c.name, c.annotations, d)
        const probe = k.which === 'startup' ? spec?.startupProbe : spec?.livenessProbe
        const grace = probe?.terminationGracePeriodSeconds ?? d?.terminationGracePeriodSeconds ?? 30
        this.d.log.info('container failed its probe: killing it', {pod: key, container: k.name, probe: k.which, message: k.message})
        this.d.status.event(key, 'Normal', 'Killing', `Container ${k.name} failed ${k.which} probe, will be restarted`)
        any = true
        const hookFailed = (m: string) => this.d.status.event(key, 'Warning', 'FailedPreStopHook', `PreStop hook of container ${k.name} failed: ${m}`)
        await stopWithPreStop(cri, {id: c.id, spec, podIP: () => this.podIP(cri, c.podSandboxId)}, grace, hookFailed).catch((e: unknown) =>
          this.d.log.warn('could not kill the container', {pod: key, container: k.name, error: (e as Error).message}),
        )
      }),
    )
    return any
  }

  /** The running containers of a pod, for the prober. */
  private probe(key: string, a: ActualPod | undefined, d: DesiredPod | undefined, cri: CriClient): void {
    const targets: ProbeTarget[] = []
    const sb = a?.sandboxes[0]
    for (const c of a?.containers ?? []) {
      if (c.state !== 'RUNNING' || c.podSandboxId !== sb?.id) continue
      const spec = this.specOf(c.name, c.annotations, d)
      if (!spec) continue
      targets.push({key, containerId: c.id, container: spec, startedAt: Number((c.startedAt ?? c.createdAt) / 1_000_000n), podIP: () => this.podIP(cri, c.podSandboxId)})
    }
    this.d.prober.reconcile(key, targets)
  }

  private probes(a: ActualPod | undefined): Record<string, {ready: boolean; started: boolean}> | undefined {
    const out: Record<string, {ready: boolean; started: boolean}> = {}
    for (const c of a?.containers ?? []) {
      const st = this.d.prober.state(c.id)
      if (st) out[c.id] = {...st}
    }
    return Object.keys(out).length > 0 ? out : undefined
  }

  /** A container's spec: the manifest's (probes and hooks may have changed), else the one it was made with. */
  private specOf(name: string, annotations: Record<string, string>, d: DesiredPod | undefined): Container | undefined {
    return [...(d?.containers ?? []), ...(d?.initContainers ?? [])].find((c) => c.name === name)?.spec ?? annotationJson<Container>(annotations, Annotation.containerSpec)
  }

  private podIP(cri: CriClient, sandboxId: string): Promise<string> {
    let p = this.podIPs.get(sandboxId)
    if (!p) {
      p = sandboxIP(cri, sandboxId)
      p.catch(() => this.podIPs.delete(sandboxId))
      this.podIPs.set(sandboxId, p)
      if (this.podIPs.size > 1000) this.podIPs.delete(this.podIPs.keys().next().value!)
    }
    return p
  }

  private context(cri: Parameters<typeof execContext>[0]['cri'], puller: Parameters<typeof execContext>[0]['puller'], data: Parameters<typeof execContext>[0]['data']) {
    return execContext({cri, host: this.d.host, data, parallel: this.d.opts.parallel, limits: this.d.limits, prune: () => false, puller, onEvent: (key, type, reason, message) => this.d.status.event(key, type, reason, message)})
  }

  /** Events and failures of a sync that acted; true when it failed (and should back off). */
  private report(a: PodActions, r: PodResult, now: number): boolean {
    const {status, log, metrics} = this.d
    const rec = status.record(a.key)
    metrics.actions.inc({change: a.change === 'unchanged' ? 'synced' : a.change, result: r.ok ? 'ok' : 'error'})
    if (r.ok) return false
    if (r.reason === 'Cancelled') return false
    const isBackoff = r.reason === 'ImagePullBackOff'
    // Image pulls have their own back-off (by image); the pod's own is for the rest.
    const isPull = isBackoff || r.reason === 'ErrImagePull' || r.reason === 'ErrImageNeverPull'
    rec.lastError = {time: iso(now), reason: r.reason ?? 'Error', message: r.error ?? ''}
    log[isBackoff ? 'debug' : 'warn']('pod failed to converge', {pod: a.key, reason: r.reason, error: r.error})
    const eventReason = r.reason === 'ErrImagePull' || r.reason === 'CreateContainerConfigError' ? 'Failed' : r.reason === 'FailedPostStartHook' || r.reason === 'FailedMount' ? r.reason : 'FailedSync'
    if (!isBackoff) status.event(a.key, 'Warning', eventReason, r.error ?? 'failed')
    if (r.reason === 'CreateContainerConfigError' && r.container) {
      rec.waiting[r.container] = {reason: r.reason, message: r.error}
    }
    if (r.reason === 'FailedMount') {
      // As a kubelet shows it: the containers wait in ContainerCreating; the event says why.
      for (const s of a.startContainers) rec.waiting[s.container.name] = {reason: 'ContainerCreating', message: r.error}
    }
    if (isPull) {
      // ErrImagePull on the sync that tried and failed, ImagePullBackOff on the syncs that wait:
      // what kubectl shows.
      for (const s of a.startContainers) {
        const f = this.d.pullBackoff.get(s.container.spec.image ?? '')
        if (f) rec.waiting[s.container.name] = {reason: r.reason!, message: r.error, until: iso(f.until)}
      }
    }
    return !isPull
  }

  /** Crash-loop back-off of the pod's containers: shown, and reported once per back-off. */
  private waitingReasons(a: PodActions): void {
    const {status, log} = this.d
    const rec = status.record(a.key)
    for (const w of a.waiting) {
      if (w.reason !== 'CrashLoopBackOff') continue
      const until = w.until !== undefined ? iso(Number(w.until / 1_000_000n)) : undefined
      rec.waiting[w.name] = {reason: w.reason, message: w.message, until}
      if (until && rec.backoffSeen.get(w.name) !== until) {
        rec.backoffSeen.set(w.name, until)
        log.info('container crash-looping: waiting out its back-off', {pod: a.key, container: w.name, message: w.message, until})
        // The kubelet's words, the same at every back-off: the event counts them (x5 over 2m).
        status.event(a.key, 'Warning', 'BackOff', `Back-off restarting failed container ${w.name} in pod ${a.name}_${a.namespace}(${a.uid})`)
      }
    }
  }

  private conflict(key: string, owner: string, manifest: string): void {
    const rec = this.d.status.record(key)
    if (rec.conflictLogged === owner) return
    rec.conflictLogged = owner
    this.d.log.warn('pod already exists with another owner: leaving it alone', {pod: key, manifest, owner})
    this.d.status.event(key, 'Warning', 'Conflict', `pod exists and belongs to ${owner}; the daemon leaves it alone`)
  }
}
