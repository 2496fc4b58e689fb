// Parses a YAML (or JSON) stream into documents and records where every node starts, so that any
// later problem can be reported at file:line:col.
//
// js-yaml builds plain values; its `listener` option reports each node it composes ("open" before,
// "close" after, with the parser state). Those events nest like the nodes, so they form a tree whose
// shape follows the document: a mapping's children are its keys and values in order, a list's
// children are its items. Walking that tree next to the parsed value gives each path's position.
// This works the same for block style and flow style (`{ apiVersion: "v1", ... }`). It is done on
// demand (a second parse of the file) the first time a problem needs a position, so files without
// problems pay only for the parse.
//
// The value is then copied into a JSON-like value: YAML aliases are expanded (within a node budget,
// so a "billion laughs" document is refused instead of eating memory), cycles are refused, and
// mapping entries whose value is null are dropped (the API server treats `field: null` as unset;
// `kubectl create --dry-run -o yaml` writes `creationTimestamp: null`).
import yaml from 'js-yaml'
import {toPointer} from './field-path.js'
import type {Limits, NodePositions, Position} from './types.js'
import {KUBECTL_SCHEMA} from './yaml-scalars.js'

export interface ParsedDocument {
  /** 0-based index in the stream. */
  index: number
  /** The document's value, JSON-like; documents that are empty (or only comments) are left out. */
  value: unknown
  positions: NodePositions
  /** Where the document's content starts. */
  start: Position
}

export interface ParseProblem {
  message: string
  line: number
  col: number
  /** The document it concerns, if it concerns only one. */
  doc?: number
}

export interface ParseResult {
  documents: ParsedDocument[]
  /** A syntax error makes the whole file unusable (documents is then empty); other problems concern one document. */
  problems: ParseProblem[]
}

interface Event {
  start: number
  end: number
  result: unknown
  children: Event[]
}

class TooManyDocuments extends Error {}

/** Maps string offsets to 1-based line/column. */
export class LineIndex {
  private readonly starts: number[] = [0]
  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1)
  }

  at(offset: number): Position {
    let lo = 0
    let hi = this.starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.starts[mid] <= offset) lo = mid
      else hi = mid - 1
    }
    return {line: lo + 1, col: offset - this.starts[lo] + 1}
  }

}

export function parseYamlDocuments(text: string, limits: Limits): ParseResult {
  const lines = new LineIndex(text)

  // A cheap first look: refuse a stream of absurdly many documents before parsing it.
  const separators = /^---(?=[ \t\r\n]|$)/gm
  let count = 1
  for (let m = separators.exec(text); m !== null; m = separators.exec(text)) {
    if (++count > limits.maxDocumentsPerFile) {
      const at = lines.at(m.index)
      return {documents: [], problems: [{...at, message: tooManyDocuments(limits)}]}
    }
  }

  // The first parse records only where each document starts: most files have no problem, and
  // positions of every node are worked out (by a second parse) only when one is reported.
  const rootStarts: number[] = []
  let depth = 0
  const parsed = load(text, limits, (type, state) => {
    if (type === 'open') {
      if (depth++ === 0 && rootStarts.push(state.position) > limits.maxDocumentsPerFile) throw new TooManyDocuments()
    } else depth--
  })
  if ('problem' in parsed) return {documents: [], problems: [parsed.problem]}

  const filePositions = new FilePositions(text, lines, limits)
  const documents: ParsedDocument[] = []
  const problems: ParseProblem[] = []
  const values = parsed.values
  for (let i = 0; i < values.length; i++) {
    const raw = values[i]
    if (raw === null || raw === undefined) continue
    const startOffset = rootStarts[i] !== undefined ? skipSpace(text, rootStarts[i]) : 0
    const start = lines.at(startOffset)
    const expanded = toJsonValue(raw, limits)
    if (typeof expanded === 'string') {
      problems.push({...start, doc: i, message: expanded})
      continue
    }
    documents.push({index: i, value: expanded.value, positions: new LazyPositions(filePositions, i), start})
  }
  return {documents, problems}
}

type Listener = (type: 'open' | 'close', state: {position: number; result: unknown}) => void

function load(text: string, limits: Limits, listener: Listener): {values: unknown[]} | {problem: ParseProblem} {
  try {
    const values = yaml.loadAll(text, null, {
      schema: KUBECTL_SCHEMA,
      // An option js-yaml 4.3 has and its type definitions do not name yet.
      ...({maxDepth: limits.maxDepth} as object),
      listener,
    })
    return {values}
  } catch (err) {
    if (err instanceof TooManyDocuments) {
      return {problem: {line: 1, col: 1, message: tooManyDocuments(limits)}}
    }
    if (err instanceof yaml.YAMLException && err.mark) {
      return {problem: {message: `YAML syntax error: ${yamlReason(err)}`, line: err.mark.line + 1, col: err.mark.column + 1}}
    }
    if (err instanceof RangeError) {
      return {problem: {line: 1, col: 1, message: `nesting is too deep to parse (limit ${limits.maxDepth} levels)`}}
    }
    throw err
  }
}

/** The positions of every node of every document of one file, worked out on first use. */
class FilePositions {
  private byDoc?: Map<number, NodePositions>

  constructor(
    private readonly text: string,
    private readonly lines: LineIndex,
    private readonly limits: Limits,
  ) {}

  of(doc: number): NodePositions {
    if (!this.byDoc) this.byDoc = this.compute()
    return this.byDoc.get(doc) ?? {value: new Map(), key: new Map()}
  }

