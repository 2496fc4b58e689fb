// Timing whole processes for benchmarks: median wall time of repeated runs, start-up included.
import {spawnSync} from 'node:child_process'

export interface Timed {
  medianMs: number
  runs: number[]
}

/** Runs argv `times` times (after one warm-up) and returns the median wall time. */
export function timeProcess(argv: string[], times = 7, env: NodeJS.ProcessEnv = process.env): Timed {
  const run = () => {
    const t0 = process.hrtime.bigint()
    const r = spawnSync(argv[0], argv.slice(1), {env, stdio: ['ignore', 'ignore', 'pipe']})
    const ms = Number(process.hrtime.bigint() - t0) / 1e6
    if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status}: ${r.stderr?.toString().slice(0, 500)}`)
    return ms
  }
  run()
  const runs = Array.from({length: times}, run)
  const sorted = [...runs].sort((a, b) => a - b)
  return {medianMs: sorted[Math.floor(sorted.length / 2)], runs}
}

export const fmtMs = (ms: number): string => `${ms.toFixed(0)} ms`
