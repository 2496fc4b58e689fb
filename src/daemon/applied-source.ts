// The pods `podrun apply` recorded (reconcile/applied-store.ts), read for the daemon: the desired
// state of applied pods, which the daemon supervises (restarts, brings back after a power cut) but
// never changes or prunes: apply and delete do that. Each record is read on its own, with the
// same manifest pipeline as a file, so two pods may carry the same ConfigMap. A record that cannot
// be read (it never should: they are written atomically) keeps its last good version.
import fs from 'node:fs'
import path from 'node:path'
import type {DesiredPod} from '../model/desired.js'
import type {DataLookup} from '../reconcile/container-config.js'
import {dataLookup} from '../reconcile/data.js'
import {APPLY_SOURCE} from '../reconcile/ownership.js'
import {formatDiagnostic} from '../manifest/format.js'
import type {Logger} from './log.js'

export interface AppliedPod {
  pod: DesiredPod
  data: DataLookup
  file: string
}

export class AppliedSource {
  private records = new Map<string, AppliedPod & {stamp: string}>()
  private fp = ''
  private readonly warned = new Map<string, string>()
  /** Bumped whenever a record is added, changed or removed. */
  generation = 0

  constructor(
    readonly dir: string,
    private readonly log: Logger,
  ) {}

  get(key: string): AppliedPod | undefined {
    return this.records.get(key)
  }

  pods(): DesiredPod[] {
    return [...this.records.values()].map((r) => r.pod)
  }

  /** name|size|mtime|inode of each record: changes when any record does. */
  private stamps(): Map<string, string> {
    const out = new Map<string, string>()
    let names: string[]
    try {
      names = fs.readdirSync(this.dir)
    } catch {
      return out
    }
    for (const name of names.sort()) {
      if (name.startsWith('.') || !name.endsWith('.json')) continue
      const st = fs.lstatSync(path.join(this.dir, name), {throwIfNoEntry: false})
      if (st?.isFile()) out.set(name, `${st.size}|${st.mtimeMs}|${st.ino}`)
    }
    return out
  }

  /** Reads what changed; the keys of pods added, changed or removed. */
  async reload(opts: {force?: boolean} = {}): Promise<string[]> {
    const stamps = this.stamps()
    const fp = [...stamps].map(([n, s]) => `${n}|${s}`).join('\n')
    if (!opts.force && fp === this.fp) return []
    this.fp = fp
    const {desiredStateFromTexts} = await import('../manifest/index.js')
    const changed: string[] = []
    const next = new Map<string, AppliedPod & {stamp: string}>()
    const byFile = new Map([...this.records.values()].map((r) => [path.basename(r.file), r]))
    for (const [name, stamp] of stamps) {
      const old = byFile.get(name)
      if (old && old.stamp === stamp) {
        next.set(old.pod.key, old)
        continue
      }
      const file = path.join(this.dir, name)
      let text: string
      try {
        text = fs.readFileSync(file, 'utf8')
      } catch {
        if (old) next.set(old.pod.key, old)
        continue
      }
      const state = desiredStateFromTexts([{file, text}], {source: () => APPLY_SOURCE})
      const errors = state.diagnostics.filter((d) => d.severity === 'error')
      const pod = state.pods[0]
      if (errors.length > 0 || !pod || state.pods.length !== 1) {
        const message = errors.map(formatDiagnostic).join('; ') || 'no pod in the record'
        if (this.warned.get(name) !== message) this.log.warn('record of an applied pod cannot be read: keeping its last good version', {file, error: message})
        this.warned.set(name, message)
        if (old) next.set(old.pod.key, old)
        continue
      }
      this.warned.delete(name)
      next.set(pod.key, {pod, data: dataLookup(state.configMaps, state.secrets), file, stamp})
      if (!old || JSON.stringify(old.pod.pod) !== JSON.stringify(pod.pod)) changed.push(pod.key)
    }
    for (const key of this.records.keys()) if (!next.has(key)) changed.push(key)
    this.records = next
    if (changed.length > 0) this.generation++
    return changed
  }
}
