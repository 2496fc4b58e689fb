// Status: Kubernetes-shaped Pod objects computed from the runtime alone (the pod spec stored on the
// sandbox, the containers' states and exit codes, the sandbox IP), and the kubectl table columns.
import type {ContainerStatus as K8sContainerStatus, ContainerState as K8sContainerState, Pod, PodCondition} from 'kubernetes-types/core/v1.js'
import type {ActualContainer, ActualPod} from '../model/actual.js'
import {podAsRecorded} from './pod-record.js'
import {backoffFor, deadlineLeftMs, defaultBackoff, shouldRestart, type BackoffPolicy} from './plan.js'
import {qosClass} from './sandbox-config.js'

export interface StatusExtras {
  /** Sandbox IP (from PodSandboxStatus), "" when unknown or host network. */
  podIP?: string
  hostIP?: string
  /** Per container name: why it is waiting, when podrun knows better than the runtime (daemon view). */
  waiting?: Record<string, {reason: string; message?: string}>
  backoff?: BackoffPolicy
  /**
   * Whether something restarts exited containers (a podrun daemon answers). Without one, a
   * container that its policy would restart is shown as it ended (Error), not in a back-off that
   * nothing waits out.
   */
  supervised?: boolean
  /** What the probes say, by container id (the daemon's prober): ready and started. */
  probes?: Record<string, {ready: boolean; started: boolean}>
}

const iso = (ns: bigint | undefined): string | undefined => (ns && ns > 0n ? new Date(Number(ns / 1_000_000n)).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined)

function runtimeId(c: ActualContainer): string {
  return `containerd://${c.id}`
}

function terminated(c: ActualContainer): K8sContainerState {
  return {
    terminated: {
      exitCode: c.exitCode ?? 0,
      reason: c.reason || (c.exitCode === 0 ? 'Completed' : 'Error'),
      message: c.message || undefined,
      startedAt: iso(c.startedAt),
      finishedAt: iso(c.finishedAt),
      containerID: runtimeId(c),
    },
  }
}

