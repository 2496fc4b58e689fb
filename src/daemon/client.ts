// Asking a running daemon (its unix socket) for its view of the pods, for `podrun get pods`. Any
// failure (no daemon, no permission, a slow answer, a garbled one) is "no daemon": callers fall back
// to the runtime alone.
import http from 'node:http'
import type {ContainerStatus, Pod, PodCondition} from 'kubernetes-types/core/v1.js'
import {Label} from '../reconcile/labels.js'
import {statusOverrides, type DaemonPodInfo, type DaemonPodList} from './view.js'

export async function fetchDaemonPods(socketPath: string, timeoutMs = 1000): Promise<DaemonPodList | undefined> {
  return new Promise((resolve) => {
    const req = http.get({socketPath, path: '/api/v1/pods', timeout: timeoutMs, headers: {Accept: 'application/json'}}, (res) => {
      if (res.statusCode !== 200) {
        res.resume()
        resolve(undefined)
        return
      }
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => {
        try {
          const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as DaemonPodList
          resolve(body && body.kind === 'DaemonPodList' && Array.isArray(body.pods) ? body : undefined)
        } catch {
          resolve(undefined)
        }
      })
      res.on('error', () => resolve(undefined))
    })
    req.on('timeout', () => req.destroy(new Error('timeout')))
    req.on('error', () => resolve(undefined))
  })
}

/** What to give podFromRuntime for a pod the daemon knows: its back-off policy and image pull reasons. */
export function daemonExtras(list: DaemonPodList, info: DaemonPodInfo | undefined): {backoff: DaemonPodList['daemon']['backoff']; waiting?: Record<string, {reason: string; message?: string}>} {
  const waiting = info ? statusOverrides(info.waiting) : {}
  return {backoff: list.daemon.backoff, waiting: Object.keys(waiting).length > 0 ? waiting : undefined}
}

export const MANIFEST_CONDITION = 'podrun.io/ManifestValid'
export const OWNER_CONDITION = 'podrun.io/OwnedByDaemon'

/** Puts what the daemon knows and the runtime cannot (a broken manifest, a conflict) on the Pod's status. */
export function annotatePod(pod: Pod, info: DaemonPodInfo | undefined): void {
  if (!info || !pod.status) return
  const conds: PodCondition[] = pod.status.conditions ?? []
  const messages: string[] = []
  if (info.manifestError) {
    const more = (info.manifestErrors?.length ?? 1) > 1 ? ` (and ${(info.manifestErrors?.length ?? 1) - 1} more)` : ''
    const message = `manifest invalid, running the last good version: ${info.manifestError}${more}`
    conds.push({type: MANIFEST_CONDITION, status: 'False', reason: 'ManifestInvalid', message})
    messages.push(message)
  }
  if (info.conflict) {
    conds.push({type: OWNER_CONDITION, status: 'False', reason: 'Conflict', message: info.conflict})
    messages.push(info.conflict)
  }
  if (info.lastError && !messages.length && info.status !== 'Running') messages.push(`${info.lastError.reason}: ${info.lastError.message}`)
  pod.status.conditions = conds
  if (messages.length > 0) pod.status.message = messages.join('; ')
}

/**
 * A pod the daemon wants and the runtime does not have (its sandbox failed, or is being made), as
 * the kubelet reports one: Pending, containers waiting in ContainerCreating (PodInitializing behind
 * init containers), or the reason the daemon knows (ErrImagePull, ...).
 */
export function podFromDaemon(info: DaemonPodInfo, nodeName: string): Pod | undefined {
  if (!info.absent || info.conflict) return undefined
  const {initContainers, containers} = info.absent
  const status = (c: {name: string; image: string}, fallback: string): ContainerStatus => {
    const w = info.waiting[c.name]
    return {name: c.name, image: c.image, imageID: '', ready: false, restartCount: 0, started: false, state: {waiting: {reason: w?.reason ?? fallback, ...(w?.message ? {message: w.message} : {})}}}
  }
  const behindInits = initContainers.length > 0 ? 'PodInitializing' : 'ContainerCreating'
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {name: info.name, namespace: info.namespace, annotations: {[Label.source]: info.source}},
    spec: {nodeName, containers: containers.map((c) => ({name: c.name, image: c.image})), ...(initContainers.length > 0 ? {initContainers: initContainers.map((c) => ({name: c.name, image: c.image}))} : {})},
    status: {
      phase: 'Pending',
      conditions: [
        {type: 'PodScheduled', status: 'True'},
        {type: 'Initialized', status: initContainers.length > 0 ? 'False' : 'True'},
        {type: 'ContainersReady', status: 'False'},
        {type: 'Ready', status: 'False'},
      ],
      ...(initContainers.length > 0 ? {initContainerStatuses: initContainers.map((c, i) => status(c, i === 0 ? 'ContainerCreating' : 'PodInitializing'))} : {}),
      containerStatuses: containers.map((c) => status(c, behindInits)),
    },
  }
}
