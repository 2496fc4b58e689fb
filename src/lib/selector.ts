// Kubernetes label selectors as kubectl takes them with -l: `app=web,tier!=db`, `env in (a,b)`,
// `env notin (c)`, `key` (present) and `!key` (absent), all of them required.
import {ExitCode, PodrunError} from './errors.js'

export type Selector = (labels: Record<string, string> | undefined) => boolean

const KEY = String.raw`[A-Za-z0-9][-A-Za-z0-9_./]*`
const VALUE = String.raw`[-A-Za-z0-9_.]*`

export function parseSelector(text: string): Selector {
  const tests: Selector[] = []
  // Split on commas outside parentheses.
  const parts: string[] = []
  let depth = 0
  let cur = ''
  for (const ch of text) {
    if (ch === '(') depth++
    if (ch === ')') depth--
    if (ch === ',' && depth === 0) {
      parts.push(cur)
      cur = ''
    } else cur += ch
  }
  parts.push(cur)
  for (const raw of parts) {
    const p = raw.trim()
    let m: RegExpExecArray | null
    if ((m = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`).exec(p))) {
      const [, k, op, v] = m
      tests.push(op === '!=' ? (l) => l?.[k] !== v : (l) => l?.[k] === v)
    } else if ((m = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^)]*)\\)$`).exec(p))) {
      const [, k, op, list] = m
      const values = new Set(list.split(',').map((s) => s.trim()).filter(Boolean))
      tests.push(op === 'in' ? (l) => l?.[k] !== undefined && values.has(l[k]) : (l) => l?.[k] === undefined || !values.has(l[k]))
    } else if ((m = new RegExp(`^!\\s*(${KEY})$`).exec(p))) {
      const k = m[1]
      tests.push((l) => l?.[k] === undefined)
    } else if ((m = new RegExp(`^(${KEY})$`).exec(p))) {
      const k = m[1]
      tests.push((l) => l?.[k] !== undefined)
    } else {
      throw new PodrunError(`unable to parse the selector "${text}": "${p}" is not key=value, key!=value, key in (a,b), key notin (a,b), key or !key`, {reason: 'Usage', exitCode: ExitCode.invalid})
    }
  }
  return (labels) => tests.every((t) => t(labels))
}