/** The Kubernetes Pod (spec as in effect, pod-record.ts; status from the runtime) at time `now`. */
export function podFromRuntime(a: ActualPod, now: bigint, extras: StatusExtras = {}): Pod {
  const pod: Pod = podAsRecorded(a) ?? {apiVersion: 'v1', kind: 'Pod', metadata: {name: a.name, namespace: a.namespace}, spec: {containers: []}}
  const spec = pod.spec!
  const sb = a.sandboxes[0]
  const policy = (spec.restartPolicy ?? 'Always') as 'Always' | 'OnFailure' | 'Never'
  const inSandbox = (name: string) => a.containers.filter((c) => c.podSandboxId === sb?.id && c.name === name)

  const statusOf = (name: string, image: string, init: boolean, sidecar = false): K8sContainerStatus => {
    const list = inSandbox(name)
    const cur = list[0]
    const prev = list[1] ?? a.containers.find((c) => c.name === name && c !== cur && c.state === 'EXITED')
    const st: K8sContainerStatus = {name, image: cur?.image || image, imageID: cur?.imageRef ?? '', ready: false, restartCount: cur?.attempt ?? 0, started: false}
    if (cur) st.containerID = runtimeId(cur)
    if (prev?.state === 'EXITED' && prev.exitCode !== undefined) st.lastState = terminated(prev)
    const override = extras.waiting?.[name]
    if (!cur) {
      st.state = {waiting: {reason: override?.reason ?? (init ? 'PodInitializing' : 'ContainerCreating'), message: override?.message}}
    } else if (cur.state === 'RUNNING') {
      st.state = {running: {startedAt: iso(cur.startedAt ?? cur.createdAt)}}
      const probed = extras.probes?.[cur.id]
      // A sidecar counts as ready as an app container does; other init containers never are.
      st.ready = (!init || sidecar) && (probed?.ready ?? true)
      st.started = probed?.started ?? true
    } else if (cur.state === 'EXITED') {
      const again = shouldRestart(policy, cur, init)
      const b = backoffFor(cur, extras.backoff ?? defaultBackoff)
      const until = (cur.finishedAt ?? 0n) + BigInt(b.delayMs) * 1_000_000n
      if (override) st.state = {waiting: {reason: override.reason, message: override.message}}
      else if (again && extras.supervised !== false && b.delayMs > 0 && now < until) {
        st.state = {waiting: {reason: 'CrashLoopBackOff', message: `back-off ${Math.round(b.delayMs / 1000)}s restarting failed container=${name} pod=${a.name}`}}
        st.lastState = terminated(cur)
      } else st.state = terminated(cur)
    } else if (cur.state === 'CREATED') {
      st.state = {waiting: {reason: override?.reason ?? 'ContainerCreating'}}
    } else {
      st.state = {waiting: {reason: 'Unknown'}}
    }
    return st
  }

  const initStatuses = (spec.initContainers ?? []).map((c) => statusOf(c.name, c.image ?? '', true, c.restartPolicy === 'Always'))
  const statuses = spec.containers.map((c) => statusOf(c.name, c.image ?? '', false))
  // Init is done when each init container has succeeded, or (a sidecar) has started; or once an
  // app container has run at all (a sidecar restarting later does not take the pod back to init).
  const appsRan = statuses.some((s) => s.state?.running || s.state?.terminated || s.lastState?.terminated)
  const initDone = appsRan || initStatuses.every((s, i) => s.state?.terminated?.exitCode === 0 || (spec.initContainers![i].restartPolicy === 'Always' && s.started))
  const sandboxReady = sb?.state === 'READY'

  let phase: string
  const allTerminated = statuses.length > 0 && statuses.every((s) => s.state?.terminated)
  if (!initDone || !sandboxReady && !allTerminated) phase = 'Pending'
  else if (allTerminated && statuses.every((s) => s.state?.terminated?.exitCode === 0) && policy !== 'Always') phase = 'Succeeded'
  else if (allTerminated && policy === 'Never' && statuses.some((s) => s.state?.terminated?.exitCode !== 0)) phase = 'Failed'
  else if (statuses.some((s) => s.state?.running || s.state?.terminated || s.lastState?.terminated)) phase = 'Running'
  else phase = 'Pending'
  if (initStatuses.some((s) => s.state?.terminated && s.state.terminated.exitCode !== 0) && policy === 'Never') phase = 'Failed'

  const overdue = sb !== undefined && deadlineLeftMs({pod}, sb, now) === 0
  if (overdue) phase = 'Failed'
  const sidecarStatuses = initStatuses.filter((_, i) => spec.initContainers![i].restartPolicy === 'Always')
  const ready = sandboxReady && statuses.length > 0 && statuses.every((s) => s.ready) && sidecarStatuses.every((s) => s.ready)
  const t = iso(sb?.createdAt)
  const cond = (type: string, ok: boolean): PodCondition => ({type, status: ok ? 'True' : 'False', lastTransitionTime: t})
  const conditions = [
    cond('PodReadyToStartContainers', sandboxReady),
    cond('Initialized', initDone),
    cond('Ready', ready),
    cond('ContainersReady', ready),
    cond('PodScheduled', true),
  ]
  const oldest = a.sandboxes[a.sandboxes.length - 1]
  return {
    ...pod,
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {...pod.metadata, name: a.name, namespace: a.namespace, uid: sb?.uid, creationTimestamp: iso(oldest?.createdAt)},
    status: {
      phase,
      ...(overdue ? {reason: 'DeadlineExceeded', message: 'Pod was active on the node longer than the specified deadline'} : {}),
      conditions,
      hostIP: extras.hostIP,
      podIP: extras.podIP || undefined,
      podIPs: extras.podIP ? [{ip: extras.podIP}] : undefined,
      startTime: t,
      initContainerStatuses: initStatuses.length ? initStatuses : undefined,
      containerStatuses: statuses,
      qosClass: qosClass({...pod, spec}),
    },
  }
}

export interface PodRow {
  name: string
  namespace: string
  ready: string
  status: string
  restarts: string
  age: string
  ip: string
}

/** kubectl's STATUS column: the most telling reason among the containers. */
export function statusReason(pod: Pod): string {
  const st = pod.status ?? {}
  // A pod failed as a whole (DeadlineExceeded) says so, as kubectl shows a pod's own reason.
  if (st.phase === 'Failed' && st.reason) return st.reason
  const inits = st.initContainerStatuses ?? []
  const specs = pod.spec?.initContainers ?? []
  for (let i = 0; i < inits.length; i++) {
    const s = inits[i]
    if (s.state?.terminated?.exitCode === 0) continue
    // A sidecar that has started counts as done; once the app containers run, init is over.
    if (specs[i]?.restartPolicy === 'Always' && s.started) continue
    if ((st.containerStatuses ?? []).some((c) => c.state?.running || c.state?.terminated || c.lastState?.terminated)) break
    if (s.state?.terminated) return `Init:${s.state.terminated.reason ?? 'Error'}`
    if (s.state?.waiting?.reason && s.state.waiting.reason !== 'PodInitializing') return `Init:${s.state.waiting.reason}`
    return `Init:${i}/${inits.length}`
  }
  let reason = st.phase ?? 'Unknown'
  let running = false
  for (const s of [...(st.containerStatuses ?? [])].reverse()) {
    if (s.state?.waiting?.reason) reason = s.state.waiting.reason
    else if (s.state?.terminated) reason = s.state.terminated.reason ?? (s.state.terminated.exitCode === 0 ? 'Completed' : 'Error')
    else if (s.state?.running) running = true
  }
  if (reason === 'Completed' && running) reason = 'Running'
  return reason
}
