// One daemon per state folder: a lease the kernel holds, a live holder refused (by pid in its
// message), a stale pid file meaning nothing, two at once never both winning.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {acquireLock, isDaemonCmdline} from '../../src/daemon/lock.js'
import {leaseAddress} from '../../src/lib/lease.js'
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
  it('is taken, held in daemon.pid with our pid, and released', async () => {
    const d = stateDir()
    const lock = await acquireLock(d)
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(process.pid))
    lock.release()
    assert.ok(!fs.existsSync(path.join(d, 'daemon.pid')))
  })

  it('refuses a second daemon while the first one runs, naming its pid and the folder', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    // Another process holds the folder's lease (the abstract socket), as a running daemon does.
    const addr = Buffer.from(leaseAddress(`daemon:${fs.realpathSync(d)}`)).toString('hex')
    const script = `require('net').createServer().listen({path: Buffer.from(process.argv[1], 'hex').toString()}, () => console.log('held')); setTimeout(() => {}, 60000)`
    const other = spawn(process.execPath, ['-e', script, addr, '/usr/local/bin/podrun', 'daemon'], {stdio: ['ignore', 'pipe', 'ignore']})
    children.push(other)
    await new Promise((r) => other.stdout!.once('data', r))
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${other.pid}\n`)
    await assert.rejects(
      () => acquireLock(d),
      (e: unknown) => isPodrunError(e) && e.reason === 'AlreadyRunning' && e.message.includes(String(other.pid)) && e.message.includes(d),
    )
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(other.pid))
    // The kernel releases the lease with the process, however it dies.
    other.kill('SIGKILL')
    await new Promise((r) => other.once('exit', r))
    ;(await acquireLock(d)).release()
  })

  it('two daemons taking the folder at the same moment: exactly one wins, every time', async () => {
    for (let i = 0; i < 20; i++) {
      const d = stateDir()
      const r = await Promise.allSettled([acquireLock(d), acquireLock(d)])
      const won = r.filter((x) => x.status === 'fulfilled')
      assert.equal(won.length, 1, `round ${i}`)
      ;(won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release()
    }
  })

  it('takes over the lock of a daemon that died', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    const dead = await sleeper(['podrun', 'daemon'])
    process.kill(dead.pid!, 'SIGKILL')
    await new Promise((r) => dead.once('exit', r))
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${dead.pid}\n`)
    const lock = await acquireLock(d)
    assert.equal(fs.readFileSync(path.join(d, 'daemon.pid'), 'utf8').trim(), String(process.pid))
    lock.release()
  })

  it('takes over a lock whose pid now belongs to another program (pid reuse)', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    const other = await sleeper(['something-else'])
    fs.writeFileSync(path.join(d, 'daemon.pid'), `${other.pid}\n`)
    ;(await acquireLock(d)).release()
  })

  it('takes over a lock file with garbage in it', async () => {
    const d = stateDir()
    fs.mkdirSync(d)
    fs.writeFileSync(path.join(d, 'daemon.pid'), 'not a pid')
    ;(await acquireLock(d)).release()
  })

  it('does not remove a lock file that another daemon took meanwhile', async () => {
    const d = stateDir()
    const lock = await acquireLock(d)
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
