// The planner: a pure function (desired x actual x now) -> actions per pod, in the spirit of the
// kubelet's computePodActions. No I/O, no clock of its own: every decision is a table-testable
// function of its arguments. The executor (execute.ts) only carries the actions out.
import type {DesiredContainer, DesiredPod} from '../model/desired.js'
import type {ActualContainer, ActualPod, ActualSandbox} from '../model/actual.js'
import {podAsRecorded} from './pod-record.js'
import {Annotation, podUid} from './labels.js'
import {diffPods, type FieldChange} from './spec-diff.js'

export interface BackoffPolicy {
  /** First delay between restarts of a crashing container. */
  initialMs: number
  /** Cap of the doubling delay. */
  maxMs: number
  /** A container that ran at least this long before exiting resets the back-off. */
  resetMs: number
}

export const defaultBackoff: BackoffPolicy = {initialMs: 10_000, maxMs: 300_000, resetMs: 600_000}

export interface PlanOptions {
  /** Nanoseconds since the epoch. */
  now: bigint
  /** Which actual pods without a desired counterpart may be removed. */
  prune: (pod: ActualPod) => boolean
  backoff?: BackoffPolicy
  /** Exited containers kept per container name besides the newest one (for `logs --previous`). */
  keepExited?: number
  /** Whether a running container has started (its startup probe passed); default: yes. */
  started?: (containerId: string) => boolean
}

export type PodChange = 'created' | 'configured' | 'unchanged' | 'pruned'

export interface KillContainer {
  id: string
  name: string
  reason: string
  /** Remove right after stopping (it is not worth keeping for logs). */
  remove: boolean
}

export interface StartContainer {
  container: DesiredContainer
  attempt: number
  backoffStep: number
  reason: string
}

export interface WaitingContainer {
  name: string
  reason: 'CrashLoopBackOff' | 'PodInitializing'
  message: string
  /** When back-off ends (ns since epoch); undefined when waiting on something else. */
  until?: bigint
}

export interface PodActions {
  key: string
  name: string
  namespace: string
  uid: string
  change: PodChange
  /** One line that says what will happen and why. */
  reason: string
  desired?: DesiredPod
  actual?: ActualPod
  /** Stop and remove every sandbox and container of the pod (recreate or prune). */
  killPod: boolean
  createSandbox: boolean
  /** The sandbox to put containers in when it is kept. */
  sandboxId?: string
  sandboxAttempt: number
  killContainers: KillContainer[]
  /** Containers created earlier but never started (podrun stopped in between). */
  startExisting: {id: string; name: string; reason: string}[]
  startContainers: StartContainer[]
  waiting: WaitingContainer[]
  /** Garbage: old exited containers and dead sandboxes beyond what is kept for logs. */
  removeContainers: string[]
  removeSandboxes: string[]
  /** Ask for another pass after this long (back-off expiry, init progress). */
  requeueAfterMs?: number
  /** Field-level differences between the pod as in effect and the pod desired (for `diff`). */
  changes: FieldChange[]
  /** Keep the desired pod as the pod's record: fields that restart nothing changed (pod-record.ts). */
  recordSpec?: boolean
}

export function isNoop(a: PodActions): boolean {
  return (
    !a.killPod &&
    !a.createSandbox &&
    a.killContainers.length === 0 &&
    a.startExisting.length === 0 &&
    a.startContainers.length === 0 &&
    a.removeContainers.length === 0 &&
    a.removeSandboxes.length === 0 &&
    !a.recordSpec
  )
}

/** Plan every pod: desired ones (in the given order), then prunable leftovers. */
export function plan(desired: DesiredPod[], actual: ActualPod[], opts: PlanOptions): PodActions[] {
  const byKey = new Map(actual.map((p) => [p.key, p]))
  const out: PodActions[] = []
  for (const d of desired) out.push(planPod(d, byKey.get(d.key), opts))
  const wanted = new Set(desired.map((d) => d.key))
  for (const a of actual) {
    if (!wanted.has(a.key) && opts.prune(a)) out.push(planPrune(a))
  }
  return out
}

