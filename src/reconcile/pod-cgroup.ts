// The pod-level cgroup's limits, as the kubelet's pod container manager sets them: the runtime
// makes the pod's folder (the sandbox's cgroupParent) but limits only each container, so a pod
// whose containers each stay under their own limit could still take their sum plus whatever its
// sandbox and exec'd processes use. The pod's memory limit and CPU quota are the sums of its
// containers' (set only when every container declares one, as Kubernetes does), its CPU shares
// the sum of the requests; init containers count as the largest of them, sidecars beside the app.
import fs from 'node:fs/promises'
import type {Container, Pod} from 'kubernetes-types/core/v1.js'
import {bytes, milliCpu} from '../lib/quantity.js'
import {PodrunError} from '../lib/errors.js'

export const CPU_PERIOD = 100_000
export const MIN_SHARES = 2

export interface PodCgroupLimits {
  /** memory.limit_in_bytes / memory.max; undefined: no limit. */
  memoryBytes?: number
  /** cpu.cfs_quota_us / cpu.max over CPU_PERIOD; undefined: no quota. */
  cpuQuotaUs?: number
  cpuShares: number
}

/**
 * A pod-level figure from per-container ones: the sidecars and app containers run together, each
 * other init container alone (after the sidecars started before it). Undefined when a container
 * lacks the figure and `all` is asked.
 */
function podLevel(pod: Pod, of: (c: Container) => number | undefined, all: boolean): number | undefined {
  const inits = pod.spec?.initContainers ?? []
  const apps = pod.spec?.containers ?? []
  const values = [...inits, ...apps].map(of)
  if (all && values.some((v) => v === undefined)) return undefined
  const n = (c: Container) => of(c) ?? 0
  let sidecars = 0
  let peak = 0
  for (const c of inits) {
    if (c.restartPolicy === 'Always') sidecars += n(c)
    else peak = Math.max(peak, sidecars + n(c))
  }
  return Math.max(peak, sidecars + apps.reduce((s, c) => s + n(c), 0))
}

const limitOf = (name: 'cpu' | 'memory') => (c: Container) => {
  const v = c.resources?.limits?.[name]
  return v === undefined ? undefined : name === 'cpu' ? milliCpu(v) : bytes(v)
}

/** The sum of the pod's memory limits when every container has one. */
export const podMemoryLimit = (pod: Pod): number | undefined => podLevel(pod, limitOf('memory'), true)

export function podCgroupLimits(pod: Pod): PodCgroupLimits {
  const cpuLimit = podLevel(pod, limitOf('cpu'), true)
  const cpuRequest = podLevel(pod, (c) => {
    const v = c.resources?.requests?.cpu ?? c.resources?.limits?.cpu
    return v === undefined ? undefined : milliCpu(v)
  }, false)
  return {
    memoryBytes: podMemoryLimit(pod),
    cpuQuotaUs: cpuLimit === undefined ? undefined : Math.max(1000, Math.floor((cpuLimit * CPU_PERIOD) / 1000)),
    cpuShares: Math.max(MIN_SHARES, Math.floor(((cpuRequest ?? 0) * 1024) / 1000)),
  }
}

/** cgroup v2's cpu.weight for v1 shares (the conversion runc and the kubelet use). */
const weightOf = (shares: number): number => Math.round(1 + ((shares - 2) * 9999) / 262142)

/**
 * Writes the limits into the pod's folder under `cgroupFs` (v1: one per controller; v2: one
 * unified tree). A controller that is not mounted is skipped; a refused write fails the pod's
 * sync with the file and the kernel's answer.
 */
export async function writePodCgroup(cgroupFs: string, parent: string, l: PodCgroupLimits): Promise<void> {
  const v2 = await fs.access(`${cgroupFs}/cgroup.controllers`).then(() => true, () => false)
  const files: Array<[string, string]> = v2
    ? [
        [`${cgroupFs}${parent}/memory.max`, l.memoryBytes === undefined ? 'max' : String(l.memoryBytes)],
        [`${cgroupFs}${parent}/cpu.max`, `${l.cpuQuotaUs ?? 'max'} ${CPU_PERIOD}`],
        [`${cgroupFs}${parent}/cpu.weight`, String(weightOf(l.cpuShares))],
      ]
    : [
        [`${cgroupFs}/memory${parent}/memory.limit_in_bytes`, String(l.memoryBytes ?? -1)],
        [`${cgroupFs}/cpu${parent}/cpu.cfs_period_us`, String(CPU_PERIOD)],
        [`${cgroupFs}/cpu${parent}/cpu.cfs_quota_us`, String(l.cpuQuotaUs ?? -1)],
        [`${cgroupFs}/cpu${parent}/cpu.shares`, String(l.cpuShares)],
      ]
  for (const [file, value] of files) {
    try {
      await fs.writeFile(file, value)
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code
      if (code === 'ENOENT') continue // controller not mounted, or not enabled for this tree
      throw new PodrunError(`could not set the pod's cgroup limit ${file} to ${value}: ${(e as Error).message}`, {reason: 'FailedPodCgroup'})
    }
  }
}

/** The kubelet's pod container manager removes the pod's cgroup folder; containerd leaves it. */
export async function removePodCgroupDirs(cgroupFs: string, parent: string): Promise<void> {
  const controllers = await fs.readdir(cgroupFs).catch(() => [] as string[])
  await Promise.all(controllers.map((c) => fs.rmdir(`${cgroupFs}/${c}${parent}`).catch(() => undefined)))
  await fs.rmdir(`${cgroupFs}${parent}`).catch(() => undefined) // cgroup v2
}
