// What the daemon wants to run, from its two sources: the manifest folder (optional: a daemon
// without --manifest-dir supervises applied pods only) and the records of `podrun apply`. The
// folder's pods are the daemon's to change and prune; applied pods it only supervises.
import {formatDiagnostic} from '../manifest/format.js'
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import type {DataLookup} from '../reconcile/container-config.js'
import {APPLY_SOURCE} from '../reconcile/ownership.js'
import type {AppliedSource} from './applied-source.js'
import type {ManifestSource} from './sources.js'

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
  private folderIndex: {generation: number; byKey: Map<string, DesiredPod>} | undefined

  constructor(
    readonly folder: ManifestSource | undefined,
    readonly applied: AppliedSource,
  ) {}

  /** The daemon supervises pods of these sources. */
  readonly owns = (source: string): boolean => source === APPLY_SOURCE || (this.folder?.owns(source) ?? false)

  private folderPod(key: string): DesiredPod | undefined {
    if (!this.folder) return undefined
    const snap = this.folder.snapshot
    if (this.folderIndex?.generation !== snap.generation) this.folderIndex = {generation: snap.generation, byKey: new Map(snap.pods.map((p) => [p.key, p]))}
    return this.folderIndex.byKey.get(key)
  }

  /** The manifest of a pod: the one of the source that owns what runs, else the folder's, else apply's record. */
  wanted(key: string, a?: ActualPod): Wanted | undefined {
    const f = this.folderPod(key)
    const r = this.applied.get(key)
    const fromFolder = f && {pod: f, data: this.folder!.snapshot.data}
    const fromApply = r && {pod: r.pod, data: r.data}
    if (a && a.source === APPLY_SOURCE && fromApply) return {...fromApply, shadowed: f}
    return fromFolder ?? fromApply
  }

  keys(): Set<string> {
    return new Set([...(this.folder?.snapshot.pods.map((p) => p.key) ?? []), ...this.applied.pods().map((p) => p.key)])
  }

  /**
   * Pods of this source are never pruned by the daemon: applied pods (apply and delete do that),
   * and a folder file broken since before this daemon started (its pods run a version only the
   * runtime knows), or every file while the folder cannot be read.
   */
  readonly frozen = (source: string): boolean => {
    if (source === APPLY_SOURCE || !this.folder) return true
    const snap = this.folder.snapshot
    const file = snap.files.get(source)
    return snap.dirErrors.length > 0 || (!!file && file.errors.length > 0 && !file.frozen)
  }

  /** Problems of the manifest a pod comes from (folder pods only). */
  manifestState(source: string): ManifestState | undefined {
    if (!this.folder || source === APPLY_SOURCE) return undefined
    const snap = this.folder.snapshot
    const file = snap.files.get(source)
    if (file && file.errors.length > 0) return {errors: file.errors.map(formatDiagnostic), frozen: file.frozen}
    if (snap.dirErrors.length > 0) return {errors: snap.dirErrors.map((e) => `${e.file}: ${e.message}`), frozen: true}
    return undefined
  }

  /** Changes whenever any desired state or manifest error does. */
  get generation(): string {
    return `${this.folder?.snapshot.generation ?? 0}/${this.applied.generation}`
  }
}
