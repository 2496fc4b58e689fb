// Who may change a pod: the source that created it (its `podrun.io/source` label). `podrun apply`
// owns the pods labelled `apply`; a daemon owns the pods labelled with a file of its manifest
// folder. Neither changes nor prunes the other's pods: apply refuses (per pod, naming the file that
// owns it), the daemon reports a conflict and leaves the pod alone.
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
    const file = owner.startsWith('/')
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
