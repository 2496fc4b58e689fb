// The daemon end to end against the fake CRI runtime and a temporary manifest folder: fast, with
// short periods and back-offs. What it runs is checked in the fake's own state (the end state of
// the world), what it reports through its API.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {status as grpcStatus} from '@grpc/grpc-js'
import {connectCri} from '../../src/cri/client.js'
import {runDaemon, type DaemonHandle} from '../../src/daemon/daemon.js'
import {createLogger} from '../../src/daemon/log.js'
import {defaultOptions, type DaemonOptions} from '../../src/daemon/options.js'
import {splitByOwner} from '../../src/reconcile/ownership.js'
import type {DaemonPodInfo, DaemonPodList} from '../../src/daemon/view.js'
import {ContainerState, PodSandboxState} from '../../src/gen/runtime/v1/api.js'
import {reconcilePass} from '../../src/reconcile/engine.js'
import {observe} from '../../src/reconcile/observe.js'
import {parseResolvConf} from '../../src/reconcile/sandbox-config.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {FakeCri, type FakeContainer} from '../support/fake-cri.js'
import {forgetApplied, recordApplied} from '../../src/reconcile/applied-store.js'
import {acquireLease} from '../../src/lib/lease.js'
import {podLeaseName} from '../../src/reconcile/ownership.js'
import {getOverSocket, waitFor as pollUntil} from '../support/wait.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-dloop-'))
process.env.PODRUN_ROOT = path.join(work, 'root')
process.env.PODRUN_LOG_ROOT = path.join(work, 'logs')
process.env.PODRUN_CGROUP_ROOT = `/podrun-unit-${process.pid}`
const host = {dns: parseResolvConf('nameserver 127.0.0.53\n'), nodeName: 'unit', hostIP: '127.0.0.1'}
const logLines: string[] = []
const log = createLogger({level: 'debug', json: true, stream: {write: (s: string) => logLines.push(s)}})

after(() => fs.rmSync(work, {recursive: true, force: true}))

let n = 0
function dirs(): {manifestDir: string; stateDir: string} {
  const d = path.join(work, `d${n++}`)
  fs.mkdirSync(path.join(d, 'm'), {recursive: true})
  return {manifestDir: path.join(d, 'm'), stateDir: path.join(d, 's')}
}

function pod(name: string, o: {image?: string; restartPolicy?: string; namespace?: string; grace?: number} = {}): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${o.namespace ?? 'default'}
spec:
  restartPolicy: ${o.restartPolicy ?? 'Always'}
  terminationGracePeriodSeconds: ${o.grace ?? 0}
  containers:
    - name: main
      image: ${o.image ?? 'busybox:1.35'}
