// The daemon's garbage collection, every --gc-period: dead containers and sandboxes, their logs
// and links, as `podrun prune` removes them; unused images only when the image file system is
// past --image-gc-high-threshold, least recently used first, down to the low threshold, and none
// first seen less than --minimum-image-ttl-duration ago (the kubelet's image GC). One pass at a
// time; a pass that fails is logged and the next one tries again.
import type {CriClient} from '../cri/client.js'
import {carryOut, hostRoots, imageFsUsage, knownPods, planCollection} from '../reconcile/garbage-collect.js'
import {imagesInUse, isUsed} from '../reconcile/garbage.js'
import type {Container, Image} from '../gen/runtime/v1/api.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import type {DaemonOptions} from './options.js'

export interface GarbageDeps {
  cri: () => CriClient | undefined
  /** The pods the daemon wants (its folder's and the applied ones) and the images they name. */
  wanted: () => {keys: Set<string>; images: Set<string>}
  log: Logger
  metrics?: DaemonMetrics
  now?: () => number
}

export class GarbageCollector {
  private running = false
  /** Image id -> when first seen, and when last seen in use (ms). */
  private readonly firstSeen = new Map<string, number>()
  private readonly lastUsed = new Map<string, number>()

  constructor(
    private readonly d: GarbageDeps,
    private readonly opts: Pick<DaemonOptions, 'imageGcHighPercent' | 'imageGcLowPercent' | 'imageMinAgeMs'>,
  ) {}

  async collect(): Promise<void> {
    const cri = this.d.cri()
    if (!cri || this.running) return
    this.running = true
    const now = this.d.now?.() ?? Date.now()
    try {
      const usage = await imageFsUsage(cri)
      if (usage) this.d.metrics?.imageFsUsage.set({}, Math.round((1 - usage.availableBytes / usage.capacityBytes) * 1000) / 1000)
      const o = {
        ...hostRoots(),
        ...knownPods(this.d.wanted()),
        onListed: (images: Image[], containers: Container[]) => this.noteImages(images, containers, now),
        imagePolicy: {mode: 'threshold' as const, highPercent: this.opts.imageGcHighPercent, lowPercent: this.opts.imageGcLowPercent, usage, lastUsed: this.lastUsed, firstSeen: this.firstSeen, minAgeMs: this.opts.imageMinAgeMs},
        now,
      }
      const {plan, sandboxes} = await planCollection(cri, o)
      for (const r of await carryOut(cri, plan, sandboxes, o)) {
        this.d.metrics?.garbage.inc({kind: r.kind, result: r.error ? 'error' : 'ok'})
        if (r.error) this.d.log.warn(`garbage collection could not remove a ${r.kind}`, {what: r.what, error: r.error})
        else this.d.log.info(`garbage collection removed a ${r.kind}`, {what: r.what, why: r.why, ...(r.bytes ? {bytes: r.bytes} : {})})
      }
    } catch (e) {
      this.d.log.warn('garbage collection skipped', {error: (e as Error).message})
    } finally {
      this.running = false
    }
  }

  /** Which images exist and which are in use now (from the pass's own listing), for the least-recently-used order and the minimum age. */
  private noteImages(images: Image[], containers: Container[], now: number): void {
    const inUse = imagesInUse(containers)
    const ids = new Set(images.map((i) => i.id))
    for (const i of images) {
      if (!this.firstSeen.has(i.id)) this.firstSeen.set(i.id, now)
      if (isUsed(i, inUse)) this.lastUsed.set(i.id, now)
    }
    for (const id of this.firstSeen.keys()) if (!ids.has(id)) this.firstSeen.delete(id)
    for (const id of this.lastUsed.keys()) if (!ids.has(id)) this.lastUsed.delete(id)
  }
}
