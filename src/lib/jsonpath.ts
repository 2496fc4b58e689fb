// kubectl's output templates: `-o jsonpath=TEMPLATE` (the subset people write: fields, [N], [*],
// [start:end], `..name`, filters [?(@.field=="value")], range/end, and quoted text) and
// `-o custom-columns=HEADER:.path,...`.
import {ExitCode, PodrunError} from './errors.js'

type Step = {kind: 'field'; name: string} | {kind: 'index'; at: number} | {kind: 'slice'; from?: number; to?: number} | {kind: 'all'} | {kind: 'deep'; name: string} | {kind: 'filter'; path: Step[]; op: '==' | '!='; value: string} | {kind: 'exists'; path: Step[]}

const bad = (text: string, why: string) => new PodrunError(`invalid jsonpath "${text}": ${why}`, {reason: 'Usage', exitCode: ExitCode.invalid})

function parsePath(expr: string, whole: string): Step[] {
  const steps: Step[] = []
  let i = expr.startsWith('$') ? 1 : 0
  while (i < expr.length) {
    if (expr.startsWith('..', i)) {
      const m = /^\.\.([A-Za-z0-9_-]+)/.exec(expr.slice(i))
      if (!m) throw bad(whole, `expected a name after ".." at ${i}`)
      steps.push({kind: 'deep', name: m[1]})
      i += m[0].length
    } else if (expr[i] === '.') {
      const m = /^\.([A-Za-z0-9_$-]*)/.exec(expr.slice(i))!
      if (m[1]) steps.push({kind: 'field', name: m[1]})
      i += m[0].length
    } else if (expr[i] === '[') {
      const end = expr.indexOf(']', i)
      if (end < 0) throw bad(whole, 'unclosed [')
      const inner = expr.slice(i + 1, end).trim()
      i = end + 1
      let m: RegExpExecArray | null
      if (inner === '*') steps.push({kind: 'all'})
      else if (/^-?\d+$/.test(inner)) steps.push({kind: 'index', at: Number(inner)})
      else if ((m = /^(-?\d*):(-?\d*)$/.exec(inner))) steps.push({kind: 'slice', from: m[1] === '' ? undefined : Number(m[1]), to: m[2] === '' ? undefined : Number(m[2])})
      else if ((m = /^'([^']*)'$|^"([^"]*)"$/.exec(inner))) steps.push({kind: 'field', name: m[1] ?? m[2]})
      else if ((m = /^\?\(@(\.[^=!)]+?)\s*(==|!=)\s*(?:'([^']*)'|"([^"]*)"|([^)\s]+))\)$/.exec(inner))) {
        steps.push({kind: 'filter', path: parsePath(m[1], whole), op: m[2] as '==' | '!=', value: m[3] ?? m[4] ?? m[5]})
      } else if ((m = /^\?\(@(\.[^)]+)\)$/.exec(inner))) steps.push({kind: 'exists', path: parsePath(m[1], whole)})
      else throw bad(whole, `unsupported [${inner}]`)
    } else throw bad(whole, `unexpected "${expr[i]}" at ${i}`)
  }
  return steps
}

function walk(values: unknown[], steps: Step[]): unknown[] {
  let cur = values
  for (const s of steps) {
    const next: unknown[] = []
    for (const v of cur) {
      if (s.kind === 'field') {
        if (v && typeof v === 'object' && !Array.isArray(v) && (v as Record<string, unknown>)[s.name] !== undefined) next.push((v as Record<string, unknown>)[s.name])
      } else if (s.kind === 'index') {
        if (Array.isArray(v)) {
          const x = v[s.at < 0 ? v.length + s.at : s.at]
          if (x !== undefined) next.push(x)
        }
      } else if (s.kind === 'slice') {
        if (Array.isArray(v)) next.push(...v.slice(s.from, s.to))
      } else if (s.kind === 'all') {
        if (Array.isArray(v)) next.push(...v)
        else if (v && typeof v === 'object') next.push(...Object.values(v))
      } else if (s.kind === 'deep') {
        const visit = (x: unknown): void => {
          if (!x || typeof x !== 'object') return
          if (!Array.isArray(x) && (x as Record<string, unknown>)[s.name] !== undefined) next.push((x as Record<string, unknown>)[s.name])
          for (const y of Object.values(x)) visit(y)
        }
        visit(v)
      } else {
        const items = Array.isArray(v) ? v : [v]
        for (const item of items) {
          const got = walk([item], s.path)
          if (s.kind === 'exists' ? got.length > 0 : got.some((g) => String(g) === s.value) === (s.op === '==')) next.push(item)
        }
      }
    }
    cur = next
  }
  return cur
}

