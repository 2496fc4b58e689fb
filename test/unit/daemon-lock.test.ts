// One daemon per state folder: the lock file, a live holder refused, a stale one taken over.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {acquireLock, isDaemonCmdline} from '../../src/daemon/lock.js'
import {isPodrunError} from '../../src/lib/errors.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-lock-'))
const children: ChildProcess[] = []
after(() => {
  for (const c of children) if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  fs.rmSync(root, {recursive: true, force: true})
})

/** A process whose command line looks like `.../podrun daemon ...` (or not), sleeping. */
function sleeper(argv: string[]): Promise<ChildProcess> {
  const c = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', ...argv], {stdio: 'ignore'})
  children.push(c)
  return new Promise((resolve) => c.once('spawn', () => resolve(c)))
}

let n = 0
const stateDir = () => path.join(root, `s${n++}`)

describe('daemon lock', () => {
  it('is taken, held in daemon.pid with our pid, and released', () => {
    const d = stateDir()
    const lock = acquireLock(d)
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(process.pid))
    lock.release()
    assert.ok(!fs.existsSync(path.join(d, 'daemon.pid')))
  })

  it('refuses a second daemon while the first one runs, naming its pid and the folder', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    const other = await sleeper(['/usr/local/bin/podrun', 'daemon', '--state-dir', d])
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${other.pid}\n`)
    assert.throws(
      () => acquireLock(d),
      (e: unknown) => isPodrunError(e) && e.reason === 'AlreadyRunning' && e.message.includes(String(other.pid)) && e.message.includes(d),
    )
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(other.pid))
  })

  it('takes over the lock of a daemon that died', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    const dead = await sleeper(['podrun', 'daemon'])
    process.kill(dead.pid!, 'SIGKILL')
    await new Promise((r) => dead.once('exit', r))
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${dead.pid}\n`)
    const lock = acquireLock(d)
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(process.pid))
    lock.release()
  })

  it('takes over a lock whose pid now belongs to another program (pid reuse)', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    const other = await sleeper(['something-else'])
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${other.pid}\n`)
    acquireLock(d).release()
  })

  it('takes over a lock file with garbage in it', () => {
    const d = stateDir()
    fs.mkdirSync(d)
    fs.writeFileSync(path.join(d, 'daemon.pid'), 'not a pid')
    acquireLock(d).release()
  })

  it('does not remove a lock file that another daemon took meanwhile', () => {
    const d = stateDir()
    const lock = acquireLock(d)
    fs.writeFileSync(path.join(d, 'daemon.pid'), '999999\n')
    lock.release()
    assert.ok(fs.existsSync(path.join(d, 'daemon.pid')))
  })

  it('recognizes the daemon however it was started', () => {
    assert.ok(isDaemonCmdline(['/usr/local/bin/podrun', 'daemon']))
    assert.ok(isDaemonCmdline(['node', '/opt/app/bin/run.js', 'daemon', '--manifest-dir', 'x']))
    assert.ok(isDaemonCmdline(['/usr/bin/node', '/usr/lib/node_modules/podrun/bin/run.js', 'daemon']))
    assert.ok(!isDaemonCmdline(['node', '/opt/app/bin/run.js', 'get', 'pods']))
    assert.ok(!isDaemonCmdline(['sshd', 'daemon']))
    assert.ok(!isDaemonCmdline(['daemon']))
  })
})
