// What the benchmark made, seen and removed through the runtime itself: counts of ready sandboxes
// and running containers per namespace, and a clean-up that removes every sandbox of the given
// namespaces (with its cgroup folders), whatever state a failed run left it in.
import fs from 'node:fs/promises'
import path from 'node:path'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import type {PodSandbox} from '../../src/cri/types.js'

export async function openCri(endpoint: string): Promise<CriClient> {
  return connectCri({endpoint})
}

export async function countRunning(cri: CriClient, namespace: string): Promise<{sandboxes: number; ready: number; running: number}> {
  const sel = {labelSelector: {'io.kubernetes.pod.namespace': namespace}}
  const [sandboxes, containers] = await Promise.all([cri.listPodSandbox(sel), cri.listContainers(sel)])
  return {sandboxes: sandboxes.length, ready: sandboxes.filter((s) => s.state === 0).length, running: containers.filter((c) => c.state === 1).length}
}

/** Remove every sandbox whose namespace label passes `match`; returns how many. */
export function removeNamespaces(cri: CriClient, match: (namespace: string) => boolean, cgroupRoot = '/podrun'): Promise<number> {
  return removeSandboxes(cri, (s) => match(s.labels['io.kubernetes.pod.namespace'] ?? s.metadata?.namespace ?? ''), cgroupRoot)
}

/** Remove every sandbox that passes `match`, its containers and its cgroup folders; returns how many. */
export async function removeSandboxes(cri: CriClient, match: (s: PodSandbox) => boolean, cgroupRoot = '/podrun'): Promise<number> {
  const ours = (await cri.listPodSandbox()).filter(match)
  if (ours.length === 0) return 0
  const containers = await cri.listContainers()
  const controllers = await fs.readdir('/sys/fs/cgroup').catch(() => [] as string[])
  const ignore = () => undefined
  let next = 0
  const worker = async () => {
    while (next < ours.length) {
      const s = ours[next++]
      for (const c of containers.filter((c) => c.podSandboxId === s.id && c.state !== 2)) await cri.stopContainer(c.id, 0).catch(ignore)
      await cri.stopPodSandbox(s.id).catch(ignore)
      await cri.removePodSandbox(s.id).catch(ignore)
      const uid = s.metadata?.uid ?? ''
      if (uid) {
        for (const qos of ['besteffort', 'burstable', '']) {
          const parent = path.posix.join(cgroupRoot, qos, `pod${uid}`)
          await Promise.all(controllers.map((c) => fs.rmdir(`/sys/fs/cgroup/${c}${parent}`).catch(ignore)))
        }
      }
    }
  }
  await Promise.all(Array.from({length: 8}, worker))
  return ours.length
}
