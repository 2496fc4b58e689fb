// The engine (observe -> plan -> execute) against the in-process fake runtime, where faults can be
// injected: calls that create things are never retried blindly (the next pass adopts what the
// runtime made), one pod's failure never blocks the others, a pod waiting out a grace period holds
// up no other pod, a second pass over converged pods makes no mutating call.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {status} from '@grpc/grpc-js'
import {FakeCri} from '../support/fake-cri.js'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {reconcilePass, type PassOptions} from '../../src/reconcile/engine.js'
import {dataLookup} from '../../src/reconcile/data.js'
import {podUid} from '../../src/reconcile/labels.js'

const MUTATING = new Set(['RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer', 'PullImage'])

function pods(...specs: {name: string; image: string}[]) {
  const text = specs
    .map((s) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${s.name}}\nspec:\n  containers: [{name: main, image: "${s.image}", command: [sleep, "3600"]}]\n`)
    .join('---\n')
  const st = desiredStateFromTexts([{file: 'pods.yaml', text}], {source: () => 'apply'})
  assert.deepEqual(st.diagnostics.filter((d) => d.severity === 'error'), [])
  return st
}

describe('the engine against the fake runtime', () => {
  let fake: FakeCri
  let cri: CriClient
  let root: string
  before(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-engine-'))
    process.env.PODRUN_ROOT = path.join(root, 'root')
    process.env.PODRUN_LOG_ROOT = path.join(root, 'logs')
    fake = await FakeCri.start({images: ['registry.test/app:1.0']})
    cri = await connectCri({endpoint: fake.endpoint, timeoutMs: 2000})
  })
  after(async () => {
    cri.close()
    await fake.close()
    fs.rmSync(root, {recursive: true, force: true})
  })

  const opts = (st: ReturnType<typeof pods>): PassOptions => ({
    cri,
    host: {dns: {servers: [], searches: [], options: []}, nodeName: 'node', hostIP: '127.0.0.1'},
    data: dataLookup(st.configMaps, st.secrets),
    parallel: 4,
    prune: () => false,
  })

  it('does not retry a create call in place after a transient error; the next pass converges', async () => {
    const st = pods({name: 'a', image: 'registry.test/app:1.0'})
    fake.fail('RunPodSandbox', {code: status.UNAVAILABLE, times: 1})
    const res = await reconcilePass(st.pods, opts(st))
    assert.deepEqual(res.results.map((r) => [r.name, r.ok]), [['a', false]])
    assert.equal(fake.callsOf('RunPodSandbox').length, 1)
    const again = await reconcilePass(st.pods, opts(st))
    assert.deepEqual(again.results.map((r) => [r.name, r.ok]), [['a', true]])
    assert.equal(fake.callsOf('RunPodSandbox').length, 2)
    assert.equal(fake.containers().filter((c) => c.state === 1).length, 1)
  })

  it('a new pod whose sandbox cannot be made leaves no files behind; the next pass makes them again', async () => {
    const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: nofiles}\nspec:\n  containers: [{name: main, image: registry.test/app:1.0, volumeMounts: [{name: v, mountPath: /v}]}]\n  volumes: [{name: v, emptyDir: {}}]\n'
    const st = desiredStateFromTexts([{file: 'p.yaml', text}], {source: () => 'apply'})
    const dir = path.join(root, 'root', 'pods', podUid('default', 'nofiles'))
    fake.fail('RunPodSandbox', {code: status.UNKNOWN, message: 'failed to setup network for sandbox', times: 1})
    const res = await reconcilePass(st.pods, opts(st))
    assert.deepEqual(res.results.map((r) => [r.name, r.ok]), [['nofiles', false]])
    assert.equal(fs.existsSync(dir), false)
    const again = await reconcilePass(st.pods, opts(st))
    assert.deepEqual(again.results.map((r) => [r.name, r.ok]), [['nofiles', true]])
    assert.ok(fs.existsSync(path.join(dir, 'volumes', 'empty-dir', 'v')))
  })

  it('a lossy runtime (it acted, the answer was lost) ends with no duplicate and no leaked sandbox', async () => {
    const st = pods({name: 'lossy', image: 'registry.test/app:1.0'})
    const mine = () => ({
      sandboxes: fake.sandboxes().filter((s) => s.config.metadata?.name === 'lossy'),
      containers: fake.containers().filter((c) => c.config.labels['io.kubernetes.pod.name'] === 'lossy'),
    })
    fake.fail('RunPodSandbox', {code: status.DEADLINE_EXCEEDED, times: 1, afterActing: true})
    assert.equal((await reconcilePass(st.pods, opts(st))).results[0].ok, false)
    fake.fail('CreateContainer', {code: status.UNAVAILABLE, times: 1, afterActing: true})
    assert.equal((await reconcilePass(st.pods, opts(st))).results[0].ok, false)
    fake.fail('StartContainer', {code: status.DEADLINE_EXCEEDED, times: 1, afterActing: true})
    await reconcilePass(st.pods, opts(st))
    const last = await reconcilePass(st.pods, opts(st))
    assert.equal(last.results[0].ok, true)
    assert.equal(last.results[0].mutations, 0, 'converged: nothing left to do')
    assert.equal(mine().sandboxes.length, 1, 'one sandbox, adopted')
    assert.deepEqual(mine().containers.map((c) => c.state), [1], 'one container, running')
  })

  it('a pod waiting out its grace period holds up no other pod, and all pods stop side by side', async () => {
    // Three pods whose PID 1 ignores SIGTERM (grace 2 s) are removed while a new pod is created, with
    // one runtime slot: the new pod starts, and every stop is in flight at once, before any stop ends.
    const text = (name: string) => `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: slow}\nspec:\n  terminationGracePeriodSeconds: 2\n  containers: [{name: main, image: registry.test/app:1.0, command: [sleep, "3600"]}]\n`
    const st = desiredStateFromTexts([{file: 'slow.yaml', text: ['s1', 's2', 's3'].map(text).join('---\n')}], {source: () => 'apply'})
    await reconcilePass(st.pods, opts(st))
    fake.ignoresSigterm = (c) => c.config.labels['io.kubernetes.pod.namespace'] === 'slow'
    fake.resetCalls()
    const fresh = desiredStateFromTexts([{file: 'new.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: fresh, namespace: slow}\nspec:\n  containers: [{name: main, image: registry.test/app:1.0}]\n'}], {source: () => 'apply'})
    const res = await reconcilePass(fresh.pods, {...opts(fresh), parallel: 1, prune: (a) => a.namespace === 'slow'})
    assert.ok(res.results.every((r) => r.ok), JSON.stringify(res.results))
    const stops = fake.callsOf('StopContainer')
    const started = fake.callsOf('StartContainer')
    const firstStopEnded = Math.min(...fake.callsOf('StopPodSandbox').map((c) => c.at))
    assert.equal(stops.length, 3)
    assert.ok(stops.every((c) => c.at < firstStopEnded), 'every StopContainer was made before any pod got past its grace period')
    assert.equal(started.length, 1)
    assert.ok(started[0].at < firstStopEnded, 'the new pod started while the others waited out their grace period')
    fake.ignoresSigterm = () => false
  })

  it('a pod whose image is missing fails alone, with the reason', async () => {
    fake.markImageMissing('registry.test/missing:1')
    const st = pods({name: 'b', image: 'registry.test/app:1.0'}, {name: 'c', image: 'registry.test/missing:1'})
    const res = await reconcilePass(st.pods, opts(st))
    const byName = Object.fromEntries(res.results.map((r) => [r.name, r]))
    assert.equal(byName.b.ok, true)
    assert.equal(byName.c.ok, false)
    assert.equal(byName.c.reason, 'ErrImagePull')
    assert.match(byName.c.error ?? '', /registry\.test\/missing:1/)
  })

  it('runtimeClassName is the runtime handler of the sandbox', async () => {
    const st = desiredStateFromTexts([{file: 'rc.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: rc}\nspec:\n  runtimeClassName: kata\n  containers: [{name: main, image: registry.test/app:1.0}]\n'}], {source: () => 'apply'})
    fake.resetCalls()
    await reconcilePass(st.pods, opts(st))
    assert.deepEqual(fake.callsOf('RunPodSandbox').map((c) => (c.request as {runtimeHandler: string}).runtimeHandler), ['kata'])
  })

  it('a non-transient error is not retried within the pass', async () => {
    const st = pods({name: 'd', image: 'registry.test/app:1.0'})
    fake.resetCalls()
    fake.fail('CreateContainer', {code: status.INVALID_ARGUMENT, times: 1, message: 'bad config'})
    const res = await reconcilePass(st.pods, opts(st))
    assert.equal(res.results[0].ok, false)
    assert.equal(fake.callsOf('CreateContainer').length, 1)
    // The next pass finishes the job in the sandbox already made.
    const again = await reconcilePass(st.pods, opts(st))
    assert.equal(again.results[0].ok, true)
    assert.equal(fake.callsOf('RunPodSandbox').length, 1)
  })

  it('a second pass over converged pods makes no mutating call', async () => {
    const st = pods({name: 'a', image: 'registry.test/app:1.0'}, {name: 'b', image: 'registry.test/app:1.0'}, {name: 'd', image: 'registry.test/app:1.0'})
    fake.resetCalls()
    const res = await reconcilePass(st.pods, opts(st))
    assert.ok(res.results.every((r) => r.ok && r.mutations === 0))
    const mutating = [...MUTATING].flatMap((m) => fake.callsOf(m))
    assert.deepEqual(mutating, [])
  })
})
