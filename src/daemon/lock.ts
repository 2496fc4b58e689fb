// One daemon per state folder: a lease the kernel holds for the daemon's life (acquireLock), and
// `<state-dir>/daemon.pid` naming the holder. A pid file left by a daemon that died (kill -9, power
// loss on a persistent folder) means nothing: the lease went with its process.
import fs from 'node:fs'
import path from 'node:path'
import {PodrunError} from '../lib/errors.js'
import {LOCK_NAME} from './options.js'
import {tryLease} from '../lib/lease.js'
import {writeAtomic} from '../lib/atomic.js'

/** Lock files this process holds (a second daemon in the same process is refused too). */
const held = new Set<string>()

export interface Lock {
  path: string
  pid: number
  /** Removes the lock file if it is still ours. */
  release(): void
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
  } catch (e) {
    // EPERM: it exists but is not ours to signal.
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z'
  } catch {
    return true // no /proc: trust kill(0)
  }
}

/** Whether argv (from /proc/PID/cmdline) is `podrun daemon ...` however it was started. */
export function isDaemonCmdline(argv: string[]): boolean {
  const i = argv.indexOf('daemon')
  if (i < 1) return false
  return argv.slice(0, i).some((a) => {
    const b = path.basename(a)
    return b === 'podrun' || /podrun/.test(a) || /(^|\/)bin\/(run|dev)\.js$/.test(a)
  })
}

function readCmdline(pid: number): string[] | undefined {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean)
  } catch {
    return undefined
  }
}

/** The pid of a live daemon holding the lock file, if any. */
export function lockHolder(file: string): number | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  const pid = Number(text.trim())
  if (pid === process.pid) return held.has(path.resolve(file)) ? pid : undefined
  if (!pidAlive(pid)) return undefined
  const argv = readCmdline(pid)
  // Without /proc we cannot tell a recycled pid from a daemon: assume the daemon.
  if (argv === undefined) return fs.existsSync('/proc/self') ? undefined : pid
  return isDaemonCmdline(argv) ? pid : undefined
}

/**
 * Takes the state folder: a lease held by the kernel (an abstract unix socket named after the
 * folder, lib/lease.ts), released by the kernel however the process dies, so no stale lock can
 * outlive its daemon and two daemons starting at once cannot both win (checking a lock file's pid,
 * removing it and creating it again is not atomic). daemon.pid says who holds it, for people and
 * for the refusal's message.
 */
export async function acquireLock(stateDir: string): Promise<Lock> {
  fs.mkdirSync(stateDir, {recursive: true, mode: 0o700})
  const file = path.join(stateDir, LOCK_NAME)
  const lease = await tryLease(`daemon:${fs.realpathSync(stateDir)}`)
  if (!lease) {
    // The holder writes daemon.pid right after taking the lease: give it a moment to.
    let holder = lockHolder(file)
    for (let i = 0; i < 20 && holder === undefined; i++) {
      await new Promise((r) => setTimeout(r, 25))
      holder = lockHolder(file)
    }
    throw new PodrunError(`another podrun daemon${holder !== undefined ? ` (pid ${holder})` : ''} is running with state folder ${stateDir}`, {
      reason: 'AlreadyRunning',
      suggestions: [holder !== undefined ? `stop it first (kill ${holder}), or give this one its own --state-dir` : 'stop it first, or give this one its own --state-dir'],
    })
  }
  try {
    writeAtomic(file, `${process.pid}\n`, 0o644)
  } catch (e) {
    await lease.release()
    throw new PodrunError(`cannot write the lock file ${file}: ${(e as Error).message}`, {
      reason: 'LockFailed',
      suggestions: ['run as root, or choose a writable folder with --state-dir'],
    })
  }
  held.add(path.resolve(file))
  return {
    path: file,
    pid: process.pid,
    release() {
      held.delete(path.resolve(file))
      try {
        if (fs.readFileSync(file, 'utf8').trim() === String(process.pid)) fs.unlinkSync(file)
      } catch {
        // already gone
      }
      void lease.release()
    },
  }
}
