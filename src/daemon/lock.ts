// One daemon per state folder: `<state-dir>/daemon.pid`, created exclusively (O_EXCL). A lock
// file whose pid is alive and runs a podrun daemon (by /proc/PID/cmdline) refuses a second daemon;
// one left by a daemon that died (kill -9, power loss on a persistent folder) is taken over.
import fs from 'node:fs'
import path from 'node:path'
import {PodrunError} from '../lib/errors.js'
import {LOCK_NAME} from './options.js'

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

export function acquireLock(stateDir: string): Lock {
  fs.mkdirSync(stateDir, {recursive: true, mode: 0o700})
  const file = path.join(stateDir, LOCK_NAME)
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o644)
      fs.writeSync(fd, `${process.pid}\n`)
      fs.closeSync(fd)
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
        },
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new PodrunError(`cannot create the lock file ${file}: ${(e as Error).message}`, {
          reason: 'LockFailed',
          suggestions: ['run as root, or choose a writable folder with --state-dir'],
        })
      }
    }
    const holder = lockHolder(file)
    if (holder !== undefined) {
      throw new PodrunError(`another podrun daemon (pid ${holder}) is running with state folder ${stateDir}`, {
        reason: 'AlreadyRunning',
        suggestions: [`stop it first (kill ${holder}), or give this one its own --state-dir`],
      })
    }
    // Stale: its daemon is gone. Take it over.
    try {
      fs.unlinkSync(file)
    } catch {
      // someone else removed it: try again
    }
  }
  throw new PodrunError(`could not take the lock file ${file}: another daemon may be starting at the same time`, {reason: 'LockFailed'})
}
