// Rules across objects of one set: the same object defined twice (both places named), and the
// ConfigMaps and Secrets pods use, which must be in the set (unless marked optional) and hold the
// keys asked for.
import {positionOf, type ObjectReporter} from './diagnostics.js'
import {list, rec, str} from './semantic.js'
import type {FieldPath, ManifestObject} from './types.js'

export interface CheckedObject {
  obj: ManifestObject
  r: ObjectReporter
}

function where(obj: ManifestObject): string {
  const pos = positionOf(obj.source, [...obj.base, 'metadata', 'name'])
  return `${obj.source.file}:${pos.line}:${pos.col}`
}

/** Objects of the same kind, namespace and name: an error at each, naming the others. */
export function checkDuplicates(objects: CheckedObject[]): void {
  const groups = new Map<string, CheckedObject[]>()
  for (const o of objects) {
    if (o.obj.name === '') continue
    const key = `${o.obj.kind}/${o.obj.namespace}/${o.obj.name}`
    const group = groups.get(key)
    if (group) group.push(o)
    else groups.set(key, [o])
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue
    for (const o of group) {
      const others = group.filter((x) => x !== o).map((x) => where(x.obj))
      o.r.error(['metadata', 'name'], `${o.obj.kind} ${o.obj.namespace}/${o.obj.name} is defined more than once: also at ${others.join(', ')}`)
    }
  }
}

export interface Reference {
  kind: 'ConfigMap' | 'Secret'
  name: string
  optional: boolean
  /** Where the name is written. */
  path: FieldPath
  /** Keys that must exist, with where each is written. */
  keys: Array<{key: string; path: FieldPath}>
  /** imagePullSecrets: a missing one is a warning (the pull is tried without credentials). */
  warnOnly?: boolean
}

/** The ConfigMaps and Secrets a pod (its manifest object) refers to. */
export function referencesOf(pod: Record<string, unknown>): Reference[] {
  const refs: Reference[] = []
  const spec = rec(pod.spec) ?? {}
  const keyList = (items: unknown, base: FieldPath): Reference['keys'] =>
    list(items).flatMap((it, i) => {
      const key = str(rec(it)?.key)
      return key === undefined ? [] : [{key, path: [...base, i, 'key']}]
    })
  list(spec.volumes).forEach((v, i) => {
    const vol = rec(v) ?? {}
    const cm = rec(vol.configMap)
    const cmName = str(cm?.name)
    if (cm && cmName) {
      refs.push({kind: 'ConfigMap', name: cmName, optional: cm.optional === true, path: ['spec', 'volumes', i, 'configMap', 'name'], keys: keyList(cm.items, ['spec', 'volumes', i, 'configMap', 'items'])})
    }
    const secret = rec(vol.secret)
    const secretName = str(secret?.secretName)
    if (secret && secretName) {
      refs.push({kind: 'Secret', name: secretName, optional: secret.optional === true, path: ['spec', 'volumes', i, 'secret', 'secretName'], keys: keyList(secret.items, ['spec', 'volumes', i, 'secret', 'items'])})
    }
    list(rec(vol.projected)?.sources).forEach((s, j) => {
      const source = rec(s) ?? {}
      for (const kind of ['configMap', 'secret'] as const) {
        const ref = rec(source[kind])
        const name = str(ref?.name)
        if (!ref || !name) continue
        const base: FieldPath = ['spec', 'volumes', i, 'projected', 'sources', j, kind]
        refs.push({kind: kind === 'configMap' ? 'ConfigMap' : 'Secret', name, optional: ref.optional === true, path: [...base, 'name'], keys: keyList(ref.items, [...base, 'items'])})
      }
    })
  })
  for (const listName of ['initContainers', 'containers']) {
    list(spec[listName]).forEach((c, i) => {
      const container = rec(c) ?? {}
      list(container.env).forEach((e, j) => {
        const from = rec(rec(e)?.valueFrom)
        for (const [field, kind] of [['configMapKeyRef', 'ConfigMap'], ['secretKeyRef', 'Secret']] as const) {
          const ref = rec(from?.[field])
          const name = str(ref?.name)
          const key = str(ref?.key)
          if (!ref || !name) continue
          const base: FieldPath = ['spec', listName, i, 'env', j, 'valueFrom', field]
          refs.push({kind, name, optional: ref.optional === true, path: [...base, 'name'], keys: key === undefined ? [] : [{key, path: [...base, 'key']}]})
        }
      })
      list(container.envFrom).forEach((e, j) => {
        const from = rec(e) ?? {}
        for (const [field, kind] of [['configMapRef', 'ConfigMap'], ['secretRef', 'Secret']] as const) {
          const ref = rec(from[field])
          const name = str(ref?.name)
          if (!ref || !name) continue
          refs.push({kind, name, optional: ref.optional === true, path: ['spec', listName, i, 'envFrom', j, field, 'name'], keys: []})
        }
      })
    })
  }
  list(spec.imagePullSecrets).forEach((s, i) => {
    const name = str(rec(s)?.name)
    if (name) refs.push({kind: 'Secret', name, optional: false, path: ['spec', 'imagePullSecrets', i, 'name'], keys: [], warnOnly: true})
  })
  return refs
}

function keysOf(obj: ManifestObject): string[] {
  const v = obj.value
  const fields = obj.kind === 'ConfigMap' ? ['data', 'binaryData'] : ['data', 'stringData']
  return fields.flatMap((f) => Object.keys(rec(v[f]) ?? {}))
}

/** Each pod's ConfigMap and Secret references against the objects of the set (same namespace). */
export function checkReferences(pods: CheckedObject[], configs: CheckedObject[]): void {
  const byKey = new Map<string, CheckedObject[]>()
  for (const c of configs) {
    const key = `${c.obj.kind}/${c.obj.namespace}/${c.obj.name}`
    byKey.set(key, [...(byKey.get(key) ?? []), c])
  }
  for (const {obj, r} of pods) {
    for (const ref of referencesOf(obj.value)) {
      const found = byKey.get(`${ref.kind}/${obj.namespace}/${ref.name}`)
      const label = `${ref.kind} ${obj.namespace}/${ref.name}`
      if (!found) {
        if (ref.optional) continue
        if (ref.warnOnly) {
          r.warning(ref.path, `image pull secret ${label} is not among the manifests given; images will be pulled without these credentials`, 'value')
        } else {
          r.error(ref.path, `${label} is not among the manifests given: add its manifest to the set, or mark the reference optional: true`)
        }
        continue
      }
      if (found.length > 1) continue // reported as a duplicate already
      const target = found[0]
      if (target.r.errors > 0) {
        r.error(ref.path, `${label} has errors (${where(target.obj)}), so this pod cannot use it`)
        continue
      }
      if (ref.optional) continue
      const keys = keysOf(target.obj)
      for (const {key, path} of ref.keys) {
        if (!keys.includes(key)) {
          r.error(path, `${label} has no key ${JSON.stringify(key)}${keys.length > 0 ? ` (its keys: ${keys.join(', ')})` : ' (it has no data)'}`)
        }
      }
    }
  }
}
