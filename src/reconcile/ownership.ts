// Who may change a pod: the source that created it (its `podrun.io/source` label). `podrun apply`
// owns the pods labelled `apply`; a daemon owns the pods labelled with a file of its manifest
// folder. Neither changes nor prunes the other's pods: apply refuses (per pod, naming the file that
// owns it), the daemon reports a conflict and leaves the pod alone. `podrun delete` leaves a
// daemon's pods alone unless forced: the daemon would start them again (as the kubelet does with
// static pods); removing the file is how such a pod goes.
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import {podRoot} from '../lib/paths.js'

/** The `podrun.io/source` of the pods `podrun apply` makes. */
export const APPLY_SOURCE = 'apply'

/**
 * What `apply --prune` deletes (and `diff --prune` shows): pods of apply whose manifests are gone,
 * inside the namespaces the manifests speak of, as kubectl keeps pruning.
 */
export function applyPrune(pods: Array<{namespace: string}>, enabled: boolean): (a: {source: string; namespace: string}) => boolean {
  const namespaces = new Set(pods.map((p) => p.namespace))
  return (a) => enabled && a.source === APPLY_SOURCE && namespaces.has(a.namespace)
}

export interface Refusal {
  key: string
  name: string
  namespace: string
  /** The `podrun.io/source` of the existing pod. */
  owner: string
  message: string
}

/** Pods the given source may converge, and those another source owns. */
export function splitByOwner(desired: DesiredPod[], actual: ActualPod[], source: string): {allowed: DesiredPod[]; refused: Refusal[]} {
  const byKey = new Map(actual.map((a) => [a.key, a]))
  const allowed: DesiredPod[] = []
  const refused: Refusal[] = []
  for (const d of desired) {
    const owner = byKey.get(d.key)?.source ?? ''
    // Pods without a source label (made by an older podrun) belong to whoever applies them.
    if (owner === '' || owner === source) {
      allowed.push(d)
      continue
    }
    const file = isDaemonSource(owner)
    refused.push({
      key: d.key,
      name: d.name,
      namespace: d.namespace,
      owner,
      message: file
        ? `pod ${d.key} is run by a podrun daemon from ${owner}: edit or remove that file instead (apply does not change a daemon's pods)`
        : `pod ${d.key} belongs to ${owner}, not to ${source}: left unchanged`,
    })
  }
  return {allowed, refused}
}

/** The pods of a daemon's manifest URL are labelled with the URL. */
export const isUrlSource = (source: string): boolean => /^https?:\/\//.test(source)

/** A daemon's pods are labelled with the absolute path of their manifest file, or their URL. */
export const isDaemonSource = (source: string): boolean => source.startsWith('/') || isUrlSource(source)

/** Why `podrun delete` leaves this pod alone, or undefined when it may delete it. */
export function deleteRefusal(pod: {key: string; source: string}): string | undefined {
  if (!isDaemonSource(pod.source)) return undefined
  const instead = isUrlSource(pod.source) ? 'remove it from the manifests served there' : "remove that file from the daemon's folder"
  return `pod ${pod.key} is run by a podrun daemon from ${pod.source}: ${instead} instead (--force deletes the pod anyway, and a running daemon starts it again)`
}

/** What a daemon may do with one pod, from its folder's manifest (d) and the runtime's pod (a). */
export type DaemonScope =
  /** Neither the folder's nor the daemon's: nothing to do or show. */
  | {kind: 'none'}
  /** The folder names a pod another source owns: left alone, reported. */
  | {kind: 'conflict'; owner: string}
  /** The daemon's: converge it; prune it only when `mayPrune`. */
  | {kind: 'sync'; mayPrune: boolean}

export function daemonScope(
  d: Pick<DesiredPod, 'source'> | undefined,
  a: Pick<ActualPod, 'source'> | undefined,
  o: {
    /** The daemon supervises pods of this source: its folder's files, and apply's records. */
    owns: (source: string) => boolean
    /** The source's pods must not be pruned (applied pods; a broken file; an unreadable folder). */
    frozen: (source: string) => boolean
  },
): DaemonScope {
  if (!d) return a && o.owns(a.source) ? {kind: 'sync', mayPrune: !o.frozen(a.source)} : {kind: 'none'}
  // Who owns a source: apply, the folder (a pod may move from one of its files to another), or
  // someone else (another folder).
  const owner = (source: string) => (source === APPLY_SOURCE ? APPLY_SOURCE : o.owns(source) ? 'folder' : source)
  if (a && owner(a.source) !== owner(d.source)) return {kind: 'conflict', owner: a.source || '(no source label)'}
  return {kind: 'sync', mayPrune: !!a && o.owns(a.source) && !o.frozen(a.source)}
}

/**
 * The lease (lib/lease.ts) held by whoever acts on a pod that apply owns: `podrun apply`, `podrun
 * delete` and the daemon that supervises it. Named after podrun's root too, so that two podrun
 * installations on one machine (tests) do not share leases.
 */
export function podLeaseName(key: string): string {
  return `pod:${podRoot()}:${key}`
}

/** Takes the leases of these pods, waiting while another holds one (onWait is told which pod, once). */
export async function leasePods(keys: Iterable<string>, onWait?: (key: string) => void): Promise<{release(): Promise<void>}> {
  const {acquireLeases} = await import('../lib/lease.js')
  const keyOf = new Map([...keys].map((k) => [podLeaseName(k), k]))
  return acquireLeases(keyOf.keys(), {onWait: (name) => onWait?.(keyOf.get(name) ?? name)})
}

/** What apply and delete say while the daemon finishes its work on a pod they want. */
export const daemonBusy = (key: string): string => `waiting for the podrun daemon to finish its work on pod ${key}\n`
