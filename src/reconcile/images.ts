// Image pulls per imagePullPolicy, one pull per image however many pods need it at once, and at
// most `pulls` pulls in flight (the kubelet's serialized pulls by default).
import type {CriClient} from '../cri/client.js'
import type {AuthConfig} from '../cri/types.js'
import {isNotFound} from '../cri/errors.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {withRetry} from './retry.js'
import {Slots} from './limits.js'

export type PullPolicy = 'Always' | 'IfNotPresent' | 'Never'

/** What ensure did: pulled (and how long it took), or nothing (the image was there). */
export interface PullResult {
  pulledMs?: number
}

export class ImagePuller {
  private readonly inflight = new Map<string, {listeners: Set<() => void>; done: Promise<PullResult>}>()

  constructor(
    private readonly cri: CriClient,
    private readonly pulls: Slots = new Slots(1),
  ) {}

  /**
   * Make the image present per policy; throws a PodrunError with reason ErrImagePull /
   * ErrImageNeverPull. With credentials (imagePullSecrets), each is tried in turn, as the kubelet
   * does; none is tried without them then.
   */
  ensure(image: string, policy: PullPolicy, auths: AuthConfig[] = [], onPulling?: () => void): Promise<PullResult> {
    const key = `${policy} ${image} ${auths.map((a) => `${a.serverAddress}/${a.username}`).join(' ')}`
    let p = this.inflight.get(key)
    if (!p) {
      const listeners = new Set<() => void>()
      p = {listeners, done: this.doEnsure(image, policy, auths, () => listeners.forEach((l) => l()))}
      this.inflight.set(key, p)
      // Shared while in flight only: a long-lived puller (the daemon's) asks the runtime again
      // next time, as the image may have been removed meanwhile.
      const forget = () => this.inflight.delete(key)
      p.done.then(forget, forget)
    }
    if (onPulling) p.listeners.add(onPulling)
    return p.done
  }

  private async doEnsure(image: string, policy: PullPolicy, auths: AuthConfig[], pulling: () => void): Promise<PullResult> {
    if (policy !== 'Always') {
      const present = await withRetry(() => this.cri.imageStatus(image))
      if (present) return {}
      if (policy === 'Never') {
        throw new PodrunError(`image ${image} is not present on this machine and imagePullPolicy is Never`, {
          reason: 'ErrImageNeverPull',
          exitCode: ExitCode.partial,
          suggestions: ['import the image into the runtime, or set imagePullPolicy: IfNotPresent'],
        })
      }
    }
    try {
      return await this.pulls.run(async (): Promise<PullResult> => {
        // Another pull may have brought it while this one waited for its slot.
        if (policy !== 'Always' && (await withRetry(() => this.cri.imageStatus(image)))) return {}
        pulling()
        const t0 = Date.now()
        const took = (): PullResult => ({pulledMs: Date.now() - t0})
        if (auths.length === 0) {
          await withRetry(() => this.cri.pullImage(image))
          return took()
        }
        let last: unknown
        for (const auth of auths) {
          try {
            await withRetry(() => this.cri.pullImage(image, auth))
            return took()
          } catch (e) {
            last = e
          }
        }
        throw last
      })
    } catch (e) {
      const why = isNotFound(e) ? 'not found in its registry' : (e as Error).message
      throw new PodrunError(`pull image ${image}: ${why}`, {reason: 'ErrImagePull', exitCode: ExitCode.partial, cause: e})
    }
  }
}