`
}

const waitFor = <T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, ms = 5000): Promise<T> => pollUntil(what, fn, ms, 10)


const listPods = async (d: DaemonHandle): Promise<DaemonPodList> => ({kind: 'DaemonPodList', daemon: d.loop.status(), pods: d.loop.pods()})
const podInfo = (d: DaemonHandle, key: string): DaemonPodInfo | undefined => d.loop.pods().find((p) => p.key === key)

function containersOf(fake: FakeCri, name: string, namespace = 'default'): FakeContainer[] {
  const sb = new Set(fake.sandboxes().filter((s) => s.config.metadata?.name === name && s.config.metadata.namespace === namespace).map((s) => s.id))
  return fake
    .containers()
    .filter((c) => sb.has(c.podSandboxId))
    .sort((a, b) => (a.config.metadata?.attempt ?? 0) - (b.config.metadata?.attempt ?? 0))
}
const running = (fake: FakeCri, name: string, ns?: string) => containersOf(fake, name, ns).filter((c) => c.state === ContainerState.CONTAINER_RUNNING)
const sandboxesOf = (fake: FakeCri, name: string) => fake.sandboxes().filter((s) => s.config.metadata?.name === name)

function options(d: {manifestDir?: string; stateDir: string}, o: Partial<DaemonOptions> = {}): DaemonOptions {
  return defaultOptions({
    ...d,
    relistMs: 50,
    resyncMs: 2000,
    debounceMs: 20,
    backoff: {initialMs: 200, maxMs: 800, resetMs: 60_000},
    reconnect: {initialMs: 50, maxMs: 200},
    ...o,
  })
}

async function start(fake: FakeCri, opts: DaemonOptions): Promise<DaemonHandle> {
  return runDaemon(opts, {log, host, connect: (onCall) => connectCri({endpoint: fake.endpoint, onCall})})
}

describe('daemon against the fake runtime', {concurrency: false}, () => {
  let fake: FakeCri
  let d: DaemonHandle
  let dir: {manifestDir: string; stateDir: string}
  const write = (f: string, text: string) => fs.writeFileSync(path.join(dir.manifestDir, f), text)

  before(async () => {
    fake = await FakeCri.start({images: ['busybox:1.35', 'busybox:v2']})
    dir = dirs()
    write('web.yaml', pod('web'))
    d = await start(fake, options(dir))
  })
  after(async () => {
    await d?.stop()
    await fake?.close()
  })

  it('runs the pods of the folder, and its API says so', async () => {
    await waitFor('web running', () => running(fake, 'web').length === 1)
    const info = await waitFor('web Running in the view', () => podInfo(d, 'default/web')?.status === 'Running' && podInfo(d, 'default/web'))
    assert.equal(info.ready, true)
    assert.equal(info.source, path.join(dir.manifestDir, 'web.yaml'))
    const sock = path.join(dir.stateDir, 'podrun.sock')
    assert.equal((await getOverSocket(sock, '/readyz')).code, 200)
    const metrics = (await getOverSocket(sock, '/metrics')).body
    assert.match(metrics, /podrun_pods\{phase="Running"\} 1/)
    assert.match(metrics, /podrun_cri_calls_total\{method="RunPodSandbox",code="OK"\} 1/)
    assert.ok(logLines.some((l) => /GetContainerEvents is UNIMPLEMENTED/.test(l)))
  })

  it('a second daemon on the same state folder refuses to start', async () => {
    await assert.rejects(start(fake, options({...dirs(), stateDir: dir.stateDir})), /another podrun daemon \(pid \d+\) is running with state folder/)
  })

  it('an idle daemon makes no mutating call and relists without full passes', async () => {
    await d.loop.idle()
    const syncs = d.loop.syncs
    fake.resetCalls()
    await new Promise((r) => setTimeout(r, 400))
    // A relist is one ListContainers for exited containers; a resync (every 2 s here) lists both.
    for (const m of new Set(fake.calls.map((c) => c.method))) assert.ok(['ListContainers', 'ListPodSandbox'].includes(m), m)
    const relists = fake.callsOf('ListContainers').filter((c) => (c.request as {filter?: {state?: {state: number}}}).filter?.state?.state === ContainerState.CONTAINER_EXITED)
    assert.ok(relists.length >= 4, String(relists.length))
    assert.equal(d.loop.syncs, syncs)
  })

  it('a new image replaces the container and keeps the sandbox', async () => {
    const sb = sandboxesOf(fake, 'web').map((s) => s.id)
    const old = running(fake, 'web')[0].id
    write('web.yaml', pod('web', {image: 'busybox:v2'}))
    const now = await waitFor('the new container', () => running(fake, 'web').find((c) => c.config.image?.image === 'busybox:v2'))
    assert.notEqual(now.id, old)
    assert.deepEqual(
      sandboxesOf(fake, 'web').map((s) => s.id),
      sb,
    )
  })

  it('a crashing container under Always restarts with growing delays, its restart count rising', async () => {
    write('crash.yaml', pod('crash'))
    const gaps: number[] = []
    let c = await waitFor('crash running', () => running(fake, 'crash')[0])
    for (let i = 0; i < 4; i++) {
      fake.exitContainer(c.id, 1)
      const exited = Date.now()
      const prev = c.id
      c = await waitFor(`restart ${i + 1}`, () => running(fake, 'crash').find((x) => x.id !== prev))
      gaps.push(Date.now() - exited)
      assert.equal(c.config.metadata?.attempt, i + 1)
    }
    // Step 0 restarts at once; then 200, 400, 800 ms (the cap).
    assert.ok(gaps[0] < 180, `first restart took ${gaps[0]} ms`)
    assert.ok(gaps[1] >= 190 && gaps[1] < 400, `second: ${gaps[1]} ms`)
    assert.ok(gaps[2] >= 390 && gaps[2] < 650, `third: ${gaps[2]} ms`)
    assert.ok(gaps[3] >= 790 && gaps[3] < 1100, `fourth: ${gaps[3]} ms`)
    fake.exitContainer(c.id, 1)
    const info = await waitFor('CrashLoopBackOff in the view', () => {
      const i = podInfo(d, 'default/crash')
      return i?.status === 'CrashLoopBackOff' && i.restarts === 4 && i
    })
    assert.equal(info.restarts, 4)
    assert.equal(info.waiting.main?.reason, 'CrashLoopBackOff')
    assert.ok(info.waiting.main?.until)
    assert.ok(info.events.some((e) => e.reason === 'BackOff'))
    assert.ok(info.events.some((e) => e.reason === 'Started' && (e.count ?? 1) >= 2), JSON.stringify(info.events))
    assert.match(d.metrics.render(), /podrun_container_restarts_total\{namespace="default",pod="crash",container="main"\} 4/)
    fs.rmSync(path.join(dir.manifestDir, 'crash.yaml'))
    await waitFor('crash gone', () => sandboxesOf(fake, 'crash').length === 0)
  })

  it('OnFailure: exit 0 is not restarted and the pod completes; exit 1 is', async () => {
    write('job.yaml', pod('job', {restartPolicy: 'OnFailure'}))
    const c = await waitFor('job running', () => running(fake, 'job')[0])
    fake.exitContainer(c.id, 0)
    const info = await waitFor('job Succeeded', () => podInfo(d, 'default/job')?.phase === 'Succeeded' && podInfo(d, 'default/job'))
    assert.equal(info.status, 'Completed')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(containersOf(fake, 'job').length, 1)

    write('job2.yaml', pod('job2', {restartPolicy: 'OnFailure'}))
    const c2 = await waitFor('job2 running', () => running(fake, 'job2')[0])
    fake.exitContainer(c2.id, 3)
    await waitFor('job2 restarted', () => running(fake, 'job2').find((x) => x.id !== c2.id))
  })

  it('Never: nothing is restarted, the pod fails', async () => {
    write('once.yaml', pod('once', {restartPolicy: 'Never'}))
    const c = await waitFor('once running', () => running(fake, 'once')[0])
    fake.exitContainer(c.id, 2)
    const info = await waitFor('once Failed', () => podInfo(d, 'default/once')?.phase === 'Failed' && podInfo(d, 'default/once'))
    assert.equal(info.status, 'Error')
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(containersOf(fake, 'once').length, 1)
  })

  it('a manifest edited into invalid YAML leaves the pod untouched and shows the error', async () => {
    const before = running(fake, 'web')[0].id
    fake.resetCalls()
    write('web.yaml', 'apiVersion: v1\nkind: Pod\nmetadata: {name: web\nspec: [\n')
    const info = await waitFor('the manifest error in the view', () => (podInfo(d, 'default/web')?.manifestError ? podInfo(d, 'default/web') : undefined))
    assert.match(info.manifestError!, /web\.yaml:\d+:\d+: .*YAML/)
    assert.equal(info.frozen, true)
    assert.equal(info.status, 'Running')
    assert.equal(running(fake, 'web')[0].id, before)
    const mutating = fake.calls.filter((c) => /^(Run|Stop|Remove|Create|Start)/.test(c.method) && c.method !== 'StartContainer')
    assert.deepEqual(mutating, [])
    assert.match(d.metrics.render(), /podrun_manifest_errors\{file=".*web\.yaml"\} 1/)
    const list = await listPods(d)
    assert.ok(Object.keys(list.daemon.manifestErrors).some((f) => f.endsWith('web.yaml')))
    assert.ok(logLines.some((l) => /manifest invalid: its pods keep running from the last good version/.test(l)))
    // Fixed: the new version applies.
    write('web.yaml', pod('web', {image: 'busybox:1.35'}))
    await waitFor('web back on 1.35', () => running(fake, 'web').find((c) => c.config.image?.image === 'busybox:1.35'))
    await waitFor('error gone', () => !podInfo(d, 'default/web')?.manifestError)
  })

  it('pods of `podrun apply` are left alone: never pruned, and a manifest naming one is a conflict', async () => {
    const cri = await connectCri({endpoint: fake.endpoint})
    try {
      const state = desiredStateFromTexts([{file: 'x.yaml', text: pod('applied') + '---\n' + pod('shared')}], {source: () => 'apply'})
      const r = await reconcilePass(state.pods, {cri, host, data: () => undefined, parallel: 2, prune: () => false})
      assert.ok(r.results.every((x) => x.ok))
      const sharedId = running(fake, 'shared')[0].id
      write('shared.yaml', pod('shared', {image: 'busybox:v2'}))
      const info = await waitFor('the conflict', () => (podInfo(d, 'default/shared')?.conflict ? podInfo(d, 'default/shared') : undefined))
      assert.match(info.conflict!, /belongs to apply/)
      assert.equal(info.source, 'apply')
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(running(fake, 'shared')[0].id, sharedId)
      assert.equal(running(fake, 'applied').length, 1)
      // And apply refuses the daemon's pods, naming the file.
      const mine = desiredStateFromTexts([{file: 'y.yaml', text: pod('web', {image: 'busybox:v2'})}], {source: () => 'apply'})
      const split = splitByOwner(mine.pods, await observe(cri), 'apply')
      assert.equal(split.allowed.length, 0)
      assert.match(split.refused[0].message, new RegExp(`run by a podrun daemon from ${path.join(dir.manifestDir, 'web.yaml')}`))
      fs.rmSync(path.join(dir.manifestDir, 'shared.yaml'))
    } finally {
      cri.close()
    }
  })

  it('a removed manifest stops and removes its pod, and only that pod', async () => {
    fs.rmSync(path.join(dir.manifestDir, 'once.yaml'))
    await waitFor('once gone', () => sandboxesOf(fake, 'once').length === 0)
    assert.equal(running(fake, 'web').length, 1)
    assert.equal(running(fake, 'applied').length, 1)
    assert.equal(running(fake, 'shared').length, 1)
    await waitFor('once gone from the view', () => !podInfo(d, 'default/once'))
  })

  it('a failing pass is retried', async () => {
    fake.fail('CreateContainer', {code: grpcStatus.INTERNAL, times: 1, message: 'injected'})
    write('retry.yaml', pod('retry'))
    await waitFor('a failure in the view', () => podInfo(d, 'default/retry')?.lastError)
    await waitFor('retry running', () => running(fake, 'retry').length === 1, 4000)
    assert.equal(sandboxesOf(fake, 'retry').length, 1)
  })

  it('an image that cannot be pulled: ErrImagePull, then ImagePullBackOff, retried with back-off', async () => {
    fake.markImageMissing('registry.invalid/nosuch:1')
    fake.resetCalls()
    write('nopull.yaml', pod('nopull', {image: 'registry.invalid/nosuch:1'}))
    await waitFor('ErrImagePull', () => podInfo(d, 'default/nopull')?.waiting.main?.reason === 'ErrImagePull')
    await waitFor('ImagePullBackOff', () => podInfo(d, 'default/nopull')?.waiting.main?.reason === 'ImagePullBackOff', 3000)
    await waitFor('three pulls', () => fake.callsOf('PullImage').length >= 3, 4000)
    const at = fake.callsOf('PullImage').map((c) => c.at)
    assert.ok(at[1] - at[0] >= 190, `second pull after ${at[1] - at[0]} ms`)
    assert.ok(at[2] - at[1] >= 390, `third pull after ${at[2] - at[1]} ms`)
    assert.equal(running(fake, 'web').length, 1)
    fs.rmSync(path.join(dir.manifestDir, 'nopull.yaml'))
    await waitFor('nopull gone', () => sandboxesOf(fake, 'nopull').length === 0)
  })

  it('the runtime going away: not ready, reconnects with back-off, converges with no duplicate sandboxes', async () => {
    await d.loop.idle()
    const sandboxes = fake.sandboxes().map((s) => s.id).sort()
    const sock = path.join(dir.stateDir, 'podrun.sock')
    for (const m of ['Version', 'ListPodSandbox', 'ListContainers']) fake.fail(m, {code: grpcStatus.UNAVAILABLE, message: 'connection refused'})
    await waitFor('not ready', async () => (await getOverSocket(sock, '/readyz')).code === 503)
    assert.match((await getOverSocket(sock, '/readyz')).body, /runtime unavailable/)
    assert.equal((await getOverSocket(sock, '/healthz')).code, 200)
    assert.equal(d.loop.status().runtime.up, false)
    await new Promise((r) => setTimeout(r, 400))
    fake.clearFaults()
    await waitFor('ready again', async () => (await getOverSocket(sock, '/readyz')).code === 200, 3000)
    await d.loop.idle()
    assert.deepEqual(fake.sandboxes().map((s) => s.id).sort(), sandboxes)
    assert.equal(logLines.filter((l) => /"runtime unavailable: retrying/.test(l)).length, 1)
    assert.ok(logLines.some((l) => /runtime available again/.test(l)))
  })

  it('stopping leaves the pods running; a new daemon adopts them without restarting anything', async () => {
    await d.loop.idle()
    const ids = fake.containers().filter((c) => c.state === ContainerState.CONTAINER_RUNNING).map((c) => c.id).sort()
    await d.stop()
    assert.ok(!fs.existsSync(path.join(dir.stateDir, 'daemon.pid')))
    assert.ok(!fs.existsSync(path.join(dir.stateDir, 'podrun.sock')))
    fake.resetCalls()
    d = await start(fake, options(dir))
    await waitFor('a full pass', () => d.loop.syncs > 0)
    await new Promise((r) => setTimeout(r, 200))
    assert.deepEqual(fake.containers().filter((c) => c.state === ContainerState.CONTAINER_RUNNING).map((c) => c.id).sort(), ids)
    assert.deepEqual(fake.callsOf('CreateContainer').length + fake.callsOf('RunPodSandbox').length + fake.callsOf('StopContainer').length, 0)
  })

  it('--stop-pods-on-exit deletes the daemon\'s pods, and only those', async () => {
    await d.stop({stopPods: true})
    const left = fake.sandboxes().filter((s) => s.state === PodSandboxState.SANDBOX_READY).map((s) => s.config.metadata?.name).sort()
    assert.deepEqual(left, ['applied', 'shared'])
  })
})

describe('daemon pod workers: a pod waiting out its grace period holds up no other', {concurrency: false}, () => {
  let fake: FakeCri
  let d: DaemonHandle
  let dir: {manifestDir: string; stateDir: string}
  const write = (f: string, text: string) => fs.writeFileSync(path.join(dir.manifestDir, f), text)
  const podOf = (req: unknown) => (req as {sandboxConfig?: {metadata?: {name?: string}}}).sandboxConfig?.metadata?.name
  before(async () => {
    fake = await FakeCri.start({images: ['busybox:1.35']})
    // `slow` runs a PID 1 that ignores SIGTERM: StopContainer waits out its whole grace period.
    fake.ignoresSigterm = (c) => c.config.labels['io.kubernetes.pod.name'] === 'slow'
    dir = dirs()
    write('slow.yaml', pod('slow', {grace: 4}))
    write('crash.yaml', pod('crash'))
    write('gone.yaml', pod('gone'))
    d = await start(fake, options(dir))
    for (const p of ['slow', 'crash', 'gone']) await waitFor(`${p} running`, () => running(fake, p).length === 1)
  })
  after(async () => {
    await d?.stop({stopPods: true})
    await fake?.close()
  })

  it('starts a new pod, restarts a crashed container and removes another pod while one stops', async () => {
    const slow = running(fake, 'slow')[0]
    fs.rmSync(path.join(dir.manifestDir, 'slow.yaml'))
    await waitFor('slow being stopped', () => fake.callsOf('StopContainer').some((c) => (c.request as {containerId: string}).containerId === slow.id))
    write('fresh.yaml', pod('fresh'))
    await waitFor('fresh running', () => running(fake, 'fresh').length === 1)
    const crashed = running(fake, 'crash')[0]
    fake.exitContainer(crashed.id, 1)
    await waitFor('crash restarted', () => running(fake, 'crash').find((c) => c.id !== crashed.id))
    fs.rmSync(path.join(dir.manifestDir, 'gone.yaml'))
    await waitFor('gone removed', () => sandboxesOf(fake, 'gone').length === 0)
    // All of that happened while slow's container was still waiting out its grace period.
    assert.equal(fake.containers().find((c) => c.id === slow.id)?.state, ContainerState.CONTAINER_RUNNING)
    assert.equal(d.loop.healthy.ok, true)
    await waitFor('slow gone', () => sandboxesOf(fake, 'slow').length === 0, 8000)
  })

  it('a pod removed while it starts: the start in flight finishes, then the pod is removed', async () => {
    fake.delay('CreateContainer', 500)
    try {
      fake.resetCalls()
      write('late.yaml', pod('late'))
      await waitFor('late being created', () => fake.callsOf('CreateContainer').some((c) => podOf(c.request) === 'late'))
      fs.rmSync(path.join(dir.manifestDir, 'late.yaml'))
      await waitFor('late removed', () => sandboxesOf(fake, 'late').length === 0 && containersOf(fake, 'late').length === 0, 4000)
      await d.loop.idle()
      assert.equal(sandboxesOf(fake, 'late').length, 0)
      assert.ok(!d.loop.pods().some((p) => p.key === 'default/late'))
    } finally {
      fake.delay('CreateContainer', 0)
    }
  })

  it('each pod has its own back-off: a pod failing over and over does not slow the retry of another', async () => {
    fake.fail('CreateContainer', {code: grpcStatus.INTERNAL, message: 'broken for good', when: (r) => podOf(r) === 'broken'})
    try {
      fake.resetCalls()
      write('broken.yaml', pod('broken'))
      const brokenCalls = () => fake.callsOf('CreateContainer').filter((c) => podOf(c.request) === 'broken')
      // Retries at 200, 400, 800, 800... ms here: four failures bring its streak to the cap.
      await waitFor('broken failing four times', () => brokenCalls().length >= 4, 4000)
      const before = brokenCalls().length
      fake.fail('CreateContainer', {code: grpcStatus.INTERNAL, times: 1, message: 'once', when: (r) => podOf(r) === 'other'})
      write('other.yaml', pod('other'))
      await waitFor('other running', () => running(fake, 'other').length === 1, 4000)
      const otherCalls = fake.callsOf('CreateContainer').filter((c) => podOf(c.request) === 'other')
      assert.equal(otherCalls.length, 2)
      // other was retried on its own first back-off step, before broken's next attempt at the cap.
      assert.ok(brokenCalls().length <= before + 1, `broken made ${brokenCalls().length - before} attempts meanwhile`)
      assert.equal(podInfo(d, 'default/broken')?.lastError?.message.includes('broken for good'), true)
    } finally {
      fake.clearFaults()
    }
  })
})

describe('a daemon without a manifest folder supervises the pods of `podrun apply`', {concurrency: false}, () => {
  let fake: FakeCri
  let d: DaemonHandle
  before(async () => {
    fake = await FakeCri.start({images: ['busybox:1.35']})
    d = await start(fake, options({stateDir: dirs().stateDir}))
  })
  after(async () => {
    await d?.stop()
    await fake?.close()
  })

  /** What `podrun apply` does: take each pod's lease (the daemon keeps off), record, converge (here: one pass). */
  async function applyLike(text: string): Promise<void> {
    const state = desiredStateFromTexts([{file: 'a.yaml', text}], {source: () => 'apply'})
    const leases = await Promise.all(state.pods.map((p) => acquireLease(podLeaseName(p.key))))
    recordApplied(state.pods, state.configMaps, state.secrets)
    const cri = await connectCri({endpoint: fake.endpoint})
    try {
      const r = await reconcilePass(state.pods, {cri, host, data: () => undefined, parallel: 2, prune: () => false})
      assert.ok(r.results.every((x) => x.ok), JSON.stringify(r.results))
    } finally {
      cri.close()
      for (const l of leases) await l.release()
    }
  }

  it('restarts a crashed container of an applied pod with back-off, and shows CrashLoopBackOff', async () => {
    await applyLike(pod('sup'))
    let c = await waitFor('sup running', () => running(fake, 'sup')[0])
    fake.exitContainer(c.id, 1)
    c = await waitFor('first restart', () => running(fake, 'sup').find((x) => x.id !== c.id))
    fake.exitContainer(c.id, 1)
    await waitFor('CrashLoopBackOff', () => podInfo(d, 'default/sup')?.status === 'CrashLoopBackOff' && podInfo(d, 'default/sup'))
    await waitFor('second restart after the back-off', () => running(fake, 'sup').find((x) => x.id !== c.id), 3000)
    assert.equal(podInfo(d, 'default/sup')?.source, 'apply')
    assert.equal(sandboxesOf(fake, 'sup').length, 1)
  })

  it('keeps its hands off an applied pod while apply or delete holds its lease', async () => {
    const c = running(fake, 'sup')[0]
    const lease = await acquireLease(podLeaseName('default/sup'))
    try {
      fake.exitContainer(c.id, 1)
      await new Promise((r) => setTimeout(r, 1500))
      assert.equal(running(fake, 'sup').length, 0, 'not restarted while the lease is held')
    } finally {
      await lease.release()
    }
    await waitFor('restarted once the lease is free', () => running(fake, 'sup').length === 1, 3000)
  })

  it('never prunes an applied pod; a removed record leaves the pod to `podrun delete`', async () => {
    forgetApplied([{namespace: 'default', name: 'sup'}])
    await new Promise((r) => setTimeout(r, 300))
    assert.equal(running(fake, 'sup').length, 1)
  })
})

describe('probes and hooks', {concurrency: false}, () => {
  let fake: FakeCri
  let d: DaemonHandle
  let dir: {manifestDir: string; stateDir: string}
  const write = (f: string, text: string) => fs.writeFileSync(path.join(dir.manifestDir, f), text)
  /** Commands that fail in ExecSync, by their first word. */
  const failing = new Set<string>()
  const probed = (name: string, container: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: busybox:1.35
${container}`
  before(async () => {
    fake = await FakeCri.start({images: ['busybox:1.35']})
    fake.onExec((_id, cmd) => (failing.has(cmd[0]) ? {exitCode: 1, stdout: `${cmd[0]} says no`} : undefined))
    dir = dirs()
    d = await start(fake, options(dir))
  })
  after(async () => {
    await d?.stop({stopPods: true})
    await fake?.close()
  })
  const execs = (cmd: string) => fake.callsOf('ExecSync').filter((c) => (c.request as {cmd: string[]}).cmd[0] === cmd)

  it('a liveness probe that starts failing has the container killed and restarted, with Unhealthy and Killing events', async () => {
    write('live.yaml', probed('live', '      livenessProbe: {exec: {command: [alive]}, periodSeconds: 1, failureThreshold: 2}\n'))
    const c = await waitFor('live running', () => running(fake, 'live')[0])
    await waitFor('probed', () => execs('alive').length >= 1, 3000)
    failing.add('alive')
    try {
      await waitFor('restarted', () => running(fake, 'live').find((x) => x.id !== c.id), 6000)
    } finally {
      failing.delete('alive')
    }
    const reasons = podInfo(d, 'default/live')!.events.map((e) => e.reason)
    assert.ok(reasons.includes('Unhealthy') && reasons.includes('Killing'), reasons.join(','))
    assert.ok(fake.callsOf('StopContainer').some((x) => (x.request as {containerId: string}).containerId === c.id))
  })

  it('readiness flips READY both ways; not ready before its first success', async () => {
    failing.add('ready')
    write('rd.yaml', probed('rd', '      readinessProbe: {exec: {command: [ready]}, periodSeconds: 1, failureThreshold: 1}\n'))
    await waitFor('rd running', () => running(fake, 'rd')[0])
    await waitFor('probed', () => execs('ready').length >= 2, 4000)
    assert.equal(podInfo(d, 'default/rd')?.ready, false)
    failing.delete('ready')
    await waitFor('ready', () => podInfo(d, 'default/rd')?.ready === true, 4000)
    failing.add('ready')
    await waitFor('not ready again', () => podInfo(d, 'default/rd')?.ready === false, 4000)
    failing.delete('ready')
    assert.equal(running(fake, 'rd').length, 1, 'readiness never restarts')
  })

  it('a failing startup probe holds readiness and liveness back', async () => {
    failing.add('booted')
    write('st.yaml', probed('st', '      startupProbe: {exec: {command: [booted]}, periodSeconds: 1, failureThreshold: 30}\n      readinessProbe: {exec: {command: [readyz]}, periodSeconds: 1}\n      livenessProbe: {exec: {command: [livez]}, periodSeconds: 1}\n'))
    await waitFor('st running', () => running(fake, 'st')[0])
    await waitFor('startup probed', () => execs('booted').length >= 2, 4000)
    assert.equal(execs('readyz').length + execs('livez').length, 0)
    assert.equal(podInfo(d, 'default/st')?.ready, false)
    failing.delete('booted')
    await waitFor('ready once started', () => podInfo(d, 'default/st')?.ready === true, 5000)
    assert.ok(execs('livez').length >= 1 || (await waitFor('liveness runs', () => execs('livez').length >= 1, 3000)))
  })

  it('postStart runs right after the start; preStop runs before the stop on removal', async () => {
    fake.resetCalls()
    write('hk.yaml', probed('hk', '      lifecycle: {postStart: {exec: {command: [warm]}}, preStop: {exec: {command: [drain]}}}\n'))
    const c = await waitFor('hk running', () => running(fake, 'hk')[0])
    await waitFor('postStart ran', () => execs('warm').length === 1)
    const start = fake.callsOf('StartContainer').find((x) => (x.request as {containerId: string}).containerId === c.id)!
    assert.ok(execs('warm')[0].at >= start.at)
    fs.rmSync(path.join(dir.manifestDir, 'hk.yaml'))
    await waitFor('hk gone', () => sandboxesOf(fake, 'hk').length === 0)
    const stopAt = fake.callsOf('StopContainer').find((x) => (x.request as {containerId: string}).containerId === c.id)!.at
    assert.equal(execs('drain').length, 1)
    assert.ok(execs('drain')[0].at <= stopAt)
  })

  it('a failing postStart hook kills the container (FailedPostStartHook) and it is restarted', async () => {
    failing.add('boom')
    try {
      write('ps.yaml', probed('ps', '      lifecycle: {postStart: {exec: {command: [boom]}}}\n'))
      await waitFor('FailedPostStartHook', () => podInfo(d, 'default/ps')?.events.some((e) => e.reason === 'FailedPostStartHook'), 4000)
      await waitFor('tried again', () => execs('boom').length >= 2, 4000)
    } finally {
      failing.delete('boom')
    }
    await waitFor('ps running', () => running(fake, 'ps').length === 1, 4000)
  })
})

