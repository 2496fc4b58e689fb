// Field-level differences between the pod as in effect (pod-record.ts) and the pod now desired:
// what `podrun diff` prints, e.g. `containers[web].image: busybox:1.0 -> busybox:1.1 (replaces the
// container)`. Every changed field is listed, with what it takes: a new pod (the fields of the
// sandbox hash), a new container (the fields of its container hash, and the volumes it mounts), or
// nothing (the rest: metadata, probes, hooks, restartPolicy... kept in the pod's record).
import type {Pod} from 'kubernetes-types/core/v1.js'
import {CONTAINER_FIELDS, SANDBOX_SPEC_FIELDS} from '../manifest/hash.js'

export interface FieldChange {
  path: string
  from: string
  to: string
  /** True when the change is pod-level (needs a new sandbox). */
  sandbox: boolean
  /** What the change takes: a new pod, a new container, or nothing that runs. */
  effect: Effect
}

export type Effect = 'pod' | 'container' | 'none'

const MAX_VALUE = 80

function show(v: unknown): string {
  if (v === undefined) return '<none>'
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function named(v: unknown): v is {name: string}[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => isObj(x) && typeof x.name === 'string')
}

function walk(a: unknown, b: unknown, path: string, out: Omit<FieldChange, 'sandbox' | 'effect'>[]): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], `${path}.${k}`, out)
    return
  }
  if (named(a) && named(b)) {
    const am = new Map(a.map((x) => [x.name, x]))
    const bm = new Map(b.map((x) => [x.name, x]))
    for (const k of [...new Set([...am.keys(), ...bm.keys()])]) walk(am.get(k), bm.get(k), `${path}[${k}]`, out)
    return
  }
  out.push({path, from: show(a), to: show(b)})
}

const sandboxFields = new Set<string>(SANDBOX_SPEC_FIELDS)
const containerFields = new Set<string>(CONTAINER_FIELDS)

/** What a change at `path` (relative to the pod's spec, or metadata.*) takes. */
function effectOf(path: string, now: Pod, sandboxChanged: boolean): Effect {
  const c = /^(?:containers|initContainers)\[([^\]]+)\](?:\.(\w+))?/.exec(path)
  if (c) {
    if (c[2] === undefined) return 'container'
    if (c[2] === 'ports' && sandboxChanged) return 'pod'
    return containerFields.has(c[2]) ? 'container' : 'none'
  }
  const v = /^volumes\[([^\]]+)\]/.exec(path)
  if (v) {
    const mounted = [...(now.spec?.containers ?? []), ...(now.spec?.initContainers ?? [])].some((x) => x.volumeMounts?.some((m) => m.name === v[1]))
    return mounted ? 'container' : 'none'
  }
  const top = /^(\w+)/.exec(path)?.[1] ?? ''
  return !path.startsWith('metadata.') && sandboxFields.has(top) ? 'pod' : 'none'
}

/**
 * Every difference between the pod as in effect and the pod desired, each with what it takes.
 * Paths are relative to the spec (`containers[web].image`, `hostNetwork`) or start with
 * `metadata.`. Nothing when the pod has no stored spec (it is new).
 */
export function diffPods(was: Pod | undefined, now: Pod, sandboxChanged: boolean): FieldChange[] {
  if (was === undefined) return []
  const out: Omit<FieldChange, 'sandbox' | 'effect'>[] = []
  walk({metadata: was.metadata, spec: was.spec}, {metadata: now.metadata, spec: now.spec}, 'pod', out)
  return out.map((c) => {
    const path = c.path.replace(/^pod\.spec\./, '').replace(/^pod\./, '')
    const effect = effectOf(path, now, sandboxChanged)
    return {...c, path, effect, sandbox: effect === 'pod'}
  })
}
