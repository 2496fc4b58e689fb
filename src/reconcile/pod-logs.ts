// `podrun logs`: which pods and containers, which instance (current or previous), and their lines,
// as kubectl logs chooses and prints them. The runtime says where each log file is
// (ContainerStatus.log_path); container-logs.ts reads it. Following goes on across log rotations
// and onto the next instance when the container restarts, until the pod is gone or Ctrl-C.
import type {Writable} from 'node:stream'
import type {CriClient} from '../cri/client.js'
import type {ActualContainer, ActualPod} from '../model/actual.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {fillStatus, observe} from './observe.js'
import {chooseContainers, choosePods, instances, type PodChoice} from './pod-select.js'
import {followFile, linesOf, tailWithRotated, type LogLine} from './container-logs.js'

export interface LogsOptions extends PodChoice {
  follow?: boolean
  previous?: boolean
  /** -1: every line. */
  tail: number
  sinceMs?: number
  timestamps?: boolean
  prefix?: boolean
  out: Writable
  /** Ends a follow (tests); Ctrl-C ends the process otherwise. */
  signal?: AbortSignal
  /** How often a follow looks for a restarted instance. */
  relistMs?: number
}

export async function podLogs(cri: CriClient, o: LogsOptions): Promise<void> {
  const pods = choosePods(await observe(cri), o)
  const targets = pods.flatMap((a) => chooseContainers(a, o).map((container) => ({a, container})))
  const multi = targets.length > 1
  await Promise.all(
    targets.map(async ({a, container}) => {
      const list = instances(a, container)
      const inst = o.previous ? list[1] : list[0]
      if (!inst) {
        // Asked for one pod and one container: say why there is nothing; among many, skip it.
        if (multi) return
        if (o.previous) throw new PodrunError(`previous terminated container "${container}" in pod "${a.name}" not found`, {reason: 'NotFound', exitCode: ExitCode.invalid})
        throw new PodrunError(`container "${container}" in pod "${a.name}" is waiting to start`, {reason: 'ContainerNotStarted', exitCode: ExitCode.invalid})
      }
      const prefix = o.prefix ? `[pod/${a.name}/${container}] ` : ''
      const print = (l: LogLine) => {
        if (o.sinceMs !== undefined && Date.parse(l.time) < Date.now() - o.sinceMs) return
        o.out.write(`${prefix}${o.timestamps ? `${l.time} ` : ''}${l.text}\n`)
      }
      await fillStatus(cri, inst)
      if (!inst.logPath) return
      const {records, end} = await tailWithRotated(inst.logPath, o.tail < 0 ? Infinity : o.tail).catch(() => ({records: [] as string[], end: 0}))
      for (const l of linesOf(records)) print(l)
      if (o.follow && !o.previous) await follow(cri, a, container, inst, end, print, o)
    }),
  )
}

/** Follows one container: its log as it grows, then each newer instance's from the start, until its pod is gone. */
async function follow(cri: CriClient, a: ActualPod, container: string, first: ActualContainer, offset: number, print: (l: LogLine) => void, o: LogsOptions): Promise<void> {
  const stop = new AbortController()
  o.signal?.addEventListener('abort', () => stop.abort(), {once: true})
  let current = first
  let next: ActualContainer | undefined
  let gone = false
  const look = setInterval(() => {
    observe(cri)
      .then((all) => {
        const pod = all.find((p) => p.key === a.key)
        if (!pod) gone = true
        else {
          const newest = instances(pod, container)[0]
          if (newest && newest.id !== current.id) next = newest
        }
      })
      .catch(() => undefined)
  }, o.relistMs ?? 1000)
  try {
    let path = current.logPath!
    for (;;) {
      await followFile(path, offset, print, {signal: stop.signal, until: () => gone || next !== undefined})
      if (stop.signal.aborted || gone || !next) return
      current = next
      next = undefined
      await fillStatus(cri, current)
      if (!current.logPath) return
      path = current.logPath
      offset = 0
    }
  } finally {
    clearInterval(look)
  }
}
