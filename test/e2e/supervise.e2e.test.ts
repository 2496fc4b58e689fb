// Every pod supervised, against the real containerd: a `podrun daemon` restarts the crashed
// containers of pods made by `podrun apply`, and after a power cut of the runtime
// (scripts/runtime.sh power-cut: containerd, its shims and every container killed at once, the
// runtime's /run state emptied, containerd started again as at boot) brings back applied pods and
// folder pods alike with no action from anyone, while a finished `restartPolicy: Never` pod keeps
// its final status. A daemon without --manifest-dir does the same for applied pods.
//
// Needs: `bash scripts/runtime.sh up`, `eval "$(bash scripts/runtime.sh env)"`, `npm run build`.
// The power cuts kill the harness's containerd and every pod it runs.
import assert from 'node:assert/strict'
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import type {DaemonPodList} from '../../src/daemon/view.js'
import {projectRoot, runPodrun, type Run} from '../support/cli.js'
import {podYaml, type PodYamlOptions} from '../support/pod-yaml.js'
import {getOverSocket, waitFor as pollUntil} from '../support/wait.js'
import {daemonWorkspace} from '../support/daemon-workspace.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const {ns, work, manifestDir, stateDir, socket, daemonLog, env} = daemonWorkspace('sup')
const appliedDir = path.join(work, 'applied-manifests')
const RUNNING = 1
const HALF = 10

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 180_000)
const pod = (name: string, o: Partial<PodYamlOptions> = {}): string => podYaml(name, {namespace: ns, image: image!, ...o})

function startDaemon(...args: string[]): ChildProcess {
  const out = fs.openSync(daemonLog, 'a')
  const child = spawn(
    process.execPath,
    [path.join(projectRoot, 'bin/run.js'), 'daemon', '--state-dir', stateDir, '--relist-period', '300ms', '--resync-period', '3s', '--backoff-initial', '1s', '--backoff-max', '4s', ...args],
    {env, cwd: projectRoot, stdio: ['ignore', out, out]},
  )
  fs.closeSync(out)
  return child
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((r) => child.once('exit', () => r()))
}

async function stopDaemon(child: ChildProcess | undefined): Promise<void> {
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  process.kill(child.pid, 'SIGTERM')
  await exited(child)
}

const tail = () => (fs.existsSync(daemonLog) ? fs.readFileSync(daemonLog, 'utf8').split('\n').slice(-30).join('\n') : '(no log)')
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> =>
  pollUntil(what, fn, ms, 100, () => `--- daemon log (tail) ---\n${tail()}`)

function powerCut(): Promise<Run> {
  return new Promise((resolve) =>
    execFile('bash', [path.join(projectRoot, 'scripts/runtime.sh'), 'power-cut'], {cwd: projectRoot, timeout: 120_000}, (err, stdout, stderr) =>
      resolve({code: err ? 1 : 0, stdout, stderr}),
    ),
  )
}

