// The downward API: what a pod may learn of itself, for env (fieldRef, resourceFieldRef) and for
// downwardAPI volume items, with the values and formats the kubelet gives. One place for both, so
// whatever validation lets a manifest ask for, both paths can answer.
import fs from 'node:fs'
import os from 'node:os'
import type {Container, Pod} from 'kubernetes-types/core/v1.js'
import {PodrunError} from '../lib/errors.js'
import {bytes, milliCpu} from '../lib/quantity.js'

/** What the node knows of the pod that its spec does not say. */
export interface NodeFacts {
  nodeName: string
  podIP: string
  hostIP: string
}

/** Labels or annotations as a downwardAPI file holds them: key="value" lines, sorted by key. */
const formatMap = (m: Record<string, string> | undefined): string =>
  Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join('\n')

/** A fieldRef's value. Volumes may also ask for every label or annotation at once. */
export function fieldValue(pod: Pod, uid: string, fieldPath: string, node: NodeFacts | undefined): string {
  const md = pod.metadata ?? {}
  const one = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath)
  if (one) return (one[1] === 'labels' ? md.labels : md.annotations)?.[one[2]] ?? ''
  switch (fieldPath) {
    case 'metadata.name':
      return md.name ?? ''
    case 'metadata.namespace':
      return md.namespace ?? 'default'
    case 'metadata.uid':
      return uid
    case 'metadata.labels':
      return formatMap(md.labels)
    case 'metadata.annotations':
      return formatMap(md.annotations)
    case 'spec.serviceAccountName':
      return pod.spec?.serviceAccountName ?? ''
  }
  if (node) {
    switch (fieldPath) {
      case 'spec.nodeName':
        return node.nodeName
      case 'status.podIP':
      case 'status.podIPs':
        return node.podIP
      case 'status.hostIP':
      case 'status.hostIPs':
        return node.hostIP
    }
  }
  throw new PodrunError(`downward API field ${fieldPath} is not available here`, {reason: 'CreateContainerConfigError'})
}

/** What the node offers when a container sets no limit (the kubelet's node allocatable). */
function allocatable(name: string): number {
  if (name === 'cpu') return os.availableParallelism() * 1000
  if (name === 'memory') return os.totalmem()
  const st = fs.statfsSync('/')
  return st.blocks * st.bsize
}

/**
 * A resourceFieldRef's value: the container's request or limit in units of the divisor, rounded
 * up (at least 1 for a non-zero value); a limit not set is the node's allocatable amount.
 */
export function resourceValue(c: Container | undefined, resource: string, divisor?: string | number): string {
  const dot = resource.indexOf('.')
  const kind = resource.slice(0, dot)
  const name = resource.slice(dot + 1)
  const v = (kind === 'limits' ? c?.resources?.limits : c?.resources?.requests)?.[name]
  const cpu = name === 'cpu'
  const amount = v !== undefined ? (cpu ? milliCpu(v) : bytes(v)) : kind === 'limits' ? allocatable(name) : 0
  const unit = divisor === undefined ? (cpu ? 1000 : 1) : cpu ? milliCpu(divisor) : bytes(divisor)
  return String(amount === 0 ? 0 : Math.max(1, Math.ceil(amount / unit)))
}