describe('updates that roll back', () => {
  it('an edit whose image cannot be pulled is rolled back to the last Ready version after the deadline; a new edit is tried', async () => {
    const fake = await FakeCri.start({images: ['busybox:1.35', 'busybox:v2']})
    fake.markImageMissing('registry.invalid/nosuch:1')
    const dd = dirs()
    const d = await start(fake, options(dd, {progressDeadlineMs: 800, minReadyMs: 200}))
    const write = (text: string) => fs.writeFileSync(path.join(dd.manifestDir, 'ro.yaml'), text)
    try {
      write(pod('ro'))
      await waitFor('ro running', () => running(fake, 'ro')[0])
      await new Promise((r) => setTimeout(r, 700)) // Ready for longer than --min-ready
      write(pod('ro', {image: 'registry.invalid/nosuch:1'}))
      await waitFor('the bad version tried', () => fake.callsOf('PullImage').some((c) => (c.request as {image?: {image: string}}).image?.image.includes('nosuch')))
      const info = await waitFor('rolled back', () => (podInfo(d, 'default/ro')?.rolledBack ? podInfo(d, 'default/ro') : undefined), 5000)
      assert.match(info.rolledBack!, /not Ready within the progress deadline/)
      assert.ok(info.events.some((e) => e.reason === 'RolledBack'))
      await waitFor('the old image running again', () => running(fake, 'ro').find((c) => c.config.image?.image === 'busybox:1.35'), 5000)
      // Not tried again while the file stays as it is.
      const pulls = fake.callsOf('PullImage').length
      await new Promise((r) => setTimeout(r, 1200))
      assert.equal(fake.callsOf('PullImage').length, pulls)
      assert.match((await getOverSocket(path.join(dd.stateDir, 'podrun.sock'), '/metrics')).body, /podrun_rollbacks_total\{namespace="default",pod="ro"\} 1/)
      // A new edit is tried.
      write(pod('ro', {image: 'busybox:v2'}))
      await waitFor('v2 running', () => running(fake, 'ro').find((c) => c.config.image?.image === 'busybox:v2'), 5000)
      await waitFor('the roll-back mark gone', () => !podInfo(d, 'default/ro')?.rolledBack, 3000)
    } finally {
      await d.stop({stopPods: true})
      await fake.close()
    }
  })
})

