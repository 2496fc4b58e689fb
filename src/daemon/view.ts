// The daemon's view of its pods, as its API serves it (GET /api/v1/pods) and `podrun get pods`
// reads it. Plain JSON: times are RFC 3339 strings. This module holds types and small pure helpers
// only, so the client side (`get pods`) loads nothing else of the daemon.

export interface DaemonEvent {
  /** RFC 3339: the last time it happened. */
  time: string
  type: 'Normal' | 'Warning'
  reason: string
  message: string
  /** How many times it happened (as Kubernetes aggregates repeated events), and the first time. */
  count?: number
  firstTime?: string
}

export interface WaitingInfo {
  reason: string
  message?: string
  /** When the back-off ends (RFC 3339). */
  until?: string
}

export interface DaemonPodInfo {
  key: string
  name: string
  namespace: string
  /** The manifest file the pod comes from (its `podrun.io/source`), or the owner of a conflicting pod. */
  source: string
  /** Pending, Running, Succeeded, Failed; "Unknown" when the runtime has not shown it yet. */
  phase: string
  ready: boolean
  /** kubectl's STATUS column as the daemon sees it. */
  status: string
  restarts: number
  /** What the probes say of running containers, by container id. */
  probes?: Record<string, {ready: boolean; started: boolean}>
  /** Restarts by container name. */
  containerRestarts?: Record<string, number>
  /** Per container name: why it waits (CrashLoopBackOff, ImagePullBackOff, ErrImagePull, ...). */
  waiting: Record<string, WaitingInfo>
  /** The last failure of this pod's convergence (runtime call, image pull). */
  lastError?: {time: string; reason: string; message: string}
  /** The manifest file is invalid: the first error as `file:line:col: path: message`. */
  manifestError?: string
  manifestErrors?: string[]
  /** The pod exists with another owner (`podrun apply`, another folder): the daemon leaves it alone. */
  conflict?: string
  /** Running from the last good version of a broken manifest. */
  frozen?: boolean
  /** The manifest's edited version was rolled back to the last Ready one: why. */
  rolledBack?: string
  /**
   * The manifest's containers, for a pod the runtime does not have (its sandbox could not be made,
   * or not yet): what `get pods` shows for it, as kubectl shows a pod still being created.
   */
  absent?: {initContainers: ContainerRef[]; containers: ContainerRef[]}
  events: DaemonEvent[]
}

export interface ContainerRef {
  name: string
  image: string
}

export interface DaemonStatus {
  pid: number
  version: string
  /** Absent: the daemon runs applied pods only. */
  manifestDir?: string
  startedAt: string
  runtime: {up: boolean; endpoint: string; name?: string; version?: string; since: string; error?: string; events: 'streaming' | 'relisting' | 'unknown'}
  /** The last pod sync: when, which pod, how long (grace periods waited out included). */
  lastPass?: {at: string; pod?: string; ok: boolean; durationMs: number; error?: string}
  ready: boolean
  notReadyReason?: string
  /** By file: errors as `file:line:col: path: message`. */
  manifestErrors: Record<string, string[]>
  /** The crash-loop back-off in use, so that a client computes the same CrashLoopBackOff. */
  backoff: {initialMs: number; maxMs: number; resetMs: number}
}

export interface DaemonPodList {
  kind: 'DaemonPodList'
  daemon: DaemonStatus
  pods: DaemonPodInfo[]
}

/** A small ring of recent events per pod. */
export class EventRing {
  private readonly events: DaemonEvent[] = []
  constructor(private readonly size = 20) {}
  add(e: DaemonEvent): void {
    // The same event again counts as one more of it, with its first and last times (Kubernetes'
    // aggregation), and moves to the end: the ring keeps the latest distinct events.
    const i = this.events.findIndex((x) => x.reason === e.reason && x.message === e.message && x.type === e.type)
    if (i >= 0) {
      const [same] = this.events.splice(i, 1)
      this.events.push({...e, count: (same.count ?? 1) + 1, firstTime: same.firstTime ?? same.time})
      return
    }
    this.events.push({...e, count: 1, firstTime: e.time})
    if (this.events.length > this.size) this.events.splice(0, this.events.length - this.size)
  }
  list(): DaemonEvent[] {
    return [...this.events]
  }
}
