// JSON Schema validation of one object with the precompiled validators (src/gen/schema/), and the
// translation of ajv's errors into diagnostics people can act on: the field's own line, "unknown
// field" with a "did you mean" or the fields allowed there, and the value that had the wrong type.
import {validateConfigMap, validatePod, validateSecret, type Validator, type ValidatorError} from '../gen/schema/validators.js'
import {DEFINITIONS, KUBERNETES_VERSION} from '../gen/schema/fields.js'
import {fromPointer, toPointer, valueAt} from './field-path.js'
import {closest} from './k8s-names.js'
import {NEWER_FIELDS} from './newer-fields.js'
import type {ObjectReporter} from './diagnostics.js'
import type {SourceDocument} from './types.js'

export {KUBERNETES_VERSION}

const VALIDATORS: Record<string, Validator> = {
  Pod: validatePod,
  ConfigMap: validateConfigMap,
  Secret: validateSecret,
}

/** Validates the object against its kind's schema, reporting each problem. */
export function checkSchema(r: ObjectReporter): void {
  const {kind, value} = r.object
  const validate = VALIDATORS[kind]
  if (!validate || validate(value)) return
  for (const e of validate.errors ?? []) {
    const message = describeError(kind, value, e, (path) => writtenAt(r.object.source, [...r.object.base, ...path]))
    if (message !== undefined) r.error(message.path, message.text, message.anchor)
  }
}

/** The definition a path lands in, following the generated shapes from the kind's root. */
export function definitionAt(kind: string, path: ReadonlyArray<string | number>): string | undefined {
  let def: string | undefined = kind
  let holder = ''
  for (const seg of path) {
    if (holder.startsWith('[]') || holder.startsWith('{}')) {
      holder = holder.slice(2)
      if (!holder.startsWith('[]') && !holder.startsWith('{}')) def = holder || undefined
      continue
    }
    if (def === undefined) return undefined
    const fields: Readonly<Record<string, string>> | undefined = DEFINITIONS[def]
    if (!fields || !(String(seg) in fields)) return undefined
    holder = fields[String(seg)]
    if (holder === '') return undefined
    if (!holder.startsWith('[]') && !holder.startsWith('{}')) def = holder
  }
  return holder.startsWith('[]') || holder.startsWith('{}') ? undefined : def
}

function article(type: string): string {
  switch (type) {
    case 'string':
      return 'a string'
    case 'integer':
      return 'an integer'
    case 'number':
      return 'a number'
    case 'boolean':
      return 'a boolean (true or false)'
    case 'object':
      return 'a mapping'
    case 'array':
      return 'a list'
    case 'null':
      return 'null'
    default:
      return type
  }
}

export function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list'
  if (v === null) return 'null'
  if (typeof v === 'object') return 'a mapping'
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)})`
  if (typeof v === 'number') return Number.isInteger(v) ? `an integer (${v})` : `a number (${v})`
  if (typeof v === 'boolean') return `a boolean (${v})`
  return typeof v
}

function explainPath(kind: string, path: ReadonlyArray<string | number>): string {
  return [kind.toLowerCase(), ...path.filter((s) => typeof s === 'string')].join('.')
}

interface Described {
  path: Array<string | number>
  text: string
  anchor: 'key' | 'value'
}

/** The scalar as written in the file at a path (e.g. `yes` where the value is `true`). */
function writtenAt(source: SourceDocument, path: ReadonlyArray<string | number>): string | undefined {
  const pos = source.positions.value.get(toPointer(path))
  if (!pos) return undefined
  let offset = 0
  for (let line = 1; line < pos.line; line++) {
    offset = source.text.indexOf('\n', offset) + 1
    if (offset === 0) return undefined
  }
  const m = /^[^\s,\]}#]+/.exec(source.text.slice(offset + pos.col - 1, offset + pos.col + 80))
  return m ? m[0] : undefined
}

function describeError(kind: string, data: unknown, e: ValidatorError, written: (path: Array<string | number>) => string | undefined): Described | undefined {
  const at = fromPointer(e.instancePath, data)
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(e.params.additionalProperty)
      const def = definitionAt(kind, at)
      const newer = def ? NEWER_FIELDS[`${def}.${field}`] : undefined
      const path = [...at, field]
      if (newer) {
        return {
          path,
          anchor: 'key',
          text: `field "${field}" is not in the Kubernetes ${KUBERNETES_VERSION} API that podrun validates against (${newer.feature} came in Kubernetes ${newer.since})`,
        }
      }
      const allowed = def ? Object.keys(DEFINITIONS[def] ?? {}) : []
      const near = closest(field, allowed)
      if (near) return {path, anchor: 'key', text: `unknown field "${field}"; did you mean "${near}"?`}
      const where = allowed.length > 0 && allowed.length <= 16
        ? `fields allowed here: ${allowed.join(', ')}`
        : `see \`kubectl explain ${explainPath(kind, at)}\``
      return {path, anchor: 'key', text: `unknown field "${field}" (not in the Kubernetes ${KUBERNETES_VERSION} API podrun validates against; ${where})`}
    }
    case 'required': {
      const field = String(e.params.missingProperty)
      // The path names the missing field (as the API server's messages do); it is placed where its
      // parent starts, since it is not there.
      return {path: [...at, field], anchor: 'key', text: `missing required field "${field}"`}
    }
    case 'type': {
      const expected = Array.isArray(e.params.type) ? (e.params.type as string[]) : String(e.params.type).split(',')
      const actual = valueAt(data, at)
      const want = expected.map(article).join(' or ')
      // A Secret's values are never printed, not even mistyped (a PIN written as a number).
      const secret = kind === 'Secret' && (at[0] === 'data' || at[0] === 'stringData') && at.length === 2
      let hint = ''
      if (secret && (typeof actual === 'number' || typeof actual === 'boolean')) {
        return {path: at, anchor: 'value', text: `expected ${want}, got ${typeof actual === 'number' ? 'a number' : 'a boolean'} (a Secret's value, not shown); put it in quotes in YAML`}
      } else if (expected.length === 1 && expected[0] === 'string' && (typeof actual === 'number' || typeof actual === 'boolean')) {
        const text = written(at) ?? String(actual)
        hint = `; quote it in YAML: "${text}"`
      } else if (expected.includes('integer') && typeof actual === 'string' && /^-?\d+$/.test(actual)) {
        hint = '; remove the quotes'
      } else if (expected.includes('array') && actual !== null && typeof actual === 'object') {
        hint = '; list items start with "- "'
      }
      return {path: at, anchor: 'value', text: `expected ${want}, got ${describeValue(actual)}${hint}`}
    }
    case 'const': {
      return {path: at, anchor: 'value', text: `must be ${JSON.stringify(e.params.allowedValue)}`}
    }
    case 'enum': {
      const allowed = (e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')
      return {path: at, anchor: 'value', text: `must be one of ${allowed}`}
    }
    default:
      return {path: at, anchor: 'value', text: e.message ?? e.keyword}
  }
}