describe('daemon with a runtime that streams container events', () => {
  it('restarts a crashed container on the event, without waiting for a relist', async () => {
    const fake = await FakeCri.start({images: ['busybox:1.35'], events: true})
    const dd = dirs()
    fs.writeFileSync(path.join(dd.manifestDir, 'ev.yaml'), pod('ev'))
    const d = await start(fake, options(dd, {relistMs: 50, resyncMs: 60_000}))
    try {
      const c = await waitFor('ev running', () => running(fake, 'ev')[0])
      await waitFor('subscribed', () => fake.eventSubscribers > 0)
      assert.equal(d.loop.status().runtime.events, 'streaming')
      // The evented PLEG: with the stream live, no relist for exits.
      await d.loop.idle()
      fake.resetCalls()
      await new Promise((r) => setTimeout(r, 300))
      assert.deepEqual(fake.calls.map((x) => x.method), [])
      const t0 = Date.now()
      fake.exitContainer(c.id, 1)
      await waitFor('restart on the event', () => running(fake, 'ev').find((x) => x.id !== c.id), 1000)
      assert.ok(Date.now() - t0 < 1000)
    } finally {
      await d.stop({stopPods: true})
      await fake.close()
    }
  })
})

describe('daemon starting before the runtime', () => {
  it('keeps trying to connect, and converges once the runtime answers', async () => {
    const fake = await FakeCri.start({images: ['busybox:1.35']})
    fake.fail('Version', {code: grpcStatus.UNAVAILABLE, message: 'No connection established'})
    const dd = dirs()
    fs.writeFileSync(path.join(dd.manifestDir, 'late.yaml'), pod('late'))
    const d = await start(fake, options(dd))
    try {
      await waitFor('a few attempts', () => fake.callsOf('Version').length >= 3, 3000)
      assert.equal(d.loop.readiness.ok, false)
      assert.equal(fake.sandboxes().length, 0)
      fake.clearFaults()
      await waitFor('late running', () => running(fake, 'late').length === 1, 3000)
      await waitFor('ready', () => d.loop.readiness.ok)
    } finally {
      await d.stop({stopPods: true})
      await fake.close()
    }
  })
})

