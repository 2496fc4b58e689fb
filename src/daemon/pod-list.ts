// Every pod there is to show, as Kubernetes Pod objects with where each comes from: what the
// runtime runs (status computed from it, with what a daemon that answers knows beside: back-off,
// probes, pulls), the pods a daemon wants that the runtime lacks, and, without a daemon, the pods
// apply recorded that the runtime lacks. get pods, wait and describe read pods through here.
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'
import type {DaemonPodList} from './view.js'
import {hostInfo} from '../reconcile/engine.js'
import {viewPods} from '../reconcile/pod-view.js'
import {annotatePod, daemonExtras, pendingPod, podFromDaemon} from './pod-status.js'
import {appliedPods} from '../reconcile/applied-store.js'
import {compareText} from '../lib/compare.js'

export const NO_DAEMON = 'no podrun daemon answers'

export interface PodView {
  pod: Pod
  key: string
  name: string
  namespace: string
  source: string
}

/** A pod with an exited container that its restartPolicy would run again. */
export function awaitsRestart(p: Pod): boolean {
  const policy = p.spec?.restartPolicy ?? 'Always'
  return (p.status?.containerStatuses ?? []).some((c) => {
    const code = c.state?.terminated?.exitCode
    return code !== undefined && (policy === 'Always' || (policy === 'OnFailure' && code !== 0))
  })
}

/** Every pod, sorted by namespace and name; `daemon` is undefined when none answered. `table`: only what get pods' table shows (pod-view.ts). */
export async function listPods(cri: CriClient, daemonAsked: Promise<DaemonPodList | undefined>, o: {table?: boolean} = {}): Promise<{all: PodView[]; daemon: DaemonPodList | undefined}> {
  const daemon = await daemonAsked
  const known = new Map(daemon?.pods.map((p) => [p.key, p]))
  const host = await hostInfo()
  const fromRuntime = await viewPods(cri, host, daemon ? (a) => daemonExtras(daemon, known.get(a.key)) : () => ({supervised: false}), o)
  const all = fromRuntime.map((v) => ({pod: v.pod, key: v.actual.key, name: v.actual.name, namespace: v.actual.namespace, source: v.actual.source}))
  // Pods the daemon wants that the runtime does not have (a sandbox that fails): Pending.
  const inRuntime = new Set(all.map((v) => v.key))
  for (const info of daemon?.pods ?? []) {
    const pod = inRuntime.has(info.key) ? undefined : podFromDaemon(info, host.nodeName)
    if (!pod) continue
    all.push({pod, key: info.key, name: info.name, namespace: info.namespace, source: info.source})
  }
  // No daemon: pods apply recorded that the runtime does not have (their setup failed) are
  // shown Pending, with the note that nothing retries them.
  if (!daemon) {
    for (const p of appliedPods()) {
      if (inRuntime.has(`${p.namespace}/${p.name}`)) continue
      const message = `not in the runtime; ${NO_DAEMON} to retry it: \`podrun daemon\``
      const waiting = Object.fromEntries([...p.initContainers, ...p.containers].map((c) => [c.name, {reason: 'ContainerCreating', message}]))
      all.push({pod: pendingPod({...p, source: 'apply'}, waiting, host.nodeName), key: `${p.namespace}/${p.name}`, name: p.name, namespace: p.namespace, source: 'apply'})
    }
  }
  for (const v of all) annotatePod(v.pod, known.get(v.key))
  // No daemon: a container its restartPolicy would restart stays down. Say so where it shows.
  if (!daemon) {
    for (const v of all) {
      if (!awaitsRestart(v.pod)) continue
      if (v.pod.status) v.pod.status.message = `${NO_DAEMON}; its restartPolicy (${v.pod.spec?.restartPolicy ?? 'Always'}) needs one: \`podrun daemon\``
    }
  }
  all.sort((a, b) => compareText(a.namespace, b.namespace) || compareText(a.name, b.name))
  return {all, daemon}
}
