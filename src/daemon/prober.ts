// Probes, as the kubelet's prober runs them: per running container, a startup probe until it
// succeeds (liveness and readiness wait for it), a liveness probe whose failureThreshold
// consecutive failures have the container killed and restarted per restartPolicy, and a readiness
// probe that decides whether the container counts as ready (not ready until its first success).
// Timings and thresholds as Kubernetes defines them (defaults filled by the manifest pipeline:
// period 10 s, timeout 1 s, success 1, failure 3). Each probe runs on its own timer from the
// container's start; probes of containers that were already running when the daemon started are
// spread over their period rather than fired together. Results live here, in memory, keyed by
// container id: a restarted daemon probes again, as a restarted kubelet does.
import type {Container, Probe} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'
import {runHandler} from '../reconcile/handlers.js'

export interface ProbeTarget {
  /** Pod key. */
  key: string
  containerId: string
  container: Container
  /** When the container started (ms since the epoch). */
  startedAt: number
  /** The pod's IP, looked up when a network probe first needs it. */
  podIP: () => Promise<string>
}

/** What the probes say of a container. */
export interface ProbeState {
  /** The startup probe succeeded (or there is none). */
  started: boolean
  /** The readiness probe succeeded last (or there is none and the container has started). */
  ready: boolean
}

export interface ProberDeps {
  cri: () => CriClient | undefined
  /** A container's state changed (ready or started): its pod's status should be built again. */
  onChange: (key: string) => void
  /** A liveness or startup probe failed failureThreshold times: the container must be killed. */
  onFailure: (key: string, containerId: string, container: string, which: 'liveness' | 'startup', message: string) => void
  /** Events (Unhealthy), for the pod's record. */
  event: (key: string, reason: string, message: string) => void
  now?: () => number
}

type Which = 'startup' | 'liveness' | 'readiness'

interface Loop {
  which: Which
  probe: Probe
  timer?: NodeJS.Timeout
  successes: number
  failures: number
}

interface Worker {
  target: ProbeTarget
  state: ProbeState
  loops: Loop[]
  stopped: boolean
}

export class Prober {
  private readonly workers = new Map<string, Worker>()
  private readonly byPod = new Map<string, Set<string>>()
  private readonly now: () => number

  constructor(private readonly d: ProberDeps) {
    this.now = d.now ?? Date.now
  }

  /** What the probes say of a container, when it has any. */
  state(containerId: string): ProbeState | undefined {
    return this.workers.get(containerId)?.state
  }

  /** The containers of a pod that run now: workers start for new ones and stop for the others. */
  reconcile(key: string, targets: ProbeTarget[]): void {
    const want = new Set(targets.map((t) => t.containerId))
    for (const id of this.byPod.get(key) ?? []) if (!want.has(id)) this.stopWorker(id)
    const ids = new Set<string>()
    for (const t of targets) {
      const c = t.container
      if (!c.startupProbe && !c.livenessProbe && !c.readinessProbe) continue
      ids.add(t.containerId)
      if (!this.workers.has(t.containerId)) this.startWorker(t)
    }
    if (ids.size > 0) this.byPod.set(key, ids)
    else this.byPod.delete(key)
  }

  /** The pod is gone: its probes stop. */
  forget(key: string): void {
    for (const id of this.byPod.get(key) ?? []) this.stopWorker(id)
    this.byPod.delete(key)
  }

  stop(): void {
    for (const id of [...this.workers.keys()]) this.stopWorker(id)
    this.byPod.clear()
  }

  private startWorker(t: ProbeTarget): void {
    const c = t.container
    const w: Worker = {
      target: t,
      state: {started: !c.startupProbe, ready: !c.readinessProbe && !c.startupProbe},
      loops: [],
      stopped: false,
    }
    const add = (which: Which, probe: Probe | undefined) => probe && w.loops.push({which, probe, successes: 0, failures: 0})
    add('startup', c.startupProbe)
    add('liveness', c.livenessProbe)
    add('readiness', c.readinessProbe)
    this.workers.set(t.containerId, w)
    for (const l of w.loops) if (l.which === 'startup' || w.state.started) this.schedule(w, l, true)
  }

  private stopWorker(id: string): void {
    const w = this.workers.get(id)
    if (!w) return
    w.stopped = true
    for (const l of w.loops) clearTimeout(l.timer)
    this.workers.delete(id)
  }

  private schedule(w: Worker, l: Loop, first: boolean): void {
    const period = (l.probe.periodSeconds ?? 10) * 1000
    let delay = period
    if (first) {
      const since = this.now() - w.target.startedAt
      const initial = (l.probe.initialDelaySeconds ?? 0) * 1000
      // A container that has run longer than a period (the daemon started after it): spread.
      delay = since > initial + period ? Math.floor(Math.random() * period) : Math.max(0, initial - since)
    }
    l.timer = setTimeout(() => void this.run(w, l), delay)
  }

  private async run(w: Worker, l: Loop): Promise<void> {
    const cri = this.d.cri()
    if (w.stopped) return
    if (!cri) {
      this.schedule(w, l, false)
      return
    }
    const t = w.target
    const network = !!(l.probe.httpGet || l.probe.tcpSocket || l.probe.grpc)
    const podIP = network ? await t.podIP().catch(() => '') : ''
    const r = await runHandler(l.probe, {cri, containerId: t.containerId, container: t.container, podIP}, (l.probe.timeoutSeconds ?? 1) * 1000)
    if (w.stopped) return
    if (r.ok) {
      l.successes++
      l.failures = 0
    } else {
      l.failures++
      l.successes = 0
      this.d.event(t.key, 'Unhealthy', `${label(l.which)} probe failed: ${r.message}`)
    }
    const success = l.successes >= (l.probe.successThreshold ?? 1)
    const failure = l.failures >= (l.probe.failureThreshold ?? 3)
    if (l.which === 'startup') {
      if (success) {
        w.state.started = true
        if (!w.loops.some((x) => x.which === 'readiness')) w.state.ready = true
        this.d.onChange(t.key)
        for (const x of w.loops) if (x.which !== 'startup') this.schedule(w, x, true)
        return // the startup probe has done its job
      }
      if (failure) {
        this.d.onFailure(t.key, t.containerId, t.container.name, 'startup', r.message)
        return
      }
    } else if (l.which === 'liveness') {
      if (failure) {
        this.d.onFailure(t.key, t.containerId, t.container.name, 'liveness', r.message)
        return
      }
    } else if ((success && !w.state.ready) || (failure && w.state.ready)) {
      w.state.ready = success
      this.d.onChange(t.key)
    }
    this.schedule(w, l, false)
  }
}

const label = (w: Which) => `${w[0].toUpperCase()}${w.slice(1)}`
