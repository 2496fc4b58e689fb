// Actual state: what the runtime reports, grouped into pods by podrun's labels. Produced by
// src/reconcile/observe.ts from one ListPodSandbox + one ListContainers; consumed by the planner.

import type {PodRecord} from '../reconcile/pod-record.js'

export type SandboxState = 'READY' | 'NOTREADY'
export type ContainerState = 'CREATED' | 'RUNNING' | 'EXITED' | 'UNKNOWN'

export interface ActualSandbox {
  id: string
  state: SandboxState
  /** Nanoseconds since the epoch (beyond 2^53, hence bigint). */
  createdAt: bigint
  attempt: number
  uid: string
  labels: Record<string, string>
  annotations: Record<string, string>
  /** podrun's sandbox-config hash label ("" when absent). */
  sandboxHash: string
}

export interface ActualContainer {
  id: string
  podSandboxId: string
  name: string
  attempt: number
  state: ContainerState
  createdAt: bigint
  image: string
  imageRef: string
  labels: Record<string, string>
  annotations: Record<string, string>
  /** podrun's container-config hash label ("" when absent). */
  hash: string
  /** Filled from ContainerStatus only where a decision needs it. */
  startedAt?: bigint
  finishedAt?: bigint
  exitCode?: number
  reason?: string
  message?: string
  /** The log file the runtime writes for it (ContainerStatus.log_path). */
  logPath?: string
}

export interface ActualPod {
  key: string
  name: string
  namespace: string
  /** podrun's source label of the newest sandbox. */
  source: string
  /** Newest first. */
  sandboxes: ActualSandbox[]
  /** All containers of all of this pod's sandboxes, newest first. */
  containers: ActualContainer[]
  /** The pod as last applied, when an edit that restarted nothing is kept beside it (reconcile/pod-record.ts). */
  record?: PodRecord
}
