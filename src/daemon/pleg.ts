// Pod lifecycle events (the kubelet's PLEG): which pods changed in the runtime, so that only their
// workers sync. Every listing the connection takes, whoever asked for it, is compared pod by pod
// with the one before (ids and states of sandboxes and containers); the pods that differ are
// handed on. Listings are asked for sparingly:
//
//   relist   every --relist-period, unless the runtime streams container events: podrun's EXITED
//            containers only (one small call); a listing when they differ from the last one seen
//   resync   every --resync-period: every id and state (still no specs decoded); a listing when
//            anything differs, and every FULL_EVERY-th resync every pod syncs regardless
//   event    a container event from the runtime's stream: a listing at once
import type {ActualPod} from '../model/actual.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import {fullStateOfPods, sameState, stateOfPods, type RuntimeState} from './relist.js'
import type {Connection} from './session.js'

/** A resync that finds nothing changed still syncs every pod every this many times (1 min by default). */
export const FULL_EVERY = 6

export interface PlegDeps {
  metrics: DaemonMetrics
  log: Logger
  /** Which pods' exits the relist watches (by their podrun.io/source). */
  keep: (source: string) => boolean
  /** Pods whose runtime state changed (or every pod, on a full resync). */
  onChanged: (keys: string[], all: boolean) => void
  now: () => number
}

/** A pod's runtime state in one string: what a change is measured against. */
const fingerprint = (p: ActualPod): string => [...fullStateOfPods([p])].sort().join(',')

export class Pleg {
  private seen = new Map<string, string>()
  private exited: RuntimeState | undefined
  private everything: RuntimeState | undefined
  private resyncs = 0

  constructor(private readonly d: PlegDeps) {}

  /** A new connection: nothing seen before counts. */
  reset(): void {
    this.seen.clear()
    this.exited = undefined
    this.everything = undefined
  }

  /** Called with every listing taken (SharedListing's hook). */
  readonly observed = (pods: ActualPod[]): void => {
    const now = new Map<string, string>()
    const changed: string[] = []
    for (const p of pods) {
      const fp = fingerprint(p)
      now.set(p.key, fp)
      if (this.seen.get(p.key) !== fp) changed.push(p.key)
    }
    for (const k of this.seen.keys()) if (!now.has(k)) changed.push(k)
    this.seen = now
    this.exited = stateOfPods(pods, this.d.keep)
    this.everything = fullStateOfPods(pods)
    if (changed.length > 0) this.d.onChanged(changed, false)
  }

  /** The cheap check for exits; a listing when they changed. Throws what the runtime threw. */
  async relist(c: Connection): Promise<void> {
    const st = await c.relister.state()
    if (sameState(this.exited, st)) {
      this.d.metrics.relists.inc({outcome: 'unchanged'})
      return
    }
    this.d.metrics.relists.inc({outcome: 'changed'})
    this.d.log.debug('relist: a container exited')
    await c.listing.newerThan(this.d.now())
  }

  /** Every id and state; a listing when anything differs; every pod on a full resync. */
  async resync(c: Connection): Promise<void> {
    this.resyncs++
    const full = this.resyncs % FULL_EVERY === 0
    const st = await c.relister.all()
    const same = sameState(this.everything, st)
    this.d.metrics.relists.inc({outcome: same ? 'unchanged' : 'changed'})
    if (!same) await c.listing.newerThan(this.d.now())
    if (full) this.d.onChanged([...this.seen.keys()], true)
  }

  /** A container event: look now. */
  async event(c: Connection): Promise<void> {
    await c.listing.newerThan(this.d.now())
  }
}
