// The status manager: the one owner of what the daemon says about its pods. Pod workers report
// what each sync saw and did (the pod as listed, its manifest, a conflict, failures, waiting
// reasons, events); the manager turns that into the view the API serves (GET /api/v1/pods, which
// `get pods` reads) with the same function `get pods` uses (pod-status.ts), and keeps the pod
// metrics in step. Nothing here talks to the runtime.
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import type {BackoffPolicy} from '../reconcile/plan.js'
import {statusReason} from '../reconcile/status.js'
import {compareText} from '../lib/compare.js'
import type {DaemonMetrics} from './metrics.js'
import {daemonPod} from './pod-status.js'
import type {ManifestState} from './desired.js'
import {EventRing, type DaemonEvent, type DaemonPodInfo, type WaitingInfo} from './view.js'

/** What the daemon remembers of a pod between syncs. */
export interface PodRecord {
  events: EventRing
  lastError?: {time: string; reason: string; message: string}
  /** Per container: why it waits (image pulls, crash-loop back-off). */
  waiting: Record<string, WaitingInfo>
  /** The owner last reported in a conflict (logged once per owner). */
  conflictLogged?: string
  /** Per container: the back-off end last reported. */
  backoffSeen: Map<string, string>
}

/** One sync's report. */
export interface PodReport {
  actual?: ActualPod
  desired?: DesiredPod
  /** Another owner's pod by the same name. */
  conflict?: string
  /** The manifest that names it (default: the desired pod's). */
  conflictManifest?: string
  /** Problems of the pod's manifest file. */
  manifest?: ManifestState
  /** The desired state's generation (DesiredSources.generation). */
  generation: string
  /** What the probes say of the pod's running containers, by container id. */
  probes?: Record<string, {ready: boolean; started: boolean}>
  /** The manifest's version was rolled back: why. */
  rolledBack?: string
}

const iso = (ms: number) => new Date(ms).toISOString()

export class StatusManager {
  private readonly records = new Map<string, PodRecord>()
  private readonly infos = new Map<string, DaemonPodInfo>()
  /** What each pod's view was last built from: the same again (an idle pod) costs nothing. */
  private readonly built = new Map<string, {actual?: ActualPod; desired?: DesiredPod; conflict?: string; generation: string; lastError?: PodRecord['lastError']; waited: boolean; probes: string}>()
  private sorted: DaemonPodInfo[] | undefined

  constructor(private readonly d: {backoff: BackoffPolicy; metrics: DaemonMetrics; nodeName: string; now: () => number}) {}

  record(key: string): PodRecord {
    let r = this.records.get(key)
    if (!r) {
      r = {events: new EventRing(20), waiting: {}, backoffSeen: new Map()}
      this.records.set(key, r)
    }
    return r
  }

  event(key: string, type: DaemonEvent['type'], reason: string, message: string): void {
    this.record(key).events.add({time: iso(this.d.now()), type, reason, message})
    const info = this.infos.get(key)
    if (info) {
      info.events = this.record(key).events.list()
      this.sorted = undefined
    }
  }

  /** A pod's sync is done: its view from what it saw. */
  update(key: string, r: PodReport): void {
    const rec = this.record(key)
    // A listing that did not change hands out the same objects; with nothing waiting (no back-off
    // whose end moves the status on), the view would come out the same.
    const prev = this.built.get(key)
    if (
      prev &&
      prev.actual === r.actual &&
      prev.desired === r.desired &&
      prev.conflict === r.conflict &&
      prev.generation === r.generation &&
      prev.probes === JSON.stringify(r.probes ?? {}) + (r.rolledBack ?? '') &&
      prev.lastError === rec.lastError &&
      !prev.waited &&
      Object.keys(rec.waiting).length === 0 &&
      this.infos.has(key)
    ) {
      return
    }
    this.built.set(key, {actual: r.actual, desired: r.desired, conflict: r.conflict, generation: r.generation, lastError: rec.lastError, waited: Object.keys(rec.waiting).length > 0, probes: JSON.stringify(r.probes ?? {}) + (r.rolledBack ?? '')})
    const {actual: a, desired: d, conflict, manifest} = r
    const info: DaemonPodInfo = {
      key,
      name: d?.name ?? a?.name ?? key.split('/')[1],
      namespace: d?.namespace ?? a?.namespace ?? key.split('/')[0],
      source: conflict ?? d?.source ?? a?.source ?? '',
      phase: 'Pending',
      ready: false,
      status: 'Pending',
      restarts: 0,
      waiting: {...rec.waiting},
      lastError: rec.lastError,
      events: rec.events.list(),
      ...(r.probes && Object.keys(r.probes).length > 0 ? {probes: r.probes} : {}),
      ...(r.rolledBack ? {rolledBack: r.rolledBack} : {}),
    }
    if (manifest && manifest.errors.length > 0) {
      info.manifestError = manifest.errors[0]
      info.manifestErrors = manifest.errors
      info.frozen = manifest.frozen
    }
    if (conflict) info.conflict = `pod exists and belongs to ${conflict}; the daemon leaves it alone (manifest ${r.conflictManifest ?? d?.source ?? '?'})`
    if (!a && d && !conflict) {
      const ref = (c: DesiredPod['containers'][number]) => ({name: c.name, image: c.spec.image ?? ''})
      info.absent = {initContainers: d.initContainers.map(ref), containers: d.containers.map(ref)}
    }
    const pod = daemonPod(a, info, BigInt(this.d.now()) * 1_000_000n, {backoff: this.d.backoff, nodeName: this.d.nodeName})
    if (pod) {
      info.phase = pod.status?.phase ?? 'Unknown'
      info.ready = pod.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
      info.status = statusReason(pod)
      for (const cs of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) info.restarts += cs.restartCount ?? 0
      info.containerRestarts = Object.fromEntries([...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((cs) => [cs.name, cs.restartCount ?? 0]))
    }
    this.infos.set(key, info)
    this.changed()
  }

  /** The pod is gone from both sides: forget it. */
  remove(key: string): void {
    this.records.delete(key)
    this.built.delete(key)
    if (this.infos.delete(key)) this.changed()
  }

  get(key: string): DaemonPodInfo | undefined {
    return this.infos.get(key)
  }

  pods(): DaemonPodInfo[] {
    this.sorted ??= [...this.infos.values()].sort((a, b) => compareText(a.key, b.key))
    return this.sorted
  }

  /** Pods by phase and restarts per container, from the view (conflicts are not the daemon's pods). */
  private changed(): void {
    this.sorted = undefined
    const phases: Record<string, number> = {Pending: 0, Running: 0, Succeeded: 0, Failed: 0, Unknown: 0}
    const restarts: Array<{labels: Record<string, string>; value: number}> = []
    for (const info of this.infos.values()) {
      if (info.conflict) continue
      phases[info.phase in phases ? info.phase : 'Unknown']++
      for (const [container, value] of Object.entries(info.containerRestarts ?? {})) restarts.push({labels: {namespace: info.namespace, pod: info.name, container}, value})
    }
    this.d.metrics.pods.reset(Object.entries(phases).map(([phase, value]) => ({labels: {phase}, value})))
    this.d.metrics.restarts.reset(restarts)
  }
}