  private compute(): Map<number, NodePositions> {
    const roots: Event[] = []
    const stack: Event[] = []
    const out = new Map<number, NodePositions>()
    const parsed = load(this.text, this.limits, (type, state) => {
      if (type === 'open') {
        const ev: Event = {start: state.position, end: -1, result: undefined, children: []}
        if (stack.length > 0) stack[stack.length - 1].children.push(ev)
        else roots.push(ev)
        stack.push(ev)
      } else {
        const ev = stack.pop()
        if (ev) {
          ev.end = state.position
          ev.result = state.result
        }
      }
    })
    if ('problem' in parsed) return out
    parsed.values.forEach((raw, i) => {
      const positions: NodePositions = {value: new Map(), key: new Map()}
      if (roots[i] && raw !== null && raw !== undefined) new PositionWalker(this.text, this.lines, positions).walk(roots[i], raw, [])
      out.set(i, positions)
    })
    return out
  }
}

class LazyPositions implements NodePositions {
  constructor(
    private readonly file: FilePositions,
    private readonly doc: number,
  ) {}

  get value(): Map<string, Position> {
    return this.file.of(this.doc).value
  }

  get key(): Map<string, Position> {
    return this.file.of(this.doc).key
  }
}

function tooManyDocuments(limits: Limits): string {
  return `too many YAML documents in one file (limit ${limits.maxDocumentsPerFile}); split the file`
}

function yamlReason(err: yaml.YAMLException): string {
  const reason = err.reason || err.message
  if (/unknown escape sequence/.test(reason)) {
    return `${reason} (in a double-quoted string only YAML escapes such as \\" \\\\ \\n \\t are allowed; write an apostrophe as ' or use a single-quoted string)`
  }
  if (/tab characters must not be used in indentation|cannot start any token/.test(reason)) {
    return `${reason} (indent with spaces, not tabs)`
  }
  return reason
}

/** Skips spaces, line breaks and comments. */
function skipSpace(text: string, offset: number): number {
  let i = offset
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++
    else if (c === 0x23 /* # */) {
      while (i < text.length && text.charCodeAt(i) !== 0x0a) i++
    } else return i
  }
}

class PositionWalker {
  private readonly seen = new Set<object>()
  constructor(
    private readonly text: string,
    private readonly lines: LineIndex,
    private readonly positions: NodePositions,
  ) {}

  walk(ev: Event, value: unknown, path: Array<string | number>, keyPos?: Position): void {
    const pointer = toPointer(path)
    // A null value (`key:` with nothing after it) has no text of its own: point at its key.
    const valuePos = value === null && keyPos ? keyPos : this.lines.at(skipSpace(this.text, ev.start))
    if (!this.positions.value.has(pointer)) this.positions.value.set(pointer, valuePos)
    if (keyPos && !this.positions.key.has(pointer)) this.positions.key.set(pointer, keyPos)
    if (value === null || typeof value !== 'object') return
    // An object met again is an alias: its fields are positioned where its anchor defined them.
    if (this.seen.has(value)) return
    this.seen.add(value)

    // A flow collection where a block mapping could start is composed as an attempted key that
    // turned out to be the whole node: its events sit one level down.
    let owner = ev
    while (owner.children.length === 1 && owner.children[0].result === value) owner = owner.children[0]
    const children = owner.children
    if (Array.isArray(value)) {
      if (children.length !== value.length) return
      for (let i = 0; i < value.length; i++) this.walk(children[i], value[i], [...path, i])
      return
    }
    const record = value as Record<string, unknown>
    for (let i = 0; i < children.length; i++) {
      const child = children[i]
      if (!this.isKey(child)) continue
      const key = String(child.result)
      const valueEv = children[i + 1]
      if (!Object.prototype.hasOwnProperty.call(record, key)) continue
      const kp = this.lines.at(skipSpace(this.text, child.start))
      if (valueEv && !this.isKey(valueEv)) {
        this.walk(valueEv, record[key], [...path, key], kp)
        i++
      } else {
        const p = toPointer([...path, key])
        if (!this.positions.key.has(p)) this.positions.key.set(p, kp)
        if (!this.positions.value.has(p)) this.positions.value.set(p, kp)
      }
    }
  }

  /** A node followed by ":" on its line is a mapping key. */
  private isKey(ev: Event): boolean {
    let i = ev.end
    while (i < this.text.length) {
      const c = this.text.charCodeAt(i)
      if (c === 0x20 || c === 0x09) i++
      else return c === 0x3a /* : */
    }
    return false
  }
}

/**
 * A JSON-like copy of a parsed document: aliases expanded within the node budget, cycles refused,
 * null mapping values dropped. Returns an error message instead when the budget is exceeded.
 */
function toJsonValue(raw: unknown, limits: Limits): {value: unknown} | string {
  let nodes = 0
  const ancestors = new Set<object>()
  const tooLarge = `document expands to more than ${limits.maxNodesPerDocument} nodes (YAML aliases expanding into a huge document?); refused`
  class Refused extends Error {}
  const copy = (v: unknown): unknown => {
    if (++nodes > limits.maxNodesPerDocument) throw new Refused(tooLarge)
    if (v === null || typeof v !== 'object') return v
    if (ancestors.has(v)) throw new Refused('a YAML alias refers to a node that contains it (a recursive structure); refused')
    ancestors.add(v)
    try {
      if (Array.isArray(v)) return v.map(copy)
      const out: Record<string, unknown> = {}
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === null || x === undefined) continue
        const c = copy(x)
        if (k === '__proto__') Object.defineProperty(out, k, {value: c, enumerable: true, writable: true, configurable: true})
        else out[k] = c
      }
      return out
    } finally {
      ancestors.delete(v)
    }
  }
  try {
    return {value: copy(raw)}
  } catch (err) {
    if (err instanceof Refused) return err.message
    if (err instanceof RangeError) return `nesting is too deep (limit ${limits.maxDepth} levels)`
    throw err
  }
}