function base(key: string, name: string, namespace: string, uid: string): PodActions {
  return {
    key,
    name,
    namespace,
    uid,
    change: 'unchanged',
    reason: 'up to date',
    killPod: false,
    createSandbox: false,
    sandboxAttempt: 0,
    killContainers: [],
    startExisting: [],
    startContainers: [],
    waiting: [],
    removeContainers: [],
    removeSandboxes: [],
    changes: [],
  }
}

export function planPrune(a: ActualPod): PodActions {
  const uid = a.sandboxes[0]?.uid || podUid(a.namespace, a.name)
  return {...base(a.key, a.name, a.namespace, uid), actual: a, change: 'pruned', killPod: true, reason: 'no longer in the manifests'}
}

/** The newest container of each name, among those of the given sandbox (or all sandboxes). */
function newestByName(containers: ActualContainer[], sandboxId?: string): Map<string, ActualContainer> {
  const m = new Map<string, ActualContainer>()
  for (const c of containers) {
    if (sandboxId !== undefined && c.podSandboxId !== sandboxId) continue
    const cur = m.get(c.name)
    if (!cur || c.attempt > cur.attempt || (c.attempt === cur.attempt && c.createdAt > cur.createdAt)) m.set(c.name, c)
  }
  return m
}

function nextAttempt(all: ActualContainer[], name: string): number {
  let max = -1
  for (const c of all) if (c.name === name && c.attempt > max) max = c.attempt
  return max + 1
}


/** A pod whose dead sandbox is not made again: it ran under Never, or all its containers succeeded under OnFailure. */
function finished(d: DesiredPod, sb: ActualSandbox, all: ActualContainer[]): boolean {
  const inSandbox = newestByName(all, sb.id)
  if (d.restartPolicy === 'Never') return inSandbox.size > 0
  if (d.restartPolicy !== 'OnFailure') return false
  const succeeded = (name: string) => {
    const c = inSandbox.get(name)
    return c?.state === 'EXITED' && c.exitCode === 0
  }
  return [...d.initContainers, ...d.containers].every((c) => succeeded(c.name))
}

/** A native sidecar: an init container that keeps running (Kubernetes 1.29+). */
export const isSidecar = (c: {spec: {restartPolicy?: string}}): boolean => c.spec.restartPolicy === 'Always'

/** A sidecar that is not running (or runs an old spec): started, replaced or restarted with back-off. */
function keepSidecar(p: PodActions, ic: DesiredContainer, c: ActualContainer | undefined, all: ActualContainer[], now: bigint, b: BackoffPolicy): void {
  if (!c) {
    p.startContainers.push({container: ic, attempt: nextAttempt(all, ic.name), backoffStep: 0, reason: 'sidecar'})
  } else if (c.hash !== ic.hash) {
    if (c.state === 'RUNNING' || c.state === 'CREATED' || c.state === 'UNKNOWN') p.killContainers.push({id: c.id, name: c.name, reason: 'config changed', remove: false})
    p.startContainers.push({container: ic, attempt: nextAttempt(all, ic.name), backoffStep: 0, reason: 'config changed'})
  } else if (c.state === 'CREATED') {
    p.startExisting.push({id: c.id, name: c.name, reason: 'created but not started'})
  } else if (c.state === 'UNKNOWN') {
    p.killContainers.push({id: c.id, name: c.name, reason: 'state unknown', remove: false})
    p.startContainers.push({container: ic, attempt: nextAttempt(all, ic.name), backoffStep: 0, reason: 'replacing container in unknown state'})
  } else if (c.state === 'EXITED') {
    decideRestart(p, ic, c, all, now, b)
  }
}

/** Whether an exited container must run again under the pod's restart policy. */
export function shouldRestart(policy: DesiredPod['restartPolicy'], c: ActualContainer, init: boolean): boolean {
  if (init) return policy !== 'Never' ? c.exitCode !== 0 : false
  if (policy === 'Always') return true
  if (policy === 'OnFailure') return c.exitCode !== 0
  return false
}

