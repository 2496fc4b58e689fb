// `apply` as a library: every pod converges on its own pod worker, and (with wait) goes on
// syncing until it has settled: running and ready, completed, failed, or crash-looping. Syncs are
// what move init containers along and restart what exits, as the daemon's do.
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {DesiredPod} from '../model/desired.js'
import type {ActualPod} from '../model/actual.js'
import {isTransient} from '../cri/errors.js'
import {observe} from './observe.js'
import {execContext, nowNs, type PassOptions} from './engine.js'
import {podFromRuntime, statusReason} from './status.js'
import {isNoop, plan, type PodActions, type PodChange} from './plan.js'
import {apiVolumesOf, executePod} from './execute.js'
import {SharedListing} from './listing.js'
import {PodWorkers, type SyncResult} from './workers.js'

export interface ApplyOptions extends Omit<PassOptions, 'dryRun'> {
  wait: boolean
  timeoutMs: number
  pollMs?: number
  /** Called when a pod settles (or fails) while waiting. */
  onSettled?: (o: PodOutcome) => void
  /** Stop waiting (Ctrl-C): pods not settled yet are reported with what they were doing. */
  signal?: AbortSignal
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
  /** The wait was cut short by the signal. */
  interrupted: boolean
}

/** How often a pod's sync starts over after losing a race with another writer of the same pod. */
const MAX_RACES = 3
const raced = (error: string | undefined): boolean => /name is reserved|already exists|(container|sandbox).*not found/i.test(error ?? '')

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

/**
 * One pod worker per pod (workers.ts): each pod's first sync carries out the plan made from the
 * first listing; with wait, each pod then syncs again on its own timer (a fresh listing shared with
 * the pods that ask at the same time, a plan for that pod alone, its actions) until it settles. A
 * pod waiting out a grace period or a pull holds up no other pod, and the wait ends at the
 * deadline or on `signal` (Ctrl-C) whatever is in flight, naming what each pod was still doing.
 */
export async function applyPods(desired: DesiredPod[], o: ApplyOptions): Promise<ApplyResult> {
  const clock = o.now ?? nowNs
  const listing = new SharedListing(o.cri)
  const t0 = Date.now()
  const first = o.actual ?? (await observe(o.cri))
  listing.seed(first, t0)
  const actions = plan(desired, first, {now: clock(), prune: o.prune, backoff: o.backoff})
  const firstActions = new Map(actions.map((a) => [a.key, a]))
  const desiredByKey = new Map(desired.map((d) => [d.key, d]))
  const doing = new Map<string, string>()
  const ctx = execContext({
    ...o,
    onStep: (key, text) => {
      doing.set(key, text)
      o.onStep?.(key, text)
    },
  })
  const outcomes = new Map<string, PodOutcome>()
  const lastChange = new Map<string, number>()
  let mutations = 0
  let allSettled = () => {}
  const everyOutcome = new Promise<void>((r) => (allSettled = r))
  const settle = (oc: PodOutcome): SyncResult => {
    if (!outcomes.has(oc.key)) {
      outcomes.set(oc.key, oc)
      o.onSettled?.(oc)
      if (outcomes.size === actions.length) allSettled()
    }
    return {}
  }
  const refreshed = new Map<string, string[]>()
  const races = new Map<string, number>()
  const outcome = (key: string, ok: boolean, status: string, message?: string): PodOutcome => {
    const a = firstActions.get(key)!
    // A pod whose volume files were updated in place was configured, though nothing restarted.
    const change = a.change === 'unchanged' && (refreshed.get(key)?.length ?? 0) > 0 ? 'configured' : a.change
    return {key, name: a.name, namespace: a.namespace, change, ok, status, message}
  }
  const verdict = (a: ActualPod | undefined) => (a ? settled(podFromRuntime(a, clock(), {backoff: o.backoff})) : ({done: false} as const))

  const sync = async (key: string): Promise<SyncResult> => {
    let a = firstActions.get(key)!
    let seen: ActualPod | undefined = a.actual
    if (lastChange.has(key)) {
      // A later sync: a listing taken after this pod's last change, a plan for this pod alone.
      seen = (await listing.newerThan(lastChange.get(key)!)).find((p) => p.key === key)
      const v = verdict(seen)
      if (v.done) return settle(outcome(key, v.ok, v.status, v.message))
      a = plan([desiredByKey.get(key)!], seen ? [seen] : [], {now: clock(), prune: () => false, backoff: o.backoff})[0]
    }
    lastChange.set(key, Date.now())
    let changed = false
    // Changed ConfigMaps and Secrets reach a running pod's files in place, without a restart.
    if (!refreshed.has(key)) refreshed.set(key, await apiVolumesOf(a, ctx.podRoot, o.data, {update: true}))
    if (!isNoop(a)) {
      const r = await executePod(a, ctx)
      doing.delete(key)
      mutations += r.mutations
      changed = r.mutations > 0
      lastChange.set(key, Date.now())
      if (!r.ok) {
        // Another apply of the same pod made or removed the same thing first (the runtime says
        // the name is taken, or an object is gone): look again and plan from what is there now.
        if (raced(r.error) && (races.get(key) ?? 0) < MAX_RACES) {
          races.set(key, (races.get(key) ?? 0) + 1)
          return {requeueAfterMs: 200}
        }
        return settle(outcome(key, false, r.reason ?? 'Error', r.error))
      }
      if (a.change === 'pruned') return settle(outcome(key, true, 'Deleted'))
    }
    if (!o.wait) return settle(outcome(key, true, 'Applied'))
    // Nothing changed: the listing just read already tells whether the pod has settled.
    if (!changed) {
      const v = verdict(seen)
      if (v.done) return settle(outcome(key, v.ok, v.status, v.message))
    }
    return {requeueAfterMs: o.pollMs ?? 250}
  }

  // A sync that fails to list (the runtime went away) is retried by the worker's back-off.
  const workers = new PodWorkers({
    sync: (key) => sync(key).catch((e: unknown): SyncResult => (isTransient(e) ? {failed: true} : settle(outcome(key, false, 'Error', (e as Error).message)))),
  })
  for (const a of actions) workers.enqueue(a.key)

  let timer: NodeJS.Timeout | undefined
  let onAbort: (() => void) | undefined
  const stopped = new Promise<string>((resolve) => {
    if (o.wait) timer = setTimeout(() => resolve('timed out waiting for the pod to run'), o.timeoutMs)
    onAbort = () => resolve('interrupted')
    o.signal?.addEventListener('abort', onAbort, {once: true})
  })
  const why = actions.length === 0 ? undefined : await Promise.race([everyOutcome.then(() => undefined), stopped])
  clearTimeout(timer)
  if (onAbort) o.signal?.removeEventListener('abort', onAbort)
  void workers.stop()
  if (why !== undefined) {
    const latest = new Map((listing.latest ?? []).map((p) => [p.key, p]))
    for (const a of actions) {
      if (outcomes.has(a.key)) continue
      const p = latest.get(a.key)
      const status = p ? statusReason(podFromRuntime(p, clock(), {backoff: o.backoff})) : 'Pending'
      const step = doing.get(a.key)
      settle(outcome(a.key, false, status, `${why} (status ${status}${step ? `; still ${step}` : ''})`))
    }
  }
  const order = [...desired.map((d) => d.key), ...actions.filter((a) => a.change === 'pruned').map((a) => a.key)]
  return {actions, outcomes: order.map((k) => outcomes.get(k)!).filter(Boolean), mutations, interrupted: why === 'interrupted'}
}
