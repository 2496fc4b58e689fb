// Go-style durations as kubectl and crictl accept them: "500ms", "10s", "2m", "1h30m", or bare seconds.
import {PodrunError} from './errors.js'

const UNIT_MS: Record<string, number> = {ms: 1, s: 1000, m: 60_000, h: 3_600_000}

export function parseDuration(text: string, what = 'duration'): number {
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000)
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/gy
  let total = 0
  let matched = 0
  let m: RegExpExecArray | null
  while ((m = re.exec(t)) !== null) {
    total += Number(m[1]) * UNIT_MS[m[2]]
    matched = re.lastIndex
  }
  if (t.length === 0 || matched !== t.length) {
    throw new PodrunError(`invalid ${what} "${text}": use a number with a unit, e.g. 500ms, 10s, 2m, 1h30m`)
  }
  return Math.round(total)
}

/** kubectl's HumanDuration, as shown in the AGE column. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 120) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  if (m < 180) return `${m}m`
  const h = Math.floor(m / 60)
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  if (h < 48) return `${h}h`
  const d = Math.floor(h / 24)
  if (h < 24 * 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
  if (d < 365 * 2) return `${d}d`
  return `${Math.floor(d / 365)}y`
}

/** When an event was last seen, as kubectl shows it: `30s`, or `30s (x5 over 9m55s)` for a repeated one. */
export function seenAgo(lastIso: string, firstIso: string, count: number, now: number): string {
  const last = formatDuration(now - Date.parse(lastIso))
  return count > 1 ? `${last} (x${count} over ${formatDuration(now - Date.parse(firstIso))})` : last
}
