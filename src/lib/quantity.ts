// Kubernetes resource quantities ("500m", "1.5", "128Mi", "1e3", "2G"): parsed to a number of base
// units. Used by validation (limits >= requests) and by the executor (CPU shares/quota, memory).

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
}

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])|[eE]([+-]?\d+))?$/

/** The value in base units (cores for CPU, bytes for memory), or undefined if not a quantity. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === 'number') return Number.isFinite(q) ? q : undefined
  const m = QUANTITY.exec(q.trim())
  if (!m) return undefined
  const n = Number(m[1])
  if (m[3] !== undefined) return n * 10 ** Number(m[3])
  return n * SUFFIX[m[2] ?? '']
}

export function isQuantity(q: unknown): boolean {
  return (typeof q === 'string' || typeof q === 'number') && parseQuantity(q) !== undefined
}

/** CPU in millicores, rounded up as the kubelet does. */
export function milliCpu(q: string | number): number {
  return Math.ceil((parseQuantity(q) ?? 0) * 1000 - 1e-9)
}

/** Memory in whole bytes, rounded up. */
export function bytes(q: string | number): number {
  return Math.ceil((parseQuantity(q) ?? 0) - 1e-9)
}
