// Field paths: how a place inside a document is written for people (`spec.containers[0].image`) and
// keyed internally (a JSON pointer, `/spec/containers/0/image`).
import type {FieldPath} from './types.js'

/** A YAML mapping as parsed: an object that is not an array. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/

/** `spec.containers[0].image`; keys that are not plain words are quoted: `metadata.labels["app.kubernetes.io/name"]`. */
export function formatPath(path: FieldPath): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else if (PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`
    else out += `[${JSON.stringify(seg)}]`
  }
  return out
}

/** JSON pointer (RFC 6901) of a path. */
export function toPointer(path: FieldPath): string {
  let out = ''
  for (const seg of path) out += '/' + String(seg).replace(/~/g, '~0').replace(/\//g, '~1')
  return out
}

/**
 * The path of an ajv `instancePath` (a JSON pointer), with list indexes as numbers: a segment is an
 * index when the value it indexes into is a list.
 */
export function fromPointer(pointer: string, data: unknown): Array<string | number> {
  if (pointer === '') return []
  const out: Array<string | number> = []
  let cur: unknown = data
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~')
    if (Array.isArray(cur)) {
      const i = Number(seg)
      out.push(i)
      cur = cur[i]
    } else {
      out.push(seg)
      cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[seg] : undefined
    }
  }
  return out
}

/** The value at a path, or undefined. */
export function valueAt(root: unknown, path: FieldPath): unknown {
  let cur = root
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Record<string | number, unknown>)[seg]
  }
  return cur
}

/**
 * Paths matching a pattern such as `spec.volumes[*].nfs` (`*` is any list item or map key,
 * `{a,b}` either field), whose value is present and, if given, satisfies `when`.
 */
export function findPaths(text: string, when?: (value: unknown) => boolean): (pod: Record<string, unknown>) => FieldPath[] {
  const segs: Array<string | Set<string>> = text
    .replace(/\[\*\]/g, '.*')
    .split(/\.(?![^{]*\})/)
    .map((seg) => (seg.startsWith('{') ? new Set(seg.slice(1, -1).split(',')) : seg))
  return (pod) => {
    const out: FieldPath[] = []
    const path: Array<string | number> = []
    const walk = (value: unknown, i: number): void => {
      if (value === undefined) return
      if (i === segs.length) {
        if (!when || when(value)) out.push([...path])
        return
      }
      if (value === null || typeof value !== 'object') return
      const seg = segs[i]
      if (seg === '*') {
        if (Array.isArray(value)) {
          for (let k = 0; k < value.length; k++) {
            path.push(k)
            walk(value[k], i + 1)
            path.pop()
          }
        } else {
          for (const k of Object.keys(value)) {
            path.push(k)
            walk((value as Record<string, unknown>)[k], i + 1)
            path.pop()
          }
        }
      } else if (!Array.isArray(value)) {
        const record = value as Record<string, unknown>
        const keys = typeof seg === 'string' ? [seg] : [...seg].filter((k) => record[k] !== undefined)
        for (const k of keys) {
          path.push(k)
          walk(record[k], i + 1)
          path.pop()
        }
      }
    }
    walk(pod, 0)
    return out
  }
}
