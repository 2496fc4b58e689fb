// Pod workers: work keyed by pod, as the kubelet's pod_workers.go and controller-runtime's
// workqueue do it. A trigger marks a pod dirty (its identity only, never the event); each pod has
// at most one sync in flight; a trigger that comes during a sync leaves one pending sync behind it,
// however many came; each pod has its own requeue timer and its own failure streak, so one broken
// pod never slows the retries of another. Nothing here limits how many pods sync at once: the
// runtime work inside a sync is limited by resource (limits.ts), and a pod waiting out a grace
// period holds nothing another pod needs.

/** What a sync asks for next. */
export interface SyncResult {
  /** Sync again after this long (back-off ends, init containers move on, a pod still settling). */
  requeueAfterMs?: number
  /** The sync failed: retry with this pod's back-off. */
  failed?: boolean
}

export type SyncFn = (key: string, signal: AbortSignal) => Promise<SyncResult>

export interface PodWorkersOptions {
  sync: SyncFn
  /** Retry delays of a failing pod: initial, doubling to max. */
  backoff?: {initialMs: number; maxMs: number}
  /** A sync that threw (a bug: syncs report failures in their result). */
  onError?: (key: string, err: unknown) => void
  now?: () => number
}

interface Worker {
  running?: Promise<void>
  startedAt?: number
  pending: boolean
  abort?: AbortController
  timer?: NodeJS.Timeout
  timerAt: number
  failures: number
  forgotten: boolean
}

export class PodWorkers {
  private readonly workers = new Map<string, Worker>()
  private readonly backoff: {initialMs: number; maxMs: number}
  private readonly now: () => number
  private stopped = false
  private idleWaiters: Array<() => void> = []

  constructor(private readonly o: PodWorkersOptions) {
    this.backoff = o.backoff ?? {initialMs: 1000, maxMs: 30_000}
    this.now = o.now ?? Date.now
  }

  /** Marks a pod dirty; never waits. `cancel` aborts a sync in flight (the pod was removed, a shorter grace). */
  enqueue(key: string, opts: {cancel?: boolean} = {}): void {
    if (this.stopped) return
    const w = this.worker(key)
    w.forgotten = false
    if (w.running) {
      w.pending = true
      if (opts.cancel) w.abort?.abort()
      return
    }
    this.start(key, w)
  }

  /** Syncs the pod after ms, unless an earlier sync is already due. */
  enqueueAfter(key: string, ms: number): void {
    if (this.stopped) return
    const w = this.worker(key)
    const at = this.now() + Math.max(0, ms)
    if (w.timer && w.timerAt <= at) return
    clearTimeout(w.timer)
    w.timerAt = at
    w.timer = setTimeout(() => {
      w.timer = undefined
      w.timerAt = Infinity
      this.enqueue(key)
    }, Math.max(1, ms))
  }

  /** Drops a pod's timer and, once its sync in flight ends, the pod itself. */
  forget(key: string): void {
    const w = this.workers.get(key)
    if (!w) return
    clearTimeout(w.timer)
    w.timer = undefined
    w.timerAt = Infinity
    w.pending = false
    w.forgotten = true
    if (!w.running) this.workers.delete(key)
  }

  /** Pods with a sync in flight, and since when (ms): what /healthz and a waiting command report. */
  inFlight(): Array<{key: string; since: number}> {
    const out: Array<{key: string; since: number}> = []
    for (const [key, w] of this.workers) if (w.running) out.push({key, since: w.startedAt ?? 0})
    return out
  }

  /** The failure streak of a pod (0 when its last sync succeeded). */
  failures(key: string): number {
    return this.workers.get(key)?.failures ?? 0
  }

  /** Resolves when no sync runs and none is pending (timers may still be set). */
  idle(): Promise<void> {
    if (this.quiet()) return Promise.resolve()
    return new Promise((r) => this.idleWaiters.push(r))
  }

  /** No new syncs; timers cleared; resolves when the syncs in flight have ended. */
  async stop(opts: {abort?: boolean} = {}): Promise<void> {
    this.stopped = true
    for (const w of this.workers.values()) {
      clearTimeout(w.timer)
      w.timer = undefined
      w.pending = false
      if (opts.abort) w.abort?.abort()
    }
    await this.idle()
  }

  private quiet(): boolean {
    for (const w of this.workers.values()) if (w.running || w.pending) return false
    return true
  }

  private worker(key: string): Worker {
    let w = this.workers.get(key)
    if (!w) {
      w = {pending: false, timerAt: Infinity, failures: 0, forgotten: false}
      this.workers.set(key, w)
    }
    return w
  }

  private start(key: string, w: Worker): void {
    w.pending = false
    w.abort = new AbortController()
    w.startedAt = this.now()
    const signal = w.abort.signal
    w.running = this.o
      .sync(key, signal)
      .catch((e: unknown): SyncResult => {
        this.o.onError?.(key, e)
        return {failed: true}
      })
      .then((r) => this.done(key, w, r))
  }

  private done(key: string, w: Worker, r: SyncResult): void {
    w.running = undefined
    w.abort = undefined
    w.startedAt = undefined
    if (w.forgotten) {
      this.workers.delete(key)
    } else if (!this.stopped) {
      if (r.failed) {
        w.failures++
        this.enqueueAfter(key, Math.min(this.backoff.initialMs * 2 ** (w.failures - 1), this.backoff.maxMs))
      } else {
        w.failures = 0
        if (r.requeueAfterMs !== undefined) this.enqueueAfter(key, r.requeueAfterMs)
      }
      if (w.pending) this.start(key, w)
    }
    if (this.quiet()) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const fn of waiters) fn()
    }
  }
}
