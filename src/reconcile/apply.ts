// `apply` as a library: one reconcile pass, then (with wait) more passes until every pod has
// settled: running and ready, completed, failed, or crash-looping. Passes are what move init
// containers along and restart what exits, exactly as the daemon's passes do.
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {DesiredPod} from '../model/desired.js'
import type {ActualPod} from '../model/actual.js'
import {observe} from './observe.js'
import {reconcilePass, nowNs, type PassOptions} from './engine.js'
import {podFromRuntime, statusReason} from './status.js'
import type {PodActions, PodChange} from './plan.js'
import type {PodResult} from './execute.js'

export interface ApplyOptions extends Omit<PassOptions, 'dryRun'> {
  wait: boolean
  timeoutMs: number
  pollMs?: number
  /** Called when a pod settles (or fails) while waiting. */
  onSettled?: (o: PodOutcome) => void
}

export interface PodOutcome {
  key: string
  name: string
  namespace: string
  change: PodChange
  ok: boolean
  /** kubectl's STATUS column at the end (Running, Completed, CrashLoopBackOff, ErrImagePull...). */
  status: string
  /** Why it failed. */
  message?: string
}

export interface ApplyResult {
  actions: PodActions[]
  outcomes: PodOutcome[]
  /** Mutating CRI calls made. */
  mutations: number
}

type Verdict = {done: false} | {done: true; ok: boolean; status: string; message?: string}

/** Whether a pod has settled, from its Kubernetes-shaped status. */
export function settled(pod: Pod): Verdict {
  const status = statusReason(pod)
  const st = pod.status
  const all = [...(st?.initContainerStatuses ?? []), ...(st?.containerStatuses ?? [])]
  const looping = all.find((c) => c.state?.waiting?.reason === 'CrashLoopBackOff')
  if (looping) {
    const code = looping.lastState?.terminated?.exitCode
    return {done: true, ok: false, status, message: `container ${looping.name} is crash-looping${code === undefined ? '' : ` (last exit code ${code})`}`}
  }
  if (st?.phase === 'Succeeded') return {done: true, ok: true, status}
  if (st?.phase === 'Failed') {
    const bad = all.find((c) => c.state?.terminated && c.state.terminated.exitCode !== 0)
    return {done: true, ok: false, status, message: bad ? `container ${bad.name} exited with code ${bad.state?.terminated?.exitCode}` : 'pod failed'}
  }
  const ready = st?.conditions?.find((c) => c.type === 'Ready')?.status === 'True'
  if (st?.phase === 'Running' && ready) return {done: true, ok: true, status}
  return {done: false}
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export async function applyPods(desired: DesiredPod[], o: ApplyOptions): Promise<ApplyResult> {
  const first = await reconcilePass(desired, o)
  let mutations = first.results.reduce((n, r) => n + r.mutations, 0)
  const change = new Map(first.actions.map((a) => [a.key, a.change]))
  const outcomes = new Map<string, PodOutcome>()
  const fail = (r: PodResult) => outcomes.set(r.key, {key: r.key, name: r.name, namespace: r.namespace, change: r.change, ok: false, status: r.reason ?? 'Error', message: r.error})

  for (const r of first.results) {
    if (!r.ok) fail(r)
    else if (r.change === 'pruned') outcomes.set(r.key, {key: r.key, name: r.name, namespace: r.namespace, change: r.change, ok: true, status: 'Deleted'})
  }
  for (const oc of outcomes.values()) o.onSettled?.(oc)

  const pending = () => desired.filter((d) => !outcomes.has(d.key))
  if (!o.wait) {
    for (const d of pending()) outcomes.set(d.key, {key: d.key, name: d.name, namespace: d.namespace, change: change.get(d.key) ?? 'unchanged', ok: true, status: 'Applied'})
  } else {
    const deadline = Date.now() + o.timeoutMs
    // When the first pass changed nothing, its own listing already tells whether the pods settled.
    let listing: ActualPod[] | undefined = first.results.every((r) => r.mutations === 0) ? first.actual : undefined
    for (;;) {
      // Statuses only where needed (the newest exited containers): `allStatuses` would ask the
      // runtime about every container on the host.
      const actual = new Map((listing ?? (await observe(o.cri))).map((a) => [a.key, a]))
      listing = undefined
      const now = nowNs()
      for (const d of pending()) {
        const a = actual.get(d.key)
        if (!a) continue
        const v = settled(podFromRuntime(a, now, {backoff: o.backoff}))
        if (v.done) {
          const oc = {key: d.key, name: d.name, namespace: d.namespace, change: change.get(d.key) ?? 'unchanged', ok: v.ok, status: v.status, message: v.message}
          outcomes.set(d.key, oc)
          o.onSettled?.(oc)
        }
      }
      const left = pending()
      if (left.length === 0) break
      if (Date.now() >= deadline) {
        for (const d of left) {
          const a = actual.get(d.key)
          const status = a ? statusReason(podFromRuntime(a, now, {backoff: o.backoff})) : 'Pending'
          const oc = {key: d.key, name: d.name, namespace: d.namespace, change: change.get(d.key) ?? 'unchanged', ok: false, status, message: `timed out waiting for the pod to run (status ${status})`}
          outcomes.set(d.key, oc)
          o.onSettled?.(oc)
        }
        break
      }
      await sleep(o.pollMs ?? 250)
      // Another pass for the pods still on their way: starts the next init container, restarts
      // what exited, retries what failed transiently. Never prunes.
      const next = await reconcilePass(left, {...o, actual: undefined, prune: () => false})
      mutations += next.results.reduce((n, r) => n + r.mutations, 0)
      for (const r of next.results) if (!r.ok) {
        fail(r)
        o.onSettled?.(outcomes.get(r.key)!)
      }
    }
  }
  const order = [...desired.map((d) => d.key), ...first.actions.filter((a) => a.change === 'pruned').map((a) => a.key)]
  return {actions: first.actions, outcomes: order.map((k) => outcomes.get(k)!).filter(Boolean), mutations}
}
