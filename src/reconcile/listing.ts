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
  /** The listing that starts when the one in flight ends. */
  private queued: Promise<ActualPod[]> | undefined
  private lastStart = -Infinity

  constructor(
    private readonly cri: CriClient,
    private readonly now: () => number = Date.now,
    /** Every listing this object takes (the daemon's lifecycle events compare them). */
    private readonly onList?: (pods: ActualPod[]) => void,
    /**
     * Least time between the starts of two listings (ms). The daemon's pods, each wanting a look
     * after its own changes, would otherwise keep a listing of every pod in flight for as long as a
     * burst lasts (the kubelet's pod cache is refreshed once a relist period, for the same reason).
     */
    private readonly minGapMs = 0,
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

  /**
   * A listing asked for at or after `t` (ms). At most one listing is in flight: a caller who needs
   * one newer than the one in flight waits for it and shares the next one with every caller who
   * asked meanwhile (a burst of a hundred pods changing makes a few listings, not a hundred).
   */
  newerThan(t: number): Promise<ActualPod[]> {
    if (this.value && this.at >= t) return Promise.resolve(this.value)
    if (this.inflight && this.inflightAt >= t) return this.inflight
    const wait = this.lastStart + this.minGapMs - this.now()
    if (this.inflight || wait > 0) {
      this.queued ??= (this.inflight ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => new Promise((r) => setTimeout(r, Math.max(0, this.lastStart + this.minGapMs - this.now()))))
        .then(() => {
          this.queued = undefined
          return this.list()
        })
      return this.queued
    }
    return this.list()
  }

  private list(): Promise<ActualPod[]> {
    const at = this.now()
    this.lastStart = at
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
