// What the daemon wants to run, from its sources: the manifest folder and the manifest URLs (each
// optional: a daemon without them supervises applied pods only) and the records of `podrun apply`.
// The manifests' pods are the daemon's to change and prune; applied pods it only supervises.
import {formatDiagnostic} from '../manifest/format.js'
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import type {DataLookup} from '../reconcile/container-config.js'
import {APPLY_SOURCE} from '../reconcile/ownership.js'
import type {AppliedSource} from './applied-source.js'
import type {PodSource} from './sources.js'

export interface Wanted {
  pod: DesiredPod
  data: DataLookup
  /** A folder manifest naming the same pod, which apply owns: a conflict to report. */
  shadowed?: DesiredPod
}

/** A manifest's problems, for the status of its pods. */
export interface ManifestState {
  errors: string[]
  /** The pod runs its last good version. */
  frozen?: boolean
}

export class DesiredSources {
  private index: {generation: string; byKey: Map<string, {pod: DesiredPod; from: PodSource}>; duplicates: Map<string, string[]>} | undefined

  /** `manifests`: the folder, then the URLs; a pod two of them define is the first one's. */
  constructor(
    readonly manifests: PodSource[],
    readonly applied: AppliedSource,
  ) {}

  /** The daemon supervises pods of these sources. */
  readonly owns = (source: string): boolean => source === APPLY_SOURCE || this.manifests.some((m) => m.owns(source))

  /** The source a `podrun.io/source` value belongs to. */
  sourceOf(source: string): PodSource | undefined {
    return this.manifests.find((m) => m.owns(source))
  }

  private manifestIndex() {
    const generation = this.manifests.map((m) => m.snapshot.generation).join(',')
    if (this.index?.generation === generation) return this.index
    const byKey = new Map<string, {pod: DesiredPod; from: PodSource}>()
    const duplicates = new Map<string, string[]>()
    for (const m of this.manifests) {
      for (const pod of m.snapshot.pods) {
        const first = byKey.get(pod.key)
        if (!first) byKey.set(pod.key, {pod, from: m})
        else duplicates.set(pod.source, [...(duplicates.get(pod.source) ?? []), `pod ${pod.key} is also defined by ${first.pod.source}, whose manifest runs; this one is ignored`])
      }
    }
    this.index = {generation, byKey, duplicates}
    return this.index
  }

  /** The manifest of a pod: the one of the source that owns what runs, else a manifest source's, else apply's record. */
  wanted(key: string, a?: ActualPod): Wanted | undefined {
    const f = this.manifestIndex().byKey.get(key)
    const r = this.applied.get(key)
    const fromManifest = f && {pod: f.pod, data: f.from.snapshot.data}
    const fromApply = r && {pod: r.pod, data: r.data}
    if (a && a.source === APPLY_SOURCE && fromApply) return {...fromApply, shadowed: f?.pod}
    return fromManifest ?? fromApply
  }

  keys(): Set<string> {
    return new Set([...this.manifestIndex().byKey.keys(), ...this.applied.pods().map((p) => p.key)])
  }

  /**
   * Pods of this source are never pruned by the daemon: applied pods (apply and delete do that),
   * a file or body broken since before this daemon started (its pods run a version only the
   * runtime knows), every pod of a source that cannot be read (a folder's mount hiccup, a URL
   * never fetched), and pods of a source this daemon was not given.
   */
  readonly frozen = (source: string): boolean => {
    if (source === APPLY_SOURCE) return true
    const m = this.sourceOf(source)
    if (!m) return true
    const snap = m.snapshot
    const file = snap.files.get(source)
    return snap.dirErrors.length > 0 || (!!file && file.errors.length > 0 && !file.frozen)
  }

  /** Problems of the manifest a pod comes from (manifest sources only). */
  manifestState(source: string): ManifestState | undefined {
    const m = source === APPLY_SOURCE ? undefined : this.sourceOf(source)
    if (!m) return undefined
    const snap = m.snapshot
    const file = snap.files.get(source)
    if (file && file.errors.length > 0) return {errors: file.errors.map(formatDiagnostic), frozen: file.frozen}
    if (snap.dirErrors.length > 0) return {errors: snap.dirErrors.map((e) => `${e.file}: ${e.message}`), frozen: true}
    return undefined
  }

  /** Pods a manifest defines that an earlier source defines too, by the manifest ignored. */
  duplicates(): Map<string, string[]> {
    return this.manifestIndex().duplicates
  }

  /** Changes whenever any desired state or manifest error does. */
  get generation(): string {
    return `${this.manifests.map((m) => m.snapshot.generation).join(',')}/${this.applied.generation}`
  }
}
