// A daemon's pod as a Kubernetes Pod object: what the runtime shows (podFromRuntime), with what
// only the daemon knows put on top (image pull reasons, a broken manifest, a conflict), or, for a
// pod the runtime does not have, Pending as the kubelet reports it. The same pieces serve both
// sides: the daemon's status manager computes its view with them (daemonPod), and `get pods` with
// the daemon's facts over a fresh listing, so the two never disagree.
import type {ContainerStatus, Pod, PodCondition} from 'kubernetes-types/core/v1.js'
import type {ActualPod} from '../model/actual.js'
import {Label} from '../reconcile/labels.js'
import type {BackoffPolicy} from '../reconcile/plan.js'
import {podFromRuntime, type StatusExtras} from '../reconcile/status.js'
import type {DaemonPodInfo, DaemonPodList, WaitingInfo} from './view.js'

/**
 * The waiting reasons podFromRuntime cannot know from the runtime: image pull failures (the
 * container does not exist yet). Crash-loop back-off it computes itself, given the same policy.
 */
export function statusOverrides(waiting: Record<string, WaitingInfo>): Record<string, {reason: string; message?: string}> {
  const out: Record<string, {reason: string; message?: string}> = {}
  for (const [name, w] of Object.entries(waiting)) if (w.reason !== 'CrashLoopBackOff') out[name] = {reason: w.reason, message: w.message}
  return out
}

/** What to give podFromRuntime for a pod the daemon knows: its back-off policy, image pull reasons and probe results. */
function extrasOf(backoff: BackoffPolicy, info: DaemonPodInfo | undefined): StatusExtras {
  const waiting = info ? statusOverrides(info.waiting) : {}
  return {backoff, waiting: Object.keys(waiting).length > 0 ? waiting : undefined, probes: info?.probes}
}

/** The same, on the client side (`get pods`), from the daemon's answer. */
export function daemonExtras(list: DaemonPodList, info: DaemonPodInfo | undefined): StatusExtras {
  return extrasOf(list.daemon.backoff, info)
}

export const MANIFEST_CONDITION = 'podrun.io/ManifestValid'
export const OWNER_CONDITION = 'podrun.io/OwnedByDaemon'
export const ROLLOUT_CONDITION = 'podrun.io/ManifestVersionRunning'

/** Puts what the daemon knows and the runtime cannot (a broken manifest, a conflict) on the Pod's status. */
export function annotatePod(pod: Pod, info: DaemonPodInfo | undefined): void {
  if (!info || !pod.status) return
  const conds: PodCondition[] = pod.status.conditions ?? []
  const messages: string[] = []
  if (info.manifestError) {
    const more = (info.manifestErrors?.length ?? 1) > 1 ? ` (and ${(info.manifestErrors?.length ?? 1) - 1} more)` : ''
    const message = `manifest invalid, running the last good version: ${info.manifestError}${more}`
    conds.push({type: MANIFEST_CONDITION, status: 'False', reason: 'ManifestInvalid', message})
    messages.push(message)
  }
  if (info.rolledBack) {
    conds.push({type: ROLLOUT_CONDITION, status: 'False', reason: 'RolledBack', message: info.rolledBack})
    messages.push(info.rolledBack)
  }
  if (info.conflict) {
    conds.push({type: OWNER_CONDITION, status: 'False', reason: 'Conflict', message: info.conflict})
    messages.push(info.conflict)
  }
  if (info.lastError && !messages.length && info.status !== 'Running') messages.push(`${info.lastError.reason}: ${info.lastError.message}`)
  pod.status.conditions = conds
  if (messages.length > 0) pod.status.message = messages.join('; ')
}

/**
 * A pod the daemon wants and the runtime does not have (its sandbox failed, or is being made), as
 * the kubelet reports one: Pending, containers waiting in ContainerCreating (PodInitializing behind
 * init containers), or the reason the daemon knows (ErrImagePull, ...).
 */
export function podFromDaemon(info: DaemonPodInfo, nodeName: string): Pod | undefined {
  if (!info.absent || info.conflict) return undefined
  return pendingPod({name: info.name, namespace: info.namespace, source: info.source, ...info.absent}, info.waiting, nodeName)
}

type Named = {name: string; image: string}

/** A pod wanted but not in the runtime (its sandbox or first container could not be made): Pending, with why. */
export function pendingPod(p: {name: string; namespace: string; source: string; initContainers: Named[]; containers: Named[]}, waiting: Record<string, {reason: string; message?: string}>, nodeName: string): Pod {
  const {initContainers, containers} = p
  const status = (c: Named, fallback: string): ContainerStatus => {
    const w = waiting[c.name]
    return {name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false, state: {waiting: {reason: w?.reason ?? fallback, ...(w?.message ? {message: w.message} : {})}}}
  }
  const behindInits = initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating'
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name: p.name, namespace: p.namespace, annotations: {[Label.source]: p.source}},
    spec: {nodeName, containers: containers.map((c) => ({name: c.name, image: c.image})), ...(initContainers.length > 0 ? {initContainers: initContainers.map((c) => ({name: c.name, image: c.image}))} : {})},
    status: {
      phase: 'Pending',
      conditions: [
        {type: 'PodScheduled', status: 'True'},
        {type: 'Initialized', status: initContainers.length > 0 ? 'False' : 'True'},
        {type: 'ContainersReady', status: 'False'},
        {type: 'Ready', status: 'False'},
      ],
      ...(initContainers.length > 0 ? {initContainerStatuses: initContainers.map((c, i) => status(c, i === 0 ? 'ContainerCreating' : 'PodInitializing'))} : {}),
      containerStatuses: containers.map((c) => status(c, behindInits)),
    },
  }
}

/**
 * The Pod of a pod the daemon knows: from the runtime when it has the pod, else from the daemon's
 * record; either way with the daemon's facts on its status.
 */
export function daemonPod(a: ActualPod | undefined, info: DaemonPodInfo, now: bigint, o: {backoff: BackoffPolicy; nodeName: string}): Pod | undefined {
  const pod = a ? podFromRuntime(a, now, extrasOf(o.backoff, info)) : podFromDaemon(info, o.nodeName)
  if (pod) annotatePod(pod, info)
  return pod
}
