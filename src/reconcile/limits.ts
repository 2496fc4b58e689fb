// Limits by resource, not by pod: at most N mutating runtime calls in flight (`--parallel`), at
// most M image pulls (`--max-parallel-image-pulls`; the kubelet pulls one at a time by default).
// A pod holds a slot only for the call it makes, so a pod waiting out a container's grace period
// (StopContainer takes no slot) or a long pull never holds up another pod's runtime work.

/** A counting semaphore with FIFO waiters. */
export class Slots {
  private used = 0
  private readonly waiters: Array<() => void> = []

  constructor(readonly size: number) {
    if (!(size >= 1)) throw new Error(`a limit must be at least 1 (got ${size})`)
  }

  /** Runs fn once a slot is free; the slot is released however fn ends. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.used >= this.size) await new Promise<void>((r) => this.waiters.push(r))
    else this.used++
    try {
      return await fn()
    } finally {
      const next = this.waiters.shift()
      // The slot passes straight to the next waiter; `used` stays the same.
      if (next) next()
      else this.used--
    }
  }
}

export interface Limits {
  /** Mutating runtime calls in flight (sandbox and container create, start, remove). */
  runtime: Slots
  /** Image pulls in flight. */
  pulls: Slots
}

export const DEFAULT_PARALLEL = 4
export const DEFAULT_PARALLEL_PULLS = 1

export function limits(parallel = DEFAULT_PARALLEL, pulls = DEFAULT_PARALLEL_PULLS): Limits {
  return {runtime: new Slots(parallel), pulls: new Slots(pulls)}
}
