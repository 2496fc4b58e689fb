// The pod as last applied to a running sandbox, when it differs from what the sandbox and its
// containers were created with. A sandbox carries the pod it was made from, and each container its
// own spec (annotations, labels.ts), and CRI cannot rewrite them. An edit that needs no restart (a
// label, an annotation, a probe, restartPolicy, the pull policy, the grace period) is therefore kept
// beside the pod, in `<podRoot>/<uid>/pod.json`, tied to the sandbox id and to each container's
// config hash. The runtime stays the source of truth: the record counts only while that sandbox
// is the pod's newest, and a container whose hash differs from the recorded one (replaced since)
// is shown with its own annotation. It goes with the pod folder when the pod is removed.
import fs from 'node:fs'
import type {Container, Pod} from 'kubernetes-types/core/v1.js'
import type {ActualPod} from '../model/actual.js'
import {Annotation, annotationJson} from './labels.js'
import {joinInside} from '../lib/paths.js'
import {writeAtomic} from '../lib/atomic.js'
import {ensurePodDir} from './volumes.js'

export interface PodRecord {
  /** The sandbox this record belongs to. */
  sandboxId: string
  /** Each container's config hash when the record was written. */
  hashes: Record<string, string>
  /** The normalized Pod. */
  pod: Pod
}

const FILE = 'pod.json'

const recordFile = (podRoot: string, uid: string): string => joinInside(podRoot, uid, FILE)

/** Parsed records by file, reused while the file's inode, size and mtime stay: observe reads them on every listing. */
const cache = new Map<string, {stamp: string; record: PodRecord | undefined}>()

/** The record of pod `uid`, or undefined when absent or unreadable. */
export function readRecord(podRoot: string, uid: string): PodRecord | undefined {
  let file: string
  try {
    file = recordFile(podRoot, uid)
  } catch {
    return undefined // a uid read back from the runtime that is not a plain name
  }
  const st = fs.lstatSync(file, {throwIfNoEntry: false})
  if (!st?.isFile()) {
    cache.delete(file)
    return undefined
  }
  const stamp = `${st.ino}:${st.size}:${st.mtimeMs}`
  const hit = cache.get(file)
  if (hit?.stamp === stamp) return hit.record
  let record: PodRecord | undefined
  try {
    const r = JSON.parse(fs.readFileSync(file, 'utf8')) as PodRecord
    record = typeof r?.sandboxId === 'string' && r.pod && typeof r.hashes === 'object' ? r : undefined
  } catch {
    record = undefined
  }
  cache.set(file, {stamp, record})
  if (cache.size > 10_000) cache.delete(cache.keys().next().value!)
  return record
}

/** Writes the record of pod `uid` atomically (the pod folder is made if missing). */
export function writeRecord(podRoot: string, uid: string, record: PodRecord): void {
  const file = recordFile(podRoot, uid)
  ensurePodDir(podRoot, uid)
  writeAtomic(file, JSON.stringify(record) + '\n', 0o600)
}

/** The pod the newest sandbox was created with (its annotation), which its cgroup folder follows. */
export const podAsCreated = (a: ActualPod | undefined): Pod | undefined => annotationJson<Pod>(a?.sandboxes[0]?.annotations, Annotation.podSpec)

/**
 * The pod as it is in effect for `a`: its record when it belongs to the newest sandbox, else the pod
 * stored on that sandbox; each container as recorded, or, when it was replaced since, as its own
 * annotation says. Undefined when the runtime holds no spec for the pod.
 */
export function podAsRecorded(a: ActualPod | undefined): Pod | undefined {
  const sb = a?.sandboxes[0]
  if (!a || !sb) return undefined
  const record = a.record?.sandboxId === sb.id ? a.record : undefined
  const base = record?.pod ?? podAsCreated(a)
  if (!base) return undefined
  const pod = structuredClone(base)
  const spec = pod.spec ?? {containers: []}
  const current = <T extends {name: string}>(c: T): T => {
    const running = a.containers.find((x) => x.name === c.name && x.podSandboxId === sb.id) ?? a.containers.find((x) => x.name === c.name)
    if (!running) return c
    if (record && record.hashes[c.name] === running.hash) return c
    return annotationJson<T>(running.annotations, Annotation.containerSpec) ?? c
  }
  spec.containers = (spec.containers ?? []).map(current)
  if (spec.initContainers) spec.initContainers = spec.initContainers.map(current)
  pod.spec = spec
  return pod
}

/** One container's spec as in effect (see podAsRecorded). */
export function containerAsRecorded(a: ActualPod | undefined, name: string): Container | undefined {
  const spec = podAsRecorded(a)?.spec
  return [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].find((c) => c.name === name)
}