describe('/healthz fails when a pod sync has been stuck past what its grace period explains', {concurrency: false}, () => {
  it('a stop that never returns: healthy while within grace + call timeouts + margin, 503 naming the pod after', async () => {
    const fake = await FakeCri.start({images: ['busybox:1.35']})
    const dir = dirs()
    let offset = 0
    const d = await runDaemon(options(dir), {log, host, now: () => Date.now() + offset, connect: (onCall) => connectCri({endpoint: fake.endpoint, onCall})})
    try {
      fs.writeFileSync(path.join(dir.manifestDir, 'stuck.yaml'), pod('stuck', {grace: 4}))
      await waitFor('stuck running', () => running(fake, 'stuck').length === 1)
      fake.delay('StopContainer', 60_000)
      fs.rmSync(path.join(dir.manifestDir, 'stuck.yaml'))
      // The file is read after --file-check-delay (1 s); the stop then waits on the runtime (its
      // call's deadline is the grace period plus the call timeout, 14 s).
      await new Promise((r) => setTimeout(r, 2500))
      assert.equal(d.loop.healthy.ok, true)
      assert.equal((await getOverSocket(path.join(dir.stateDir, 'podrun.sock'), '/healthz')).code, 200)
      offset = 20 * 60_000 // past the grace period, four call timeouts and the 10 min margin
      const h = await getOverSocket(path.join(dir.stateDir, 'podrun.sock'), '/healthz')
      assert.equal(h.code, 503)
      assert.match(h.body, /the sync of pod default\/stuck has been running for \d+s/)
    } finally {
      fake.delay('StopContainer', 0)
      offset = 0
      await d.stop({stopPods: true})
      await fake.close()
    }
  })
})