const show = (v: unknown): string => (typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v))

type Node = {kind: 'text'; text: string} | {kind: 'path'; steps: Step[]} | {kind: 'range'; steps: Step[]; body: Node[]}

function parseTemplate(t: string): Node[] {
  const root: Node[] = []
  const stack: Node[][] = [root]
  const ranges: Array<{kind: 'range'; steps: Step[]; body: Node[]}> = []
  let i = 0
  while (i < t.length) {
    const open = t.indexOf('{', i)
    if (open < 0) {
      stack[stack.length - 1].push({kind: 'text', text: t.slice(i)})
      break
    }
    if (open > i) stack[stack.length - 1].push({kind: 'text', text: t.slice(i, open)})
    const close = t.indexOf('}', open)
    if (close < 0) throw bad(t, 'unclosed {')
    const inner = t.slice(open + 1, close).trim()
    i = close + 1
    let m: RegExpExecArray | null
    if ((m = /^"((?:[^"\\]|\\.)*)"$|^'([^']*)'$/.exec(inner))) {
      const text = m[1] !== undefined ? (JSON.parse(`"${m[1]}"`) as string) : m[2]
      stack[stack.length - 1].push({kind: 'text', text})
    } else if ((m = /^range\s+(.+)$/.exec(inner))) {
      const node = {kind: 'range' as const, steps: parsePath(m[1], t), body: [] as Node[]}
      stack[stack.length - 1].push(node)
      stack.push(node.body)
      ranges.push(node)
    } else if (inner === 'end') {
      if (ranges.length === 0) throw bad(t, '{end} without {range}')
      ranges.pop()
      stack.pop()
    } else stack[stack.length - 1].push({kind: 'path', steps: parsePath(inner, t)})
  }
  if (ranges.length) throw bad(t, '{range} without {end}')
  return root
}

/** The text of a jsonpath template applied to `obj`, as kubectl prints it (several values: space-separated). */
export function jsonpath(template: string, obj: unknown): string {
  const tmpl = template.replace(/^'(.*)'$/s, '$1')
  const render = (nodes: Node[], ctx: unknown): string =>
    nodes
      .map((n) => {
        if (n.kind === 'text') return n.text
        if (n.kind === 'path') return walk([ctx], n.steps).map(show).join(' ')
        return walk([ctx], n.steps)
          .map((item) => render(n.body, item))
          .join('')
      })
      .join('')
  return render(parseTemplate(tmpl.includes('{') ? tmpl : `{${tmpl}}`), obj)
}

/** `-o custom-columns=NAME:.metadata.name,IP:.status.podIP`: headers and one row per object. */
export function customColumns(spec: string, objects: unknown[]): {headers: string[]; rows: string[][]} {
  const cols = spec.split(',').map((c) => {
    const colon = c.indexOf(':')
    if (colon <= 0) throw new PodrunError(`invalid custom-columns "${c}": expected HEADER:.field.path`, {reason: 'Usage', exitCode: ExitCode.invalid})
    const expr = c.slice(colon + 1).trim().replace(/^\{(.*)\}$/, '$1')
    return {header: c.slice(0, colon), steps: parsePath(expr.startsWith('.') || expr.startsWith('$') ? expr : `.${expr}`, c)}
  })
  return {
    headers: cols.map((c) => c.header),
    rows: objects.map((o) =>
      cols.map((c) => {
        const got = walk([o], c.steps)
        return got.length === 0 ? '<none>' : got.map(show).join(',')
      }),
    ),
  }
}