describe('every pod supervised, across crashes and power cuts', {concurrency: false, timeout: 600_000}, () => {
  let cri: CriClient
  let daemon: ChildProcess | undefined
  const containersOf = (name: string) => cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name}})
  const runningNames = async () =>
    new Set((await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns}, state: {state: RUNNING}})).map((c) => c.labels['io.kubernetes.pod.name']))
  const reconnect = async () => {
    cri.close()
    // containerd's CRI answers "server is not initialized yet" for a moment after start.
    cri = await waitFor('the CRI to answer', () => connectCri({endpoint}).catch(() => undefined), 30_000)
  }

  before(async () => {
    assert.ok(endpoint && image, 'CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE must be set: run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
    fs.mkdirSync(manifestDir)
    fs.mkdirSync(appliedDir)
  })

  after(async () => {
    await stopDaemon(daemon)
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0', '--force')
    cri?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  it('apply without a daemon says that nothing restarts its pods; get pods shows a crashed container as Error with that hint', async () => {
    fs.writeFileSync(path.join(appliedDir, 'crashy.yaml'), pod('crashy', {cmd: 'sleep 1; exit 1'}))
    const r = await podrun('apply', '-f', path.join(appliedDir, 'crashy.yaml'), '--no-wait')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /note: no podrun daemon answers on .*: nothing restarts these pods' containers/)
    await waitFor('crashy exited', async () => (await containersOf('crashy')).some((c) => c.state === 2))
    const get = await podrun('get', 'pods', 'crashy', '-n', ns, '-o', 'wide')
    assert.match(get.stdout, /crashy\s+0\/1\s+Error\s+0\s.*no podrun daemon answers/)
    assert.match(get.stderr, /not restarted until one runs/)
  })

  it('with a daemon running, the applied crash-looping pod is restarted with back-off and shows CrashLoopBackOff', async () => {
    daemon = startDaemon('--manifest-dir', manifestDir)
    await waitFor('the API', async () => (await getOverSocket(socket, '/readyz')).code === 200)
    await waitFor('two restarts', async () => Math.max(...(await containersOf('crashy')).map((c) => c.metadata?.attempt ?? 0)) >= 2, 30_000)
    const get = await waitFor('CrashLoopBackOff in get pods', async () => {
      const g = await podrun('get', 'pods', 'crashy', '-n', ns)
      return /CrashLoopBackOff/.test(g.stdout) && g
    }, 20_000)
    assert.match(get.stdout, /crashy\s+0\/1\s+CrashLoopBackOff\s+[2-9]/)
    const view = JSON.parse((await getOverSocket(socket, '/api/v1/pods')).body) as DaemonPodList
    assert.equal(view.pods.find((p) => p.key === `${ns}/crashy`)?.source, 'apply')
    const del = await podrun('delete', 'pod', 'crashy', '-n', ns, '--grace-period', '0')
    assert.equal(del.code, 0, del.stderr)
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal((await containersOf('crashy')).length, 0, 'the daemon did not bring back a deleted pod')
  })

  it(`power cut: ${2 * HALF} pods, half applied and half from the folder, all run again by themselves; a finished Never pod is not re-run`, async (t) => {
    for (let i = 0; i < HALF; i++) fs.writeFileSync(path.join(appliedDir, `a${i}.yaml`), pod(`app-${i}`))
    fs.writeFileSync(path.join(appliedDir, 'once.yaml'), pod('once', {cmd: 'echo done', restartPolicy: 'Never'}))
    fs.rmSync(path.join(appliedDir, 'crashy.yaml'))
    const up = await podrun('apply', '-f', appliedDir)
    assert.equal(up.code, 0, up.stdout + up.stderr)
    for (let i = 0; i < HALF; i++) fs.writeFileSync(path.join(manifestDir, `f${i}.yaml`), pod(`dir-${i}`))
    const all = [...Array.from({length: HALF}, (_, i) => `app-${i}`), ...Array.from({length: HALF}, (_, i) => `dir-${i}`)]
    await waitFor('all running', async () => {
      const r = await runningNames()
      return all.every((n) => r.has(n))
    })
    const onceBefore = (await containersOf('once')).map((c) => c.id)
    assert.equal(onceBefore.length, 1)

    const cut = await powerCut()
    assert.equal(cut.code, 0, cut.stderr)
    const t0 = Date.now()
    await reconnect()
    assert.equal((await runningNames()).size, 0, 'the power cut left nothing running')
    await waitFor('all running again', async () => {
      const r = await runningNames()
      return all.every((n) => r.has(n))
    }, 120_000)
    t.diagnostic(`power cut: ${all.length} pods running again ${Date.now() - t0} ms after containerd answered`)
    // The finished Never pod: the same container, still exited 0, no new sandbox.
    const once = await containersOf('once')
    assert.deepEqual(once.map((c) => c.id), onceBefore)
    const get = await podrun('get', 'pods', 'once', '-n', ns)
    assert.match(get.stdout, /once\s+0\/1\s+Completed/)
  })

  it('a daemon without --manifest-dir brings back the applied pods after a power cut, and leaves folder pods alone', async () => {
    await stopDaemon(daemon)
    daemon = startDaemon()
    await waitFor('the API', async () => (await getOverSocket(socket, '/readyz')).code === 200)
    const cut = await powerCut()
    assert.equal(cut.code, 0, cut.stderr)
    await reconnect()
    const applied = Array.from({length: HALF}, (_, i) => `app-${i}`)
    await waitFor('the applied pods running again', async () => {
      const r = await runningNames()
      return applied.every((n) => r.has(n))
    }, 120_000)
    await new Promise((r) => setTimeout(r, 1000))
    const r = await runningNames()
    assert.equal([...r].filter((n) => n.startsWith('dir-')).length, 0, 'folder pods are not this daemon\'s')
    await stopDaemon(daemon)
    daemon = undefined
  })
})
