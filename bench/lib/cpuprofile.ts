// Summarises a V8 .cpuprofile (from `node --cpu-prof`): where a process spent its CPU, by module
// (a package under node_modules, a file of dist/, node's internals, GC, idle) and by function.
import fs from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: {functionName: string; url: string; lineNumber: number}
  children?: number[]
}

interface Profile {
  nodes: ProfileNode[]
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

export interface ProfileSummary {
  /** Profiled wall time, ms. */
  totalMs: number
  /** Idle (waiting on I/O), ms. */
  idleMs: number
  byModule: {name: string; ms: number}[]
  byFunction: {name: string; ms: number}[]
}

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)'
  if (url.startsWith('node:')) return 'node:' + url.slice(5).split('/')[0]
  const nm = url.lastIndexOf('/node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/')
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]
  }
  const d = url.indexOf('/dist/')
  if (d >= 0) return url.slice(d + 1)
  return url.replace(/^file:\/\//, '')
}

export function summarizeProfile(file: string, top = 12): ProfileSummary {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const mods = new Map<string, number>()
  const fns = new Map<string, number>()
  let idle = 0
  for (const [id, us] of self) {
    const n = byId.get(id)!
    const {functionName, url, lineNumber} = n.callFrame
    if (functionName === '(idle)') {
      idle += us
      continue
    }
    const mod = moduleOf(url, functionName)
    mods.set(mod, (mods.get(mod) ?? 0) + us)
    const fname = `${functionName || '(anonymous)'} ${url ? `${moduleOf(url, '')}:${lineNumber + 1}` : ''}`.trim()
    fns.set(fname, (fns.get(fname) ?? 0) + us)
  }
  const sorted = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({name, ms: us / 1000}))
  return {totalMs: (p.endTime - p.startTime) / 1000, idleMs: idle / 1000, byModule: sorted(mods), byFunction: sorted(fns)}
}
