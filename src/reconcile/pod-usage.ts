// CPU and memory of the running containers podrun manages, from CRI ListContainerStats: CPU as a
// rate (millicores) between two samples of the cumulative usage, memory as the working set, the
// figures `kubectl top` and cAdvisor's container_cpu_usage_seconds_total and
// container_memory_working_set_bytes are made of.
import type {CriClient} from '../cri/client.js'
import type {ContainerStats} from '../cri/types.js'
import {Label, managedSelector} from './labels.js'

export interface ContainerUsage {
  namespace: string
  pod: string
  container: string
  id: string
  /** Cumulative CPU time, seconds. */
  cpuSeconds: number
  /** When the runtime took the CPU figure, seconds since the epoch (0: not said). */
  sampledAt: number
  /** Rate over the sampling window, millicores; undefined with one sample. */
  milliCores?: number
  workingSetBytes: number
}

const seconds = (s: ContainerStats): number => Number(s.cpu?.usageCoreNanoSeconds?.value ?? 0n) / 1e9

function usageOf(s: ContainerStats): ContainerUsage | undefined {
  const l = s.attributes?.labels ?? {}
  if (!l[Label.podName]) return undefined
  return {
    namespace: l[Label.podNamespace] ?? 'default',
    pod: l[Label.podName],
    container: l[Label.containerName] ?? s.attributes?.metadata?.name ?? '',
    id: s.attributes?.id ?? '',
    cpuSeconds: seconds(s),
    sampledAt: Number(s.cpu?.timestamp ?? 0n) / 1e9,
    workingSetBytes: Number(s.memory?.workingSetBytes?.value ?? 0n),
  }
}

/** One sample of every managed running container. */
export async function sampleUsage(cri: CriClient): Promise<ContainerUsage[]> {
  const stats = await cri.listContainerStats({labelSelector: managedSelector})
  return stats.map(usageOf).filter((u): u is ContainerUsage => u !== undefined)
}

/** Two samples `windowMs` apart: CPU as the rate between them. */
export async function measureUsage(cri: CriClient, windowMs = 1000): Promise<ContainerUsage[]> {
  const t0 = process.hrtime.bigint()
  const first = new Map((await sampleUsage(cri)).map((u) => [u.id, u]))
  await new Promise((r) => setTimeout(r, windowMs))
  const second = await sampleUsage(cri)
  const elapsed = Number(process.hrtime.bigint() - t0) / 1e9
  return second.map((u) => {
    const before = first.get(u.id)
    if (!before) return u
    // The runtime's own sample times when it gives them: call latency does not skew the rate.
    const span = before.sampledAt > 0 && u.sampledAt > before.sampledAt ? u.sampledAt - before.sampledAt : elapsed
    return {...u, milliCores: Math.max(0, Math.round(((u.cpuSeconds - before.cpuSeconds) / span) * 1000))}
  })
}
