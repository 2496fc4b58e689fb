// `apply --atomic` (Helm's word): a pod that does not run (and, with wait, become ready) within
// --wait-timeout is put back as it was before this apply: the version that was Ready, from its
// applied record, with the ConfigMaps and Secrets it had; a pod this apply created is removed.
// A pod that was not Ready before has no good version to go back to, and is left as applied.
import fs from 'node:fs'
import type {ActualPod} from '../model/actual.js'
import type {DesiredPod} from '../model/desired.js'
import {podFromRuntime} from './status.js'
import {nowNs} from './engine.js'
import {appliedFile, appliedRoot, forgetApplied} from './applied-store.js'
import {writeAtomic} from '../lib/atomic.js'
import {applyPods, type ApplyOptions, type PodOutcome} from './apply.js'
import {dataLookup} from './data.js'
import {APPLY_SOURCE} from './ownership.js'

/** What each pod was before the apply: its record (when it was running and Ready), or new. */
export interface Before {
  key: string
  namespace: string
  name: string
  /** The applied record of the Ready version; undefined for a pod this apply creates. */
  record?: string
  /** The pod existed but was not Ready: nothing to go back to. */
  notReady?: boolean
}

export function snapshot(pods: DesiredPod[], listing: ActualPod[], root = appliedRoot()): Before[] {
  const byKey = new Map(listing.map((a) => [a.key, a]))
  return pods.map((d) => {
    const a = byKey.get(d.key)
    const base = {key: d.key, namespace: d.namespace, name: d.name}
    if (!a || a.sandboxes.length === 0) return base
    const ready = podFromRuntime(a, nowNs()).status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')
    let record: string | undefined
    try {
      record = fs.readFileSync(appliedFile(root, d.namespace, d.name), 'utf8')
    } catch {
      record = undefined
    }
    return ready && record ? {...base, record} : {...base, notReady: true}
  })
}

export interface RollbackOutcome {
  key: string
  name: string
  namespace: string
  /** rolled back, removed, or kept (nothing to go back to). */
  action: 'rolled back' | 'removed' | 'kept'
  ok: boolean
  message?: string
}

/** Puts back the pods that failed: their Ready version, or nothing for new ones. */
export async function rollBack(failed: PodOutcome[], before: Before[], o: Omit<ApplyOptions, 'data' | 'prune' | 'actual'>, root = appliedRoot()): Promise<RollbackOutcome[]> {
  const {desiredStateFromTexts} = await import('../manifest/index.js')
  const prev = new Map(before.map((b) => [b.key, b]))
  const out: RollbackOutcome[] = []
  const restore: Array<{b: Before; pod: DesiredPod; data: ReturnType<typeof dataLookup>}> = []
  const remove: Before[] = []
  for (const f of failed) {
    const b = prev.get(f.key)
    if (!b) continue
    if (b.record) {
      const file = appliedFile(root, b.namespace, b.name)
      const state = desiredStateFromTexts([{file, text: b.record}], {source: () => APPLY_SOURCE})
      const pod = state.pods[0]
      if (!pod) {
        out.push({key: b.key, name: b.name, namespace: b.namespace, action: 'kept', ok: false, message: 'its previous record could not be read'})
        continue
      }
      writeAtomic(file, b.record)
      restore.push({b, pod, data: dataLookup(state.configMaps, state.secrets)})
    } else if (b.notReady) {
      out.push({key: b.key, name: b.name, namespace: b.namespace, action: 'kept', ok: false, message: 'it was not Ready before this apply: no version to go back to'})
    } else remove.push(b)
  }
  // Each restored pod with its own ConfigMaps and Secrets: one pass per pod, side by side.
  const restored = await Promise.all(
    restore.map(async ({b, pod, data}) => {
      const r = await applyPods([pod], {...o, data, prune: () => false})
      const oc = r.outcomes[0]
      return {key: b.key, name: b.name, namespace: b.namespace, action: 'rolled back' as const, ok: !!oc?.ok, message: oc?.ok ? undefined : (oc?.message ?? oc?.status)}
    }),
  )
  out.push(...restored)
  if (remove.length > 0) {
    const gone = new Set(remove.map((b) => b.key))
    forgetApplied(remove, root)
    const r = await applyPods([], {...o, data: () => undefined, prune: (a) => gone.has(a.key)})
    for (const b of remove) {
      const oc = r.outcomes.find((x) => x.key === b.key)
      out.push({key: b.key, name: b.name, namespace: b.namespace, action: 'removed', ok: oc ? oc.ok : true, message: oc?.ok === false ? oc.message : undefined})
    }
  }
  return out
}
