// Observe: the actual state from the runtime. One ListPodSandbox and one ListContainers per pass,
// label-filtered to what podrun manages, grouped into pods; ContainerStatus only for the exited
// containers whose exit code and times a decision needs (the newest of each name).
import type {CriClient} from '../cri/client.js'
import type {Container, PodSandbox} from '../cri/types.js'
import type {ActualContainer, ActualPod, ContainerState, SandboxState} from '../model/actual.js'
import {objectKey} from '../model/desired.js'
import {Annotation, annotationJson, Label, managedSelector} from './labels.js'
import {compareText} from '../lib/compare.js'
import {logRoot, podRoot} from '../lib/paths.js'
import {containerLogFile} from './sandbox-config.js'
import {terminationMessage} from './termination.js'
import {readRecord} from './pod-record.js'
import type {Container as K8sContainer} from 'kubernetes-types/core/v1.js'

/** CRI state numbers, in the order of the runtime's enums. */
export const SANDBOX_STATES: SandboxState[] = ['READY', 'NOTREADY']
export const CONTAINER_STATES: ContainerState[] = ['CREATED', 'RUNNING', 'EXITED', 'UNKNOWN']

function sandboxState(n: number): SandboxState {
  return SANDBOX_STATES[n] ?? 'NOTREADY'
}

function containerState(n: number): ContainerState {
  return CONTAINER_STATES[n] ?? 'UNKNOWN'
}

function byNewest<T extends {createdAt: bigint}>(a: T, b: T): number {
  return a.createdAt === b.createdAt ? 0 : a.createdAt > b.createdAt ? -1 : 1
}

/** Group raw runtime objects into pods. Pure, so it is tested without a runtime. */
export function groupPods(sandboxes: PodSandbox[], containers: Container[]): ActualPod[] {
  const pods = new Map<string, ActualPod>()
  const podOfSandbox = new Map<string, ActualPod>()
  for (const s of [...sandboxes].sort(byNewest)) {
    const name = s.labels[Label.podName] ?? s.metadata?.name ?? ''
    const namespace = s.labels[Label.podNamespace] ?? s.metadata?.namespace ?? 'default'
    const key = objectKey(namespace, name)
    let pod = pods.get(key)
    if (!pod) {
      pod = {key, name, namespace, source: s.labels[Label.source] ?? '', sandboxes: [], containers: []}
      pods.set(key, pod)
    }
    pod.sandboxes.push({
      id: s.id,
      state: sandboxState(s.state),
      createdAt: s.createdAt,
      attempt: s.metadata?.attempt ?? 0,
      uid: s.labels[Label.podUid] ?? s.metadata?.uid ?? '',
      labels: s.labels,
      annotations: s.annotations,
      sandboxHash: s.labels[Label.sandboxHash] ?? '',
    })
    podOfSandbox.set(s.id, pod)
  }
  for (const c of [...containers].sort(byNewest)) {
    const pod = podOfSandbox.get(c.podSandboxId)
    if (!pod) continue // its sandbox is gone or not ours; the runtime removes it with the sandbox
    pod.containers.push({
      id: c.id,
      podSandboxId: c.podSandboxId,
      name: c.labels[Label.containerName] ?? c.metadata?.name ?? '',
      attempt: c.metadata?.attempt ?? 0,
      state: containerState(c.state),
      createdAt: c.createdAt,
      image: c.image?.userSpecifiedImage || c.image?.image || '',
      imageRef: c.imageRef,
      labels: c.labels,
      annotations: c.annotations,
      hash: c.labels[Label.containerHash] ?? '',
    })
  }
  return [...pods.values()].sort((a, b) => compareText(a.key, b.key))
}

/** The containers whose status a decision needs: the newest exited one of each name per sandbox. */
function needStatus(pod: ActualPod): ActualContainer[] {
  const seen = new Set<string>()
  const out: ActualContainer[] = []
  for (const c of pod.containers) {
    const k = `${c.podSandboxId}/${c.name}`
    if (seen.has(k)) continue
    seen.add(k)
    if (c.state === 'EXITED') out.push(c)
  }
  return out
}

export async function fillStatus(cri: CriClient, c: ActualContainer): Promise<void> {
  try {
    const st = (await cri.containerStatus(c.id)).status
    if (!st) return
    c.exitCode = st.exitCode
    c.startedAt = st.startedAt
    c.finishedAt = st.finishedAt
    c.reason = st.reason
    c.message = st.message
    c.logPath = st.logPath || undefined
    if (c.state === 'EXITED' && !c.message) c.message = await messageOf(c)
    if (st.image?.image && !c.image) c.image = st.image.image
  } catch {
    // Removed between list and status: the next pass sees it gone.
  }
}

/** What the program left in its termination-message file (termination.ts). */
async function messageOf(c: ActualContainer): Promise<string> {
  try {
    return await terminationMessage({
      podRoot: podRoot(),
      uid: c.labels[Label.podUid] ?? '',
      container: c.name,
      attempt: c.attempt,
      spec: annotationJson<K8sContainer>(c.annotations, Annotation.containerSpec),
      exitCode: c.exitCode,
      logFile: containerLogFile(logRoot(), c.labels, c.name, c.attempt),
    })
  } catch {
    return ''
  }
}

export interface ObserveOptions {
  /** Fetch ContainerStatus for every container (for `get pods`), not only where the planner needs it. */
  allStatuses?: boolean
}

export async function observe(cri: CriClient, opts: ObserveOptions = {}): Promise<ActualPod[]> {
  const [sandboxes, containers] = await Promise.all([
    cri.listPodSandbox({labelSelector: managedSelector}),
    cri.listContainers({labelSelector: managedSelector}),
  ])
  const pods = groupPods(sandboxes, containers)
  for (const p of pods) {
    const uid = p.sandboxes[0]?.uid
    if (uid) p.record = readRecord(podRoot(), uid)
  }
  const todo = pods.flatMap((p) => (opts.allStatuses ? p.containers : needStatus(p)))
  await Promise.all(todo.map((c) => fillStatus(cri, c)))
  return pods
}
