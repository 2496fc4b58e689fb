// Desired state: what the manifests ask for, after validation and normalization (defaults filled,
// hashes computed). Produced by src/manifest/, consumed by the planner. Plain data only.
import type {Container, Pod} from 'kubernetes-types/core/v1.js'

/** "namespace/name": how podrun names a pod (and a ConfigMap or Secret) everywhere. */
export function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`
}

/** Where a manifest object came from, so any later error can point at it. */
export interface SourceRef {
  /** File path as given by the user, or "<stdin>". */
  file: string
  /** 0-based index of the YAML document in that file. */
  doc: number
  /** 1-based line and column of the object's start. */
  line: number
  col: number
}

export interface DesiredContainer {
  name: string
  /** Normalized Kubernetes container spec (defaults filled in). */
  spec: Container
  /** Stable hash of exactly the fields that, when changed, require replacing this container. */
  hash: string
  /** Init containers run to completion, in order, before app containers start. */
  init: boolean
}

export interface DesiredPod {
  /** "namespace/name": the identity of a pod for podrun. */
  key: string
  name: string
  namespace: string
  /** Normalized Pod (metadata, spec with defaults); status absent. */
  pod: Pod
  /** Stable hash of the sandbox-level config (namespaces, hostname, DNS, ports, ...). */
  sandboxHash: string
  initContainers: DesiredContainer[]
  containers: DesiredContainer[]
  /** "Always" | "OnFailure" | "Never" (defaulted). */
  restartPolicy: 'Always' | 'OnFailure' | 'Never'
  terminationGracePeriodSeconds: number
  /** Label value naming who owns the pod: a manifest file path for the daemon, or "apply". */
  source: string
  origin: SourceRef
}