/**
 * Crash-loop back-off without a state file: each container carries the back-off step it was started
 * at. Step 0 restarts at once; step n waits initial * 2^(n-1), capped; a run of resetMs or longer
 * starts over at step 0.
 */
export function backoffFor(c: ActualContainer, b: BackoffPolicy): {step: number; delayMs: number} {
  const prev = Number(c.annotations[Annotation.backoffStep] ?? '0') || 0
  const ranMs = c.startedAt !== undefined && c.finishedAt !== undefined ? Number((c.finishedAt - c.startedAt) / 1_000_000n) : 0
  const step = ranMs >= b.resetMs ? 0 : prev
  const delayMs = step === 0 ? 0 : Math.min(b.initialMs * 2 ** (step - 1), b.maxMs)
  return {step, delayMs}
}

function planPod(d: DesiredPod, a: ActualPod | undefined, opts: PlanOptions): PodActions {
  const back = opts.backoff ?? defaultBackoff
  const uid = a?.sandboxes[0]?.uid || podUid(d.namespace, d.name)
  const p: PodActions = {...base(d.key, d.name, d.namespace, uid), desired: d, actual: a}
  const all = a?.containers ?? []
  const current: ActualSandbox | undefined = a?.sandboxes[0]

  // 1. Decide on the sandbox.
  if (!a || a.sandboxes.length === 0) {
    p.createSandbox = true
    p.change = 'created'
    p.reason = a ? 'no sandbox: creating it' : 'new pod'
  } else if (current && current.sandboxHash !== d.sandboxHash) {
    p.killPod = true
    p.createSandbox = true
    p.change = 'configured'
    p.reason = 'pod-level config changed: recreating the pod'
    p.changes = diffPods(podAsRecorded(a), d.pod, true)
    if (!p.changes.some((c) => c.sandbox)) p.changes.unshift({path: 'pod', from: current.sandboxHash, to: d.sandboxHash, sandbox: true, effect: 'pod'})
  } else if (current && deadlineLeftMs(d, current, opts.now) === 0) {
    // activeDeadlineSeconds, as the kubelet: a pod active longer than that is failed for good
    // (DeadlineExceeded); what runs is stopped, nothing is started or made again.
    for (const c of all) {
      if (c.podSandboxId === current.id && (c.state === 'RUNNING' || c.state === 'CREATED' || c.state === 'UNKNOWN')) {
        p.killContainers.push({id: c.id, name: c.name, reason: 'DeadlineExceeded', remove: false})
      }
    }
    p.sandboxId = current.id
    p.sandboxAttempt = current.attempt
    p.reason = `the pod was active longer than its activeDeadlineSeconds (${d.pod.spec?.activeDeadlineSeconds}s): DeadlineExceeded`
    return p
  } else if (current && current.state !== 'READY') {
    if (finished(d, current, all)) {
      // The kubelet's rule: a pod that ran to its end (Never: it had containers; OnFailure: they
      // all succeeded) gets no new sandbox when its sandbox dies (a reboot, a power cut). What
      // still runs in the dead sandbox is stopped; the exited containers keep the final status.
      for (const c of all) {
        if (c.podSandboxId === current.id && (c.state === 'RUNNING' || c.state === 'CREATED' || c.state === 'UNKNOWN')) {
          p.killContainers.push({id: c.id, name: c.name, reason: 'the pod has finished and its sandbox is gone', remove: false})
        }
      }
      p.sandboxId = current.id
      p.sandboxAttempt = current.attempt
      p.reason = 'the pod has finished: its sandbox is not made again'
      return p
    }
    p.killPod = true
    p.createSandbox = true
    p.change = 'configured'
    p.reason = 'sandbox is not ready: recreating it'
  }

  if (p.createSandbox) {
    p.sandboxAttempt = current ? current.attempt + 1 : 0
    const first = d.initContainers[0] ?? undefined
    if (first) {
      p.startContainers.push({container: first, attempt: nextAttempt(all, first.name), backoffStep: 0, reason: 'init container'})
      p.waiting = d.containers.map((c) => ({name: c.name, reason: 'PodInitializing' as const, message: 'waiting for init containers'}))
    } else {
      for (const c of d.containers) {
        p.startContainers.push({container: c, attempt: nextAttempt(all, c.name), backoffStep: 0, reason: p.killPod ? 'pod recreated' : 'new pod'})
      }
    }
    return p
  }

  // 2. The sandbox stays: work container by container inside it.
  const sb = current!
  p.sandboxId = sb.id
  p.sandboxAttempt = sb.attempt
  const inSandbox = newestByName(all, sb.id)
  p.changes = diffPods(podAsRecorded(a), d.pod, false)
  const desiredNames = new Set([...d.initContainers, ...d.containers].map((c) => c.name))

  // Init containers: run in order; app containers wait until all have succeeded. A native sidecar
  // (restartPolicy: Always) need only have started (its startup probe passed) before the next
  // one, keeps running, and is restarted whatever the pod's restartPolicy. Once an app container
  // exists, the init phase is over: sidecars are kept running, the other init containers left be.
  const initPhaseOver = d.containers.some((dc) => inSandbox.has(dc.name))
  let initDone = true
  for (const ic of d.initContainers) {
    const c = inSandbox.get(ic.name)
    if (isSidecar(ic)) {
      if (c && c.hash === ic.hash && c.state === 'RUNNING') {
        if (initPhaseOver || (opts.started?.(c.id) ?? true)) continue
        initDone = false
        break
      }
      keepSidecar(p, ic, c, all, opts.now, back)
      if (initPhaseOver) continue
      initDone = false
      break
    }
    if (initPhaseOver) continue
    if (c && c.state === 'EXITED' && c.exitCode === 0 && c.hash === ic.hash) continue
    initDone = false
    if (!c) {
      p.startContainers.push({container: ic, attempt: nextAttempt(all, ic.name), backoffStep: 0, reason: 'init container'})
    } else if (c.state === 'CREATED') {
      p.startExisting.push({id: c.id, name: c.name, reason: 'created but not started'})
    } else if (c.state === 'EXITED') {
      if (shouldRestart(d.restartPolicy, c, true)) decideRestart(p, ic, c, all, opts.now, back)
    } else if (c.state === 'UNKNOWN') {
      p.killContainers.push({id: c.id, name: c.name, reason: 'state unknown', remove: false})
      p.startContainers.push({container: ic, attempt: nextAttempt(all, ic.name), backoffStep: 0, reason: 'replacing container in unknown state'})
    }
    break
  }
  if (!initDone) {
    for (const c of d.containers) {
      if (!inSandbox.has(c.name)) p.waiting.push({name: c.name, reason: 'PodInitializing', message: 'waiting for init containers'})
    }
  }

  for (const dc of initDone ? d.containers : []) {
    const c = inSandbox.get(dc.name)
    if (!c) {
      p.startContainers.push({container: dc, attempt: nextAttempt(all, dc.name), backoffStep: 0, reason: 'container missing'})
      continue
    }
    if (c.hash !== dc.hash) {
      if (c.state === 'RUNNING' || c.state === 'CREATED' || c.state === 'UNKNOWN') {
        p.killContainers.push({id: c.id, name: c.name, reason: 'config changed', remove: false})
      }
      p.startContainers.push({container: dc, attempt: nextAttempt(all, dc.name), backoffStep: 0, reason: 'config changed'})
      const prefix = `containers[${dc.name}]`
      if (!p.changes.some((x) => x.effect === 'container' && x.path.startsWith(prefix))) p.changes.push({path: prefix, from: c.hash, to: dc.hash, sandbox: false, effect: 'container'})
      continue
    }
    if (c.state === 'RUNNING') continue
    if (c.state === 'CREATED') {
      p.startExisting.push({id: c.id, name: c.name, reason: 'created but not started'})
    } else if (c.state === 'UNKNOWN') {
      p.killContainers.push({id: c.id, name: c.name, reason: 'state unknown', remove: false})
      p.startContainers.push({container: dc, attempt: nextAttempt(all, dc.name), backoffStep: 0, reason: 'replacing container in unknown state'})
    } else if (shouldRestart(d.restartPolicy, c, false)) {
      decideRestart(p, dc, c, all, opts.now, back)
    }
  }

  // Every app container has finished for good (Never, or OnFailure and all succeeded): the pod is
  // done, and its sidecars are stopped rather than kept (or restarted) for ever.
  const appsFinished =
    initPhaseOver &&
    d.containers.every((dc) => {
      const c = inSandbox.get(dc.name)
      return c?.state === 'EXITED' && c.hash === dc.hash && !shouldRestart(d.restartPolicy, c, false)
    })
  if (appsFinished) {
    const sidecars = new Set(d.initContainers.filter(isSidecar).map((c) => c.name))
    p.startContainers = p.startContainers.filter((s) => !sidecars.has(s.container.name))
    p.startExisting = p.startExisting.filter((s) => !sidecars.has(s.name))
    p.waiting = p.waiting.filter((w) => !sidecars.has(w.name))
    for (const name of sidecars) {
      const c = inSandbox.get(name)
      if (c && (c.state === 'RUNNING' || c.state === 'CREATED') && !p.killContainers.some((k) => k.id === c.id)) {
        p.killContainers.push({id: c.id, name, reason: 'the app containers have finished', remove: false})
      }
    }
  }

  // Containers that run but are no longer in the spec.
  for (const c of inSandbox.values()) {
    if (!desiredNames.has(c.name) && c.state !== 'EXITED') {
      p.killContainers.push({id: c.id, name: c.name, reason: 'removed from the spec', remove: true})
    }
    if (!desiredNames.has(c.name) && c.state === 'EXITED') p.removeContainers.push(c.id)
  }

  gcContainers(p, all, sb.id, desiredNames, opts.keepExited ?? 1)
  gcSandboxes(p, a!, sb.id)

  const finishing = p.killContainers.filter((k) => k.reason === 'the app containers have finished')
  const restarting = p.changes.filter((c) => c.effect !== 'none')
  p.recordSpec = p.changes.some((c) => c.effect === 'none')
  if (finishing.length > 0 && finishing.length === p.killContainers.length && restarting.length === 0) {
    p.reason = `the pod has finished: stopping sidecar${finishing.length === 1 ? '' : 's'} ${finishing.map((k) => k.name).join(', ')}`
  } else if (p.killContainers.length > 0 || restarting.length > 0) {
    p.change = 'configured'
    const replaced = p.startContainers.filter((s) => s.reason === 'config changed').map((s) => s.container.name)
    const names = [...new Set([...p.killContainers.map((k) => k.name), ...replaced])]
    p.reason = `replacing container${names.length === 1 ? '' : 's'} ${names.join(', ')}`
  } else if (p.startContainers.length > 0 || p.startExisting.length > 0) {
    const names = [...p.startContainers.map((s) => s.container.name), ...p.startExisting.map((s) => s.name)]
    p.reason = `starting ${names.join(', ')}`
  } else if (p.recordSpec) {
    p.reason = 'only fields that restart nothing changed: keeping them, restarting nothing'
  } else if (p.waiting.some((w) => w.reason === 'CrashLoopBackOff')) {
    p.reason = p.waiting.map((w) => `${w.name}: ${w.message}`).join('; ')
  }
  if (p.recordSpec && p.change === 'unchanged') p.change = 'configured'
  // Wake up when the active deadline comes.
  const left = deadlineLeftMs(d, sb, opts.now)
  if (left !== undefined) p.requeueAfterMs = Math.min(p.requeueAfterMs ?? Infinity, Math.max(left, 1))
  return p
}

