// One runtime listing shared by pod workers (the kubelet's pod cache, GetNewerThan): a worker asks
// for a listing taken after its own last change; workers that ask at about the same time share one
// ListPodSandbox + ListContainers instead of making one each.
import type {CriClient} from '../cri/client.js'
import type {ActualPod} from '../model/actual.js'
import {observe} from './observe.js'

export class SharedListing {
  private value: ActualPod[] | undefined
  /** When the listing in `value` was asked for (ms). */
  private at = -Infinity
  private inflight: Promise<ActualPod[]> | undefined
  private inflightAt = -Infinity

  constructor(
    private readonly cri: CriClient,
    private readonly now: () => number = Date.now,
    /** Every listing this object takes (the daemon's lifecycle events compare them). */
    private readonly onList?: (pods: ActualPod[]) => void,
  ) {}

  /** A listing the caller already has, taken at `at`; false when a newer one is held. */
  seed(pods: ActualPod[], at: number): boolean {
    if (at < this.at) return false
    ;[this.value, this.at] = [pods, at]
    return true
  }

  /** The newest listing, if any (for reports). */
  get latest(): ActualPod[] | undefined {
    return this.value
  }

  /** A listing asked for at or after `t` (ms). */
  newerThan(t: number): Promise<ActualPod[]> {
    if (this.value && this.at >= t) return Promise.resolve(this.value)
    if (this.inflight && this.inflightAt >= t) return this.inflight
    const at = this.now()
    const p = observe(this.cri).then(
      (pods) => {
        if (this.inflight === p) this.inflight = undefined
        if (this.seed(pods, at)) this.onList?.(pods)
        return pods
      },
      (e: unknown) => {
        if (this.inflight === p) this.inflight = undefined
        throw e
      },
    )
    this.inflight = p
    this.inflightAt = at
    return p
  }
}
