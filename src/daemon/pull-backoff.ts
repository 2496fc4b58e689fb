// Image pull back-off, as the kubelet does it: a pull that fails is retried after 10 s, then 20 s,
// 40 s... up to 5 min; while waiting, the container shows ImagePullBackOff, right after a failed
// attempt ErrImagePull. Kept in memory, by image (one pull serves every pod that needs it): a
// daemon restart starts over, which only means one early retry.
import type {AuthConfig} from '../cri/types.js'
import type {CriClient} from '../cri/client.js'
import {ExitCode, PodrunError, isPodrunError} from '../lib/errors.js'
import {ImagePuller, type PullPolicy, type PullResult} from '../reconcile/images.js'
import type {Slots} from '../reconcile/limits.js'

export interface PullFailure {
  image: string
  /** Failed attempts in a row. */
  failures: number
  /** When the last attempt failed (ms since the epoch). */
  failedAt: number
  /** No attempt before this (ms since the epoch). */
  until: number
  reason: string
  message: string
}

export class PullBackoff {
  private readonly failed = new Map<string, PullFailure>()

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    readonly now: () => number = Date.now,
  ) {}

  /** The failure record of an image still waiting out its back-off. */
  waiting(image: string): PullFailure | undefined {
    const f = this.failed.get(image)
    return f && this.now() < f.until ? f : undefined
  }

  get(image: string): PullFailure | undefined {
    return this.failed.get(image)
  }

  recordFailure(image: string, reason: string, message: string): PullFailure {
    const prev = this.failed.get(image)
    const failures = (prev?.failures ?? 0) + 1
    const delay = Math.min(this.initialMs * 2 ** (failures - 1), this.maxMs)
    const now = this.now()
    const f = {image, failures, failedAt: now, until: now + delay, reason, message}
    this.failed.set(image, f)
    return f
  }

  recordSuccess(image: string): void {
    this.failed.delete(image)
  }

  /** The earliest end of a back-off still running (ms since the epoch). */
  nextRetry(): number | undefined {
    const now = this.now()
    let min: number | undefined
    for (const f of this.failed.values()) if (f.until > now && (min === undefined || f.until < min)) min = f.until
    return min
  }

  /** A puller for one pass that honours (and feeds) this back-off. */
  puller(cri: CriClient, pulls?: Slots): ImagePuller {
    return new BackoffPuller(cri, this, pulls)
  }
}

class BackoffPuller extends ImagePuller {
  constructor(
    cri: CriClient,
    private readonly backoff: PullBackoff,
    pulls?: Slots,
  ) {
    super(cri, pulls)
  }

  override ensure(image: string, policy: PullPolicy, auths: AuthConfig[] = [], onPulling?: () => void): Promise<PullResult> {
    const w = this.backoff.waiting(image)
    if (w) {
      const left = Math.max(1, Math.ceil((w.until - this.backoff.now()) / 1000))
      return Promise.reject(
        new PodrunError(`Back-off pulling image "${image}" (retry in ${left}s): ${w.message}`, {reason: 'ImagePullBackOff', exitCode: ExitCode.partial}),
      )
    }
    return super.ensure(image, policy, auths, onPulling).then(
      (r) => {
        this.backoff.recordSuccess(image)
        return r
      },
      (e: unknown) => {
        const reason = isPodrunError(e) ? e.reason : 'ErrImagePull'
        if (reason === 'ErrImagePull' || reason === 'ErrImageNeverPull') this.backoff.recordFailure(image, reason, (e as Error).message)
        throw e
      },
    )
  }
}