/** What is left of a pod's activeDeadlineSeconds, counted from its sandbox's creation; undefined without one. */
export function deadlineLeftMs(d: {pod: {spec?: {activeDeadlineSeconds?: number}}}, sb: {createdAt: bigint}, now: bigint): number | undefined {
  const deadline = d.pod.spec?.activeDeadlineSeconds
  if (deadline === undefined) return undefined
  return Math.max(0, Number((sb.createdAt + BigInt(deadline) * 1_000_000_000n - now) / 1_000_000n))
}

function decideRestart(p: PodActions, dc: DesiredContainer, c: ActualContainer, all: ActualContainer[], now: bigint, b: BackoffPolicy): void {
  const {step, delayMs} = backoffFor(c, b)
  const finished = c.finishedAt ?? 0n
  const until = finished + BigInt(delayMs) * 1_000_000n
  if (delayMs > 0 && now < until) {
    const leftMs = Number((until - now) / 1_000_000n)
    p.waiting.push({name: dc.name, reason: 'CrashLoopBackOff', message: `back-off ${Math.round(delayMs / 1000)}s restarting failed container`, until})
    p.requeueAfterMs = Math.min(p.requeueAfterMs ?? Infinity, Math.max(leftMs, 1))
    return
  }
  p.startContainers.push({
    container: dc,
    attempt: nextAttempt(all, dc.name),
    backoffStep: step + 1,
    reason: `restarting (exited with code ${c.exitCode ?? '?'})`,
  })
}

