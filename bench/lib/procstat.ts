// What a process costs, from /proc: CPU two ways (utime+stime ticks, and the scheduler's own
// nanosecond runtime of all its threads, which is precise where ticks are not) and memory.
import fs from 'node:fs'

/**
 * CPU of a process two ways: utime+stime ticks from /proc/PID/stat, and the scheduler's own
 * nanosecond runtime of all its threads from /proc/PID/task/TID/schedstat (precise; ticks are not).
 */
export function procStat(pid: number): {cpuTicks: number; runNs: number; rssKb: number; hwmKb: number} {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
  let runNs = 0
  for (const t of fs.readdirSync(`/proc/${pid}/task`)) {
    try {
      runNs += Number(fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`, 'utf8').split(' ')[0])
    } catch {
      // thread gone
    }
  }
  return {cpuTicks: Number(f[11]) + Number(f[12]), runNs, rssKb: kb('VmRSS'), hwmKb: kb('VmHWM')}
}

