// Pods whose PID 1 ignores SIGTERM (`sleep`, a shell, as many real programs do), with a grace period
// above 0, against the real containerd: stopping one pod waits out its grace period, and nothing
// else waits with it. The tests check what overlapped, not how fast (bench/ measures that).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {spawn} from 'node:child_process'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {projectRoot, runPodrun, type Run} from '../support/cli.js'
import {podYaml} from '../support/pod-yaml.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const ns = `e2e-workers-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-workers-'))
const env = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs')}
const GRACE = 3

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 120_000)

describe('pods that ignore SIGTERM, against the real runtime', {concurrency: false, timeout: 170_000}, () => {
  let cri: CriClient
  before(async () => {
    assert.ok(endpoint && image, 'CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE must be set: run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
  })
  after(async () => {
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0')
    cri?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  it(`delete -f of 12 pods that ignore SIGTERM, grace ${GRACE}s, stops them side by side`, async (t) => {
    // Each PID 1 (a shell) notes when SIGTERM came, in a host folder, and goes on running.
    const marks = path.join(work, 'term')
    fs.mkdirSync(marks)
    const dir = path.join(work, 'twelve')
    fs.mkdirSync(dir)
    for (let i = 0; i < 12; i++) {
      // (/proc/uptime: the host's clock in centiseconds, the same for every container.)
      const cmd = `trap 'read up rest < /proc/uptime; echo $up > /marks/sleeper-${i}' TERM; while :; do sleep 0.2; done`
      const yaml = podYaml(`sleeper-${i}`, {namespace: ns, image: image!, cmd, terminationGracePeriodSeconds: GRACE})
      fs.writeFileSync(path.join(dir, `p${i}.yaml`), `${yaml}      volumeMounts: [{name: marks, mountPath: /marks}]\n  volumes: [{name: marks, hostPath: {path: ${marks}, type: Directory}}]\n`)
    }
    const up = await podrun('apply', '-f', dir, '--allowed-host-paths', marks)
    assert.equal(up.code, 0, up.stdout + up.stderr)
    const running = await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns}, state: {state: 1}})
    assert.equal(running.length, 12)
    const t0 = performance.now()
    const del = await podrun('delete', '-f', dir)
    const ms = performance.now() - t0
    assert.equal(del.code, 0, del.stderr)
    assert.equal((await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns}})).length, 0)
    // Every container was told to stop at about the same moment: four pods at a time (the old
    // engine) sent the signals in waves a grace period apart.
    const at = fs.readdirSync(marks).map((f) => Number(fs.readFileSync(path.join(marks, f), 'utf8')) * 1000)
    const spread = Math.round(Math.max(...at) - Math.min(...at))
    t.diagnostic(`delete of 12 pods, grace ${GRACE}s: ${Math.round(ms)} ms; SIGTERM spread over ${spread} ms`)
    assert.equal(at.length, 12, 'every container got SIGTERM')
    assert.ok(spread < GRACE * 1000, `SIGTERM reached the containers over ${spread} ms: the stops did not overlap`)
    // And each waited out its grace period before the kill.
    assert.ok(ms >= GRACE * 1000, `took ${Math.round(ms)} ms: the grace period was not honoured`)
  })

  it('apply --wait-timeout ends on time while a pod waits out a 20 s grace period, the other pods are not held up, and Ctrl-C of apply or delete names what is in progress', async (t) => {
    const dir = path.join(work, 'slow')
    fs.mkdirSync(dir)
    const port = 21000 + (process.pid % 9000)
    const ports = ['--allowed-host-ports', `${port}-${port + 1}`]
    const slow = (hostPort: number) => podYaml('slow', {namespace: ns, image: image!, cmd: 'exec sleep 3600', terminationGracePeriodSeconds: 20, hostPort})
    fs.writeFileSync(path.join(dir, 'slow.yaml'), slow(port))
    const up = await podrun('apply', '-f', dir, ...ports)
    assert.equal(up.code, 0, up.stdout + up.stderr)
    // A new host port recreates the pod: its container takes the whole 20 s to stop.
    fs.writeFileSync(path.join(dir, 'slow.yaml'), slow(port + 1))
    fs.writeFileSync(path.join(dir, 'other.yaml'), podYaml('other', {namespace: ns, image: image!, cmd: 'exec sleep 3600', terminationGracePeriodSeconds: GRACE}))
    const t0 = performance.now()
    const r = await podrun('apply', '-f', dir, ...ports, '--wait-timeout', '3s')
    const ms = performance.now() - t0
    t.diagnostic(`apply --wait-timeout 3s with a 20 s stop in progress: ${Math.round(ms)} ms`)
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /slow \(timed out waiting for the pod to run \(status \w+; still stopping pod\)\)/)
    assert.match(r.stderr + r.stdout, /pod\/other Running/)
    assert.ok(ms < 15_000, `apply took ${Math.round(ms)} ms: it waited for the grace period`)

    // Ctrl-C of a waiting apply: stops waiting at once and says what is in progress.
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'apply', '-f', dir, ...ports], {env, cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe']})
    let err = ''
    child.stderr.on('data', (b: Buffer) => (err += b.toString()))
    const code = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
    await new Promise((res) => setTimeout(res, 2500))
    const t1 = performance.now()
    process.kill(child.pid!, 'SIGINT')
    assert.equal(await code, 130, err)
    assert.ok(performance.now() - t1 < 5000, 'exited soon after Ctrl-C')
    assert.match(err, /interrupted: 1 pod\(s\) not settled: slow \(interrupted \(status \w+; still stopping pod\)\)/)

    // Ctrl-C of a delete waiting out the grace period: the same.
    const del = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'delete', '-f', path.join(dir, 'slow.yaml')], {env, cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe']})
    let delErr = ''
    del.stderr.on('data', (b: Buffer) => (delErr += b.toString()))
    const delCode = new Promise<number | null>((res) => del.once('exit', (c) => res(c)))
    await new Promise((res) => setTimeout(res, 2500))
    process.kill(del.pid!, 'SIGINT')
    assert.equal(await delCode, 130, delErr)
    assert.match(delErr, /interrupted: 1 pod\(s\) not deleted yet: slow \(stopping pod\)/)
  })
})
