// Resource amounts for the runtime: CPU in millicores and memory in bytes, rounded up as the
// kubelet does, from the exact quantity parser of the manifest layer.
import {parseQuantity} from '../manifest/quantity.js'

function ceilScaled(q: string | number, scale: bigint): number {
  const p = parseQuantity(q)
  if (typeof p === 'string') return 0 // validation rejected malformed quantities before this point
  const n = p.n * scale
  const whole = n / p.d
  return Number(n % p.d > 0n ? whole + 1n : whole)
}

/** CPU in millicores, rounded up ("250m" -> 250, "0.5" -> 500, 1 -> 1000). */
export function milliCpu(q: string | number): number {
  return ceilScaled(q, 1000n)
}

/** Memory in whole bytes, rounded up ("128Mi" -> 134217728). */
export function bytes(q: string | number): number {
  return ceilScaled(q, 1n)
}
