// Who may change a pod: the source that created it (its `podrun.io/source` label). `podrun apply`
// owns the pods labelled `apply`; a daemon owns the pods labelled with a file of its manifest
// folder. Neither changes nor prunes the other's pods: apply refuses (per pod, naming the file that
// owns it), the daemon reports a conflict and leaves the pod alone. `podrun delete` leaves a
// daemon's pods alone unless forced: the daemon would start them again (as the kubelet does with
// static pods); removing the file is how such a pod goes.
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'

export interface Refusal {
  key: string
  name: string
  namespace: string
  /** The `podrun.io/source` of the existing pod. */
  owner: string
  message: string
}

/** Pods the given source may converge, and those another source owns. */
export function splitByOwner(desired: DesiredPod[], actual: ActualPod[], source: string): {allowed: DesiredPod[]; refused: Refusal[]} {
  const byKey = new Map(actual.map((a) => [a.key, a]))
  const allowed: DesiredPod[] = []
  const refused: Refusal[] = []
  for (const d of desired) {
    const owner = byKey.get(d.key)?.source ?? ''
    // Pods without a source label (made by an older podrun) belong to whoever applies them.
    if (owner === '' || owner === source) {
      allowed.push(d)
      continue
    }
    const file = isDaemonSource(owner)
    refused.push({
      key: d.key,
      name: d.name,
      namespace: d.namespace,
      owner,
      message: file
        ? `pod ${d.key} is run by a podrun daemon from ${owner}: edit or remove that file instead (apply does not change a daemon's pods)`
        : `pod ${d.key} belongs to ${owner}, not to ${source}: left unchanged`,
    })
  }
  return {allowed, refused}
}

/** A daemon's pods are labelled with the absolute path of their manifest file. */
export const isDaemonSource = (source: string): boolean => source.startsWith('/')

/** Why `podrun delete` leaves this pod alone, or undefined when it may delete it. */
export function deleteRefusal(pod: {key: string; source: string}): string | undefined {
  if (!isDaemonSource(pod.source)) return undefined
  return `pod ${pod.key} is run by a podrun daemon from ${pod.source}: remove that file from the daemon's folder instead (--force deletes the pod anyway, and a running daemon starts it again)`
}
