// Collecting diagnostics, and placing a problem at the line and column of the field it concerns.
import {formatPath, toPointer} from './field-path.js'
import type {Diagnostic, FieldPath, ManifestObject, Position, Severity, SourceDocument} from './types.js'

/** Which end of a field to point at: its key (`imagePullPolcy:`) or its value. */
export type Anchor = 'key' | 'value'

/** The position of a path in a document: the path itself, else its nearest ancestor that has one. */
export function positionOf(doc: SourceDocument, path: FieldPath, anchor: Anchor = 'value'): Position {
  if (path.length === 0) return doc.start
  for (let n = path.length; n >= 0; n--) {
    const pointer = toPointer(path.slice(0, n))
    const primary = anchor === 'key' || n < path.length ? doc.positions.key : doc.positions.value
    const secondary = primary === doc.positions.key ? doc.positions.value : doc.positions.key
    const pos = primary.get(pointer) ?? secondary.get(pointer)
    if (pos) return pos
  }
  return doc.start
}

export function objectLabel(obj: Pick<ManifestObject, 'kind' | 'namespace' | 'name'>): string {
  return `${obj.kind} ${obj.namespace}/${obj.name || '<unnamed>'}`
}

/** Reports problems of one object; paths are relative to the object. */
export class ObjectReporter {
  private errorCount = 0

  constructor(
    private readonly sink: Diagnostic[],
    readonly object: ManifestObject,
  ) {}

  get errors(): number {
    return this.errorCount
  }

  error(path: FieldPath, message: string, anchor: Anchor = 'value'): void {
    this.add('error', path, message, anchor)
  }

  warning(path: FieldPath, message: string, anchor: Anchor = 'key'): void {
    this.add('warning', path, message, anchor)
  }

  private add(severity: Severity, path: FieldPath, message: string, anchor: Anchor): void {
    const full = [...this.object.base, ...path]
    const pos = positionOf(this.object.source, full, anchor)
    if (severity === 'error') this.errorCount++
    this.sink.push({
      severity,
      file: this.object.source.file,
      line: pos.line,
      col: pos.col,
      path: formatPath(full),
      message,
      object: objectLabel(this.object),
    })
  }
}

/** Orders diagnostics by file (in the order files were read), line, column, and drops repeats. */
export function sortDiagnostics(diagnostics: Diagnostic[], fileOrder: string[]): Diagnostic[] {
  const rank = new Map(fileOrder.map((f, i) => [f, i]))
  const seen = new Set<string>()
  const out: Diagnostic[] = []
  for (const d of diagnostics) {
    const key = `${d.severity}\0${d.file}\0${d.line}\0${d.col}\0${d.path}\0${d.message}`
    if (seen.has(key)) continue
    seen.add(key)
    out.push(d)
  }
  return out.sort(
    (a, b) =>
      (rank.get(a.file) ?? Infinity) - (rank.get(b.file) ?? Infinity) ||
      a.line - b.line ||
      a.col - b.col ||
      (a.severity === b.severity ? 0 : a.severity === 'error' ? -1 : 1),
  )
}
