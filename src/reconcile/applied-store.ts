// What `podrun apply` applied, kept on disk: one file per pod holding the Pod as applied
// (normalized) and the ConfigMaps and Secrets it uses, as a v1 List that the manifest pipeline
// reads back. It is the desired state of applied pods for whoever supervises them when apply is
// not running: the daemon restarts their containers per restartPolicy and brings them back after
// the runtime lost them (a power cut), without the manifests apply was given. Files are written
// atomically (temporary file, fsync, rename, fsync of the folder) and readable by root only: they
// hold Secrets.
import fs from 'node:fs'
import path from 'node:path'
import type {ConfigMap, Container, Pod, Secret} from 'kubernetes-types/core/v1.js'
import type {DesiredPod} from '../model/desired.js'
import type {DesiredConfigMap, DesiredSecret} from '../manifest/types.js'
import {referencesOf} from '../manifest/references.js'
import {joinInside} from '../lib/paths.js'
import {syncDir, writeAtomic} from '../lib/atomic.js'

/** $PODRUN_ROOT/applied, default /var/lib/podrun/applied. */
export function appliedRoot(): string {
  return path.join(process.env.PODRUN_ROOT ?? '/var/lib/podrun', 'applied')
}

/** A namespace (DNS label) and a name (DNS subdomain) hold no "_": the file name is unambiguous. */
export const appliedFile = (root: string, namespace: string, name: string): string => joinInside(root, `${namespace}_${name}.json`)

/** The record of one pod: the pod and the ConfigMaps and Secrets of its namespace that it refers to. */
export function appliedRecord(d: DesiredPod, configMaps: DesiredConfigMap[], secrets: DesiredSecret[]): string {
  const refs = referencesOf(d.pod as Record<string, unknown>)
  const wants = (kind: string, name: string) => refs.some((r) => r.kind === kind && r.name === name)
  const cms: ConfigMap[] = configMaps
    .filter((c) => c.namespace === d.namespace && wants('ConfigMap', c.name))
    .map((c) => ({apiVersion: 'v1', kind: 'ConfigMap', metadata: {name: c.name, namespace: c.namespace}, data: c.data, binaryData: c.binaryData, ...(c.immutable ? {immutable: true} : {})}))
  const secs: Secret[] = secrets
    .filter((s) => s.namespace === d.namespace && wants('Secret', s.name))
    .map((s) => ({apiVersion: 'v1', kind: 'Secret', metadata: {name: s.name, namespace: s.namespace}, type: s.type, data: s.data, ...(s.immutable ? {immutable: true} : {})}))
  return JSON.stringify({apiVersion: 'v1', kind: 'List', items: [d.pod, ...cms, ...secs]}, null, 1) + '\n'
}

/** The store folder, made root-only if new (and refused if it is a link). */
export function ensureAppliedRoot(root = appliedRoot()): string {
  fs.mkdirSync(path.dirname(root), {recursive: true, mode: 0o700})
  try {
    fs.mkdirSync(root, {mode: 0o700})
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  const st = fs.lstatSync(root)
  if (!st.isDirectory()) throw new Error(`${root} is not a folder`)
  return root
}

/** Records what apply is about to run (before it runs it: a crash of apply leaves the intent). */
export function recordApplied(pods: DesiredPod[], configMaps: DesiredConfigMap[], secrets: DesiredSecret[], root = appliedRoot()): void {
  if (pods.length === 0) return
  ensureAppliedRoot(root)
  for (const d of pods) writeAtomic(appliedFile(root, d.namespace, d.name), appliedRecord(d, configMaps, secrets))
}

/** Forgets pods deleted or pruned (before they are removed: nothing brings them back meanwhile). */
export function forgetApplied(pods: Array<{namespace: string; name: string}>, root = appliedRoot()): void {
  let removed = false
  for (const p of pods) {
    try {
      fs.unlinkSync(appliedFile(root, p.namespace, p.name))
      removed = true
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    }
  }
  if (removed) syncDir(root)
}

/** The pods recorded, as "namespace/name". */
export function appliedKeys(root = appliedRoot()): string[] {
  let names: string[]
  try {
    names = fs.readdirSync(root)
  } catch {
    return []
  }
  return names.filter((n) => !n.startsWith('.') && n.endsWith('.json') && n.includes('_')).map((n) => n.slice(0, -5).replace('_', '/'))
}

/** What each recorded pod holds, for a listing without a daemon: names and images only. */
export function appliedPods(root = appliedRoot()): Array<{namespace: string; name: string; initContainers: {name: string; image: string}[]; containers: {name: string; image: string}[]}> {
  const out = []
  for (const key of appliedKeys(root)) {
    const [namespace, name] = key.split('/')
    try {
      const pod = (JSON.parse(fs.readFileSync(appliedFile(root, namespace, name), 'utf8')) as {items: Pod[]}).items[0]
      const brief = (list: Container[] | undefined) => (list ?? []).map((c) => ({name: c.name, image: c.image ?? ''}))
      out.push({namespace, name, initContainers: brief(pod.spec?.initContainers), containers: brief(pod.spec?.containers)})
    } catch {
      // Unreadable: the daemon reports it when it runs.
    }
  }
  return out
}
