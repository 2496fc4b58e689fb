// Small numbers helpers for benchmark tables.

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export const min = (xs: number[]): number => (xs.length ? Math.min(...xs) : NaN)
export const max = (xs: number[]): number => (xs.length ? Math.max(...xs) : NaN)

/** Seconds with three decimals, or "-" when unknown. */
export const sec = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-')
/** A ratio as "1.07x", or "-" when unknown. */
export const ratio = (a: number, b: number): string => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(2)}x` : '-')

/** A plain text table: columns padded to their widest cell; numbers right-aligned. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const numeric = (s: string) => /^[-\d.]+(x| s)?$/.test(s)
  return rows.map((r) => r.map((c, i) => (numeric(c) ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n')
}
