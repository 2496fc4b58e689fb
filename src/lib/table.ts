// kubectl-style plain tables: upper-case headers, columns padded with three spaces.

export interface TableStyle {
  /** Between columns: three spaces (kubectl get), two in describe's sections. */
  gap?: string
  /** Before each line. */
  indent?: string
}

/** The width of each column: its widest cell, the header included. */
export function columnWidths(headers: string[], rows: string[][]): number[] {
  return headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
}

/** One line of a table: every cell but the last padded to its column. */
export function tableLine(cells: string[], widths: number[], s: TableStyle = {}): string {
  const text = cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? c.length))).join(s.gap ?? '   ')
  return `${s.indent ?? ''}${text}`.trimEnd()
}

export function renderTable(headers: string[], rows: string[][], s: TableStyle = {}): string {
  const widths = columnWidths(headers, rows)
  return [headers, ...rows].map((r) => tableLine(r, widths, s)).join('\n') + '\n'
}
