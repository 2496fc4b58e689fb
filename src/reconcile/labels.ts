// Identity in labels: podrun keeps no state file; everything it needs to decide is stored on the
// sandboxes and containers it creates. The kubelet's own keys make crictl and other tools show
// podrun's pods the way they show a kubelet's.
import {createHash} from 'node:crypto'

export const Label = {
  podName: 'io.kubernetes.pod.name',
  podNamespace: 'io.kubernetes.pod.namespace',
  podUid: 'io.kubernetes.pod.uid',
  containerName: 'io.kubernetes.container.name',
  managedBy: 'podrun.io/managed-by',
  sandboxHash: 'podrun.io/sandbox-hash',
  containerHash: 'podrun.io/container-hash',
  source: 'podrun.io/source',
} as const

export const MANAGED_BY = 'podrun'

export const Annotation = {
  /** The normalized Pod (JSON) a sandbox was created from: `get -o yaml` and `diff` read it back. */
  podSpec: 'podrun.io/pod',
  /** The normalized container spec (JSON) a container was created from. */
  containerSpec: 'podrun.io/container',
  /** Crash-loop back-off step at which the container was started (0 = first start). */
  backoffStep: 'podrun.io/backoff-step',
  /** Whether this is an init container ("true"/"false"). */
  initContainer: 'podrun.io/init-container',
  /** The kubelet's annotations, for tools that read them. */
  restartCount: 'io.kubernetes.container.restartCount',
  terminationGracePeriod: 'io.kubernetes.pod.terminationGracePeriod',
} as const

/** A JSON annotation podrun wrote (a stored spec), or undefined when absent or unreadable. */
export function annotationJson<T>(annotations: Record<string, string> | undefined, key: string): T | undefined {
  const raw = annotations?.[key]
  if (!raw) return undefined
  try {
    return JSON.parse(raw) as T
  } catch {
    return undefined
  }
}

/** The label filter that selects what podrun manages. */
export const managedSelector: Record<string, string> = {[Label.managedBy]: MANAGED_BY}

/**
 * A pod's UID: stable for a namespace/name so that its log folder and cgroup path stay the same
 * across sandbox recreations and podrun restarts, without any state file. Shaped like a UUID.
 */
export function podUid(namespace: string, name: string): string {
  const h = createHash('sha256').update(`podrun/${namespace}/${name}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

