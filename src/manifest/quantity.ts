// Kubernetes quantities ("500m", "128Mi", "1e3", 2): parsing, comparison and the canonical form
// the API server writes back (k8s.io/apimachinery pkg/api/resource), in exact arithmetic.

export type QuantityFormat = 'DecimalSI' | 'BinarySI' | 'DecimalExponent'

export interface Quantity {
  /** value = n / d exactly, d > 0. */
  n: bigint
  d: bigint
  format: QuantityFormat
}

const DECIMAL_SUFFIX: Record<string, number> = {n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18}
const BINARY_SUFFIX: Record<string, number> = {Ki: 10, Mi: 20, Gi: 30, Ti: 40, Pi: 50, Ei: 60}
const SHAPE = /^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$/
const NANO = 10n ** 9n

const pow10 = (e: number): bigint => 10n ** BigInt(e)

const parsed = new Map<string | number, Quantity | string>()

/** Parses a quantity; returns an explanation instead when it is not one. */
export function parseQuantity(input: string | number): Quantity | string {
  // Manifests repeat the same few quantities; remember them (boundedly).
  const known = parsed.get(input)
  if (known !== undefined) return known
  const result = parse(input)
  if (parsed.size > 10_000) parsed.clear()
  parsed.set(input, result)
  return result
}

function parse(input: string | number): Quantity | string {
  const text = typeof input === 'number' ? numberText(input) : input.trim()
  if (typeof input === 'number' && !Number.isFinite(input)) return 'is not a finite number'
  if (text !== (typeof input === 'number' ? text : input)) return 'must not have leading or trailing spaces'
  const m = SHAPE.exec(text)
  if (!m) return quantityHelp(text)
  const [, numberPart, suffix] = m
  const unsigned = numberPart.replace(/^[+-]/, '')
  if (!/^(\d+\.?\d*|\.\d+)$/.test(unsigned)) return quantityHelp(text)
  const negative = numberPart.startsWith('-')
  const [whole, frac = ''] = unsigned.split('.')
  let n = BigInt((whole || '0') + frac)
  let d = pow10(frac.length)
  let format: QuantityFormat
  if (suffix in DECIMAL_SUFFIX) {
    format = 'DecimalSI'
    const e = DECIMAL_SUFFIX[suffix]
    if (e >= 0) n *= pow10(e)
    else d *= pow10(-e)
  } else if (suffix in BINARY_SUFFIX) {
    format = 'BinarySI'
    n *= 2n ** BigInt(BINARY_SUFFIX[suffix])
  } else if (/^[eE][-+]?\d+$/.test(suffix)) {
    format = 'DecimalExponent'
    const e = Number(suffix.slice(1))
    if (Math.abs(e) > 60) return `exponent ${suffix} is out of range`
    if (e >= 0) n *= pow10(e)
    else d *= pow10(-e)
  } else {
    return `unknown suffix "${suffix}": use one of m, k, M, G, T, P, E (powers of 1000), Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), or e<exponent>`
  }
  if (negative) n = -n
  // The API keeps at most nanounits, rounding up.
  const scaled = n * NANO
  if (scaled % d !== 0n) {
    let q = scaled / d
    if (scaled > 0n) q += 1n
    n = q
    d = NANO
  }
  const g = gcd(n < 0n ? -n : n, d)
  return {n: n / g, d: d / g, format}
}

function numberText(v: number): string {
  // 1e21.toString() is "1e+21"; the quantity grammar wants "1e21".
  return String(v).replace('e+', 'e')
}

function quantityHelp(text: string): string {
  const hint = /^\d+(\.\d+)?\s*[a-zA-Z]+$/.test(text) && /b$|B$|mb|gb|kb/i.test(text)
    ? ' (bytes are written without "B": e.g. 512Mi, 1Gi, 500M)'
    : ''
  return `"${text}" is not a valid quantity: write a number with an optional suffix, e.g. 500m, 0.5, 128Mi, 1Gi, 1e3${hint}`
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a === 0n ? 1n : a
}

/** -1, 0, 1 as a < b, a = b, a > b. */
export function compareQuantities(a: Quantity, b: Quantity): number {
  const l = a.n * b.d
  const r = b.n * a.d
  return l < r ? -1 : l > r ? 1 : 0
}

export function isNegative(q: Quantity): boolean {
  return q.n < 0n
}


/** The canonical text the API server writes for a quantity (e.g. "1.5" -> "1500m", "1.5Gi" -> "1536Mi"). */
export function canonicalQuantity(q: Quantity): string {
  if (q.n === 0n) return '0'
  const sign = q.n < 0n ? '-' : ''
  const abs = q.n < 0n ? -q.n : q.n
  if (q.format === 'BinarySI' && q.d === 1n && abs >= 1024n) {
    const suffixes = Object.entries(BINARY_SUFFIX).reverse()
    for (const [suffix, bits] of suffixes) {
      const unit = 2n ** BigInt(bits)
      if (abs % unit === 0n) return `${sign}${abs / unit}${suffix}`
    }
    return `${sign}${abs}`
  }
  // Largest power-of-1000 exponent that leaves an integer mantissa (always found at -9: nanounits);
  // SI suffixes stop at E (10^18), exponents do not.
  for (let e = q.format === 'DecimalExponent' ? 60 : 18; e >= -9; e -= 3) {
    const num = e < 0 ? abs * pow10(-e) : abs
    const den = e > 0 ? q.d * pow10(e) : q.d
    if (num % den === 0n) {
      const mantissa = num / den
      if (q.format === 'DecimalExponent') return `${sign}${mantissa}${e === 0 ? '' : `e${e}`}`
      const suffix = Object.keys(DECIMAL_SUFFIX).find((s) => DECIMAL_SUFFIX[s] === e) ?? ''
      return `${sign}${mantissa}${suffix}`
    }
  }
  return `${sign}${abs}`
}

/** Canonical text of a quantity given as text or number; the input unchanged if it does not parse. */
export function canonicalQuantityText(input: unknown): unknown {
  if (typeof input !== 'string' && typeof input !== 'number') return input
  const q = parseQuantity(input)
  return typeof q === 'string' ? input : canonicalQuantity(q)
}