/** Keep the newest container of each desired name (and `keep` exited ones before it); remove the rest. */
function gcContainers(p: PodActions, all: ActualContainer[], sandboxId: string, desiredNames: Set<string>, keep: number): void {
  const byName = new Map<string, ActualContainer[]>()
  for (const c of all) {
    if (c.podSandboxId !== sandboxId || !desiredNames.has(c.name)) continue
    byName.set(c.name, [...(byName.get(c.name) ?? []), c])
  }
  const killed = new Set(p.killContainers.map((k) => k.id))
  for (const list of byName.values()) {
    list.sort((x, y) => y.attempt - x.attempt || (y.createdAt > x.createdAt ? 1 : y.createdAt < x.createdAt ? -1 : 0))
    // When a new attempt starts now, the current newest becomes "previous" and counts toward keep.
    const starting = p.startContainers.some((s) => s.container.name === list[0].name)
    const keepCount = 1 + keep - (starting ? 1 : 0)
    for (const c of list.slice(Math.max(keepCount, 0))) {
      if (c.state === 'EXITED' && !killed.has(c.id)) p.removeContainers.push(c.id)
    }
  }
}

/** Sandboxes other than the current one are dead weight once their containers are gone. */
function gcSandboxes(p: PodActions, a: ActualPod, keepId: string | undefined): void {
  for (const s of a.sandboxes) {
    if (s.id === keepId) continue
    p.removeSandboxes.push(s.id)
  }
}

/** One line per pod, kubectl-style, for logs and `--dry-run`. */
export function describe(a: PodActions): string {
  const parts: string[] = []
  if (a.killPod) parts.push('kill pod')
  if (a.createSandbox) parts.push('create sandbox')
  for (const k of a.killContainers) parts.push(`stop ${k.name} (${k.reason})`)
  for (const s of a.startExisting) parts.push(`start ${s.name} (${s.reason})`)
  for (const s of a.startContainers) parts.push(`start ${s.container.name}#${s.attempt} (${s.reason})`)
  for (const w of a.waiting) parts.push(`wait ${w.name} (${w.reason})`)
  if (a.removeContainers.length > 0) parts.push(`gc ${a.removeContainers.length} container(s)`)
  if (a.removeSandboxes.length > 0) parts.push(`gc ${a.removeSandboxes.length} sandbox(es)`)
  return `pod/${a.name} -n ${a.namespace} ${a.change}: ${a.reason}${parts.length ? ` [${parts.join('; ')}]` : ''}`
}
