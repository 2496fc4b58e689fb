// The engine (observe -> plan -> execute) against the in-process fake runtime, where faults can be
// injected: transient errors are retried, one pod's failure never blocks the others, a second
// pass over converged pods makes no mutating call.
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

  it('retries transient errors and converges', async () => {
    const st = pods({name: 'a', image: 'registry.test/app:1.0'})
    fake.fail('RunPodSandbox', {code: status.UNAVAILABLE, times: 2})
    const res = await reconcilePass(st.pods, opts(st))
    assert.deepEqual(res.results.map((r) => [r.name, r.ok]), [['a', true]])
    assert.equal(fake.callsOf('RunPodSandbox').length, 3)
    assert.equal(fake.containers().filter((c) => c.state === 1).length, 1)
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
