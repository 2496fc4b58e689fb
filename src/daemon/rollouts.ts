// Updates that roll back. For each pod of the folder the daemon remembers the last version of its
// spec that was Ready (for --min-ready in a row, 10 s), on disk, written atomically, so that it survives
// a restart of podrun and a power cut. When an edited version does not become Ready within the
// progress deadline, or crash-loops, the daemon puts the last Ready version back, records a
// RolledBack event, and does not try that version again until the file changes again.
import fs from 'node:fs'
import path from 'node:path'
import {createHash} from 'node:crypto'
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {DesiredPod} from '../model/desired.js'
import {joinInside} from '../lib/paths.js'
import {writeAtomic} from '../lib/atomic.js'
import type {Logger} from './log.js'

/** A version counts as good once Ready this long without a break (--min-ready). */
export const MIN_READY_MS = 10_000

interface Record {
  /** The last version that was Ready, and the pod as it was. */
  good?: {version: string; pod: Pod}
  /** The version that was rolled back (tried again only once the manifest changes). */
  bad?: {version: string; reason: string; at: string}
}

export interface Effective {
  pod: DesiredPod
  /** Why the manifest's version is not the one running. */
  rolledBack?: string
}

/** The identity of a version: the pod's spec as normalized. */
export const versionOf = (d: DesiredPod): string => createHash('sha256').update(JSON.stringify(d.pod.spec ?? {})).digest('hex').slice(0, 16)

export class Rollouts {
  private readonly records = new Map<string, Record>()
  private readonly parsed = new Map<string, DesiredPod>()
  /** The version being tried and since when, and since when it has been Ready. */
  private readonly progress = new Map<string, {version: string; since: number; readySince?: number}>()

  constructor(
    readonly dir: string,
    private readonly d: {deadlineMs: number; minReadyMs?: number; now: () => number; log: Logger; parse: (pod: Pod, source: string) => DesiredPod | undefined},
  ) {}

  private file(key: string): string {
    const [ns, name] = key.split('/')
    return joinInside(this.dir, `${ns}_${name}.json`)
  }

  private record(key: string): Record {
    let r = this.records.get(key)
    if (!r) {
      try {
        r = JSON.parse(fs.readFileSync(this.file(key), 'utf8')) as Record
      } catch {
        r = {}
      }
      this.records.set(key, r)
    }
    return r
  }

  private save(key: string, r: Record): void {
    try {
      fs.mkdirSync(this.dir, {recursive: true, mode: 0o700})
      writeAtomic(this.file(key), JSON.stringify(r) + '\n')
    } catch (e) {
      this.d.log.warn('could not record the last Ready version of a pod', {pod: key, error: (e as Error).message})
    }
  }

  /** The pod to run: the manifest's, unless that version was rolled back and a Ready one is known. */
  effective(key: string, d: DesiredPod): Effective {
    const r = this.record(key)
    const v = versionOf(d)
    if (r.bad && r.bad.version !== v) {
      // The manifest changed since the roll-back: the new version gets its chance.
      r.bad = undefined
      this.save(key, r)
    }
    if (!r.bad || !r.good || r.good.version === v) return {pod: d}
    let good = this.parsed.get(r.good.version)
    if (!good) {
      good = this.d.parse(r.good.pod, d.source)
      if (good) this.parsed.set(r.good.version, good)
    }
    return good ? {pod: good, rolledBack: `rolled back to the last Ready version: ${r.bad.reason}`} : {pod: d}
  }

  /**
   * After a sync of the manifest's version: a version Ready for MIN_READY_MS becomes the good one;
   * one that crash-loops, or is not Ready by the deadline, is rolled back (when a good one exists).
   * Returns the reason of a roll-back, and when to look again.
   */
  judge(key: string, d: DesiredPod, o: {ready: boolean; crashLooping?: string}): {rollBack?: string; requeueAfterMs?: number} {
    const r = this.record(key)
    const v = versionOf(d)
    const now = this.d.now()
    let p = this.progress.get(key)
    if (!p || p.version !== v) {
      p = {version: v, since: now}
      this.progress.set(key, p)
    }
    if (o.ready) {
      p.readySince ??= now
      if (r.good?.version === v) return {}
      const minReady = this.d.minReadyMs ?? MIN_READY_MS
      if (now - p.readySince >= minReady) {
        r.good = {version: v, pod: d.pod}
        this.save(key, r)
        return {}
      }
      return {requeueAfterMs: p.readySince + minReady - now}
    }
    p.readySince = undefined
    if (!r.good || r.good.version === v) return {}
    const late = now - p.since >= this.d.deadlineMs
    if (!o.crashLooping && !late) return {requeueAfterMs: p.since + this.d.deadlineMs - now}
    const reason = o.crashLooping
      ? `version ${v} crash-loops (${o.crashLooping})`
      : `version ${v} was not Ready within the progress deadline of ${Math.round(this.d.deadlineMs / 1000)}s`
    r.bad = {version: v, reason, at: new Date(now).toISOString()}
    this.save(key, r)
    this.progress.delete(key)
    return {rollBack: reason}
  }

  /** The pod is gone: so is its record. */
  forget(key: string): void {
    this.records.delete(key)
    this.progress.delete(key)
    fs.rmSync(this.file(key), {force: true})
  }
}

/** $PODRUN_ROOT/rollouts. */
export function rolloutsRoot(): string {
  return path.join(process.env.PODRUN_ROOT ?? '/var/lib/podrun', 'rollouts')
}
