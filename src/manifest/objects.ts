// From parsed documents to Kubernetes objects: each document is one object, or a `v1` `List` of
// them; only the kinds podrun reads (Pod, and the ConfigMaps and Secrets pods use) are accepted.
import {closest} from './k8s-names.js'
import {positionOf} from './diagnostics.js'
import {formatPath, isRecord} from './field-path.js'
import type {Diagnostic, FieldPath, ManifestObject, SourceDocument} from './types.js'

export const SUPPORTED_KINDS = ['Pod', 'ConfigMap', 'Secret'] as const
export type SupportedKind = (typeof SUPPORTED_KINDS)[number]

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'a list'
  if (v === null) return 'null'
  if (typeof v === 'object') return 'a mapping'
  return `a ${typeof v}`
}

/** The objects of one document; problems that keep an object from being read go to `sink`. */
export function objectsOf(source: SourceDocument, sink: Diagnostic[]): ManifestObject[] {
  const problem = (path: FieldPath, message: string, anchor: 'key' | 'value' = 'value'): void => {
    const pos = positionOf(source, path, anchor)
    sink.push({severity: 'error', file: source.file, line: pos.line, col: pos.col, path: formatPath(path), message})
  }
  const value = source.value
  if (!isRecord(value)) {
    problem([], `a document must be a Kubernetes object (a mapping with apiVersion, kind, metadata), got ${describe(value)}`)
    return []
  }
  if (value.kind === 'List') {
    if (value.apiVersion !== 'v1') {
      problem(['apiVersion'], `a List is apiVersion "v1"${value.apiVersion === undefined ? '; apiVersion is missing' : ''}`)
      return []
    }
    if (!Array.isArray(value.items)) {
      problem(value.items === undefined ? [] : ['items'], value.items === undefined ? 'a List needs "items"' : `"items" must be a list, got ${describe(value.items)}`)
      return []
    }
    const out: ManifestObject[] = []
    value.items.forEach((item, i) => {
      const base = ['items', i]
      if (!isRecord(item)) {
        problem(base, `a List item must be a Kubernetes object (a mapping), got ${describe(item)}`)
        return
      }
      if (item.kind === 'List') {
        problem([...base, 'kind'], 'a List inside a List is not supported')
        return
      }
      const obj = objectAt(source, item, base, problem)
      if (obj) out.push(obj)
    })
    return out
  }
  const obj = objectAt(source, value, [], problem)
  return obj ? [obj] : []
}

function objectAt(
  source: SourceDocument,
  value: Record<string, unknown>,
  base: FieldPath,
  problem: (path: FieldPath, message: string, anchor?: 'key' | 'value') => void,
): ManifestObject | undefined {
  const {kind, apiVersion} = value
  if (kind === undefined) {
    problem(base, 'missing "kind": podrun reads kind Pod (and the ConfigMap and Secret objects pods use)')
    return undefined
  }
  if (typeof kind !== 'string') {
    problem([...base, 'kind'], `"kind" must be a string, got ${describe(kind)}`)
    return undefined
  }
  if (!(SUPPORTED_KINDS as readonly string[]).includes(kind)) {
    const near = closest(kind, SUPPORTED_KINDS)
    const version = typeof apiVersion === 'string' ? ` (${apiVersion})` : ''
    problem(
      [...base, 'kind'],
      near && near.toLowerCase() === kind.toLowerCase()
        ? `unknown kind "${kind}"; did you mean "${near}"? (kinds are case-sensitive)`
        : `kind "${kind}"${version} is not supported: podrun runs Pods, and reads the ConfigMaps and Secrets they use`,
    )
    return undefined
  }
  if (apiVersion === undefined) {
    problem(base, `missing "apiVersion": a ${kind} is apiVersion "v1"`)
    return undefined
  }
  if (apiVersion !== 'v1') {
    problem([...base, 'apiVersion'], `apiVersion ${JSON.stringify(apiVersion)} is not valid for kind ${kind}: use "v1"`)
    return undefined
  }
  const metadata = isRecord(value.metadata) ? value.metadata : {}
  const name = typeof metadata.name === 'string' ? metadata.name : ''
  const namespace = typeof metadata.namespace === 'string' && metadata.namespace !== '' ? metadata.namespace : 'default'
  const start = base.length === 0 ? source.start : positionOf(source, base)
  return {
    kind,
    apiVersion,
    name,
    namespace,
    value,
    source,
    base,
    origin: {file: source.file, doc: source.doc, line: start.line, col: start.col},
  }
}
