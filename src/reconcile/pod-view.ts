// The pods as `get pods` shows them: runtime state turned into Kubernetes Pod objects, with the
// sandbox IPs fetched (one PodSandboxStatus per pod) and every container's status filled in. The
// table needs neither (it shows no IP, and a running container's row needs no status call): with
// `table`, only the statuses that decide a row are read, two calls per pod fewer.
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'
import type {ActualPod} from '../model/actual.js'
import {observe} from './observe.js'
import {podFromRuntime, type StatusExtras} from './status.js'
import {nowNs, type HostInfo} from './engine.js'

export interface PodView {
  actual: ActualPod
  pod: Pod
}

export async function viewPods(cri: CriClient, host: Pick<HostInfo, 'hostIP' | 'nodeName'>, extras?: (a: ActualPod) => StatusExtras, o: {table?: boolean} = {}): Promise<PodView[]> {
  const actual = await observe(cri, {allStatuses: !o.table})
  const now = nowNs()
  return Promise.all(
    actual.map(async (a) => {
      const sb = a.sandboxes[0]
      let podIP = ''
      if (sb && sb.state === 'READY' && !o.table) {
        podIP = (await cri.podSandboxStatus(sb.id).catch(() => undefined))?.status?.network?.ip ?? ''
      }
      const pod = podFromRuntime(a, now, {podIP: podIP || undefined, hostIP: host.hostIP, ...extras?.(a)})
      if (pod.spec) pod.spec.nodeName = host.nodeName
      if (pod.spec?.hostNetwork && pod.status) {
        pod.status.podIP = host.hostIP
        pod.status.podIPs = [{ip: host.hostIP}]
      }
      return {actual: a, pod}
    }),
  )
}
