// The cheap relist: what it compares, its calls against the fake runtime (a grpc-js server), and
// what it reports when the runtime is away.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {status as grpcStatus} from '@grpc/grpc-js'
import {isTransient} from '../../src/cri/errors.js'
import {connectCri, CriClient} from '../../src/cri/client.js'
import {resolveEndpoint} from '../../src/cri/endpoint.js'
import {fullStateOfPods, Relister, sameState, stateOfPods} from '../../src/daemon/relist.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {reconcilePass} from '../../src/reconcile/engine.js'
import {observe} from '../../src/reconcile/observe.js'
import {ContainerState} from '../../src/gen/runtime/v1/api.js'
import type {ActualPod} from '../../src/model/actual.js'
import {FakeCri} from '../support/fake-cri.js'

const SRC = 'podrun.io/source'
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-relist-'))
process.env.PODRUN_ROOT = path.join(work, 'root')
process.env.PODRUN_LOG_ROOT = path.join(work, 'logs')
process.env.PODRUN_CGROUP_ROOT = `/podrun-unit-${process.pid}`
after(() => fs.rmSync(work, {recursive: true, force: true}))

describe('relist state', () => {
  it('compares what a full pass saw with what a relist sees: exited containers', () => {
    const pod = (state: 'RUNNING' | 'EXITED', sbState: 'READY' | 'NOTREADY', source = '/m/web.yaml'): ActualPod => ({
      key: 'default/web',
      name: 'web',
      namespace: 'default',
      source,
      sandboxes: [{id: 's1', state: sbState, createdAt: 1n, attempt: 0, uid: 'u', labels: {[SRC]: source}, annotations: {}, sandboxHash: 'h'}],
      containers: [{id: 'c1', podSandboxId: 's1', name: 'main', attempt: 0, state, createdAt: 1n, image: '', imageRef: '', labels: {[SRC]: source}, annotations: {}, hash: 'h'}],
    })
    const mine = (s: string) => s.startsWith('/m/')
    assert.deepEqual([...stateOfPods([pod('RUNNING', 'READY')], mine)], [])
    assert.deepEqual([...stateOfPods([pod('EXITED', 'NOTREADY')], mine)], ['cc1'])
    assert.deepEqual([...stateOfPods([pod('EXITED', 'READY', 'apply')], mine)], [])
    assert.ok(sameState(new Set(['cc1']), new Set(['cc1'])))
    assert.ok(!sameState(new Set(['cc1']), new Set(['cc2'])))
    assert.ok(!sameState(undefined, new Set()))
  })
})

describe('relist against the fake runtime', () => {
  let fake: FakeCri
  before(async () => {
    fake = await FakeCri.start({images: ['busybox']})
  })
  after(() => fake.close())

  it('asks only for exited containers, in one call, and reports it', async () => {
    const calls: string[] = []
    const cri = await connectCri({endpoint: fake.endpoint, onCall: (m, code) => calls.push(`${m} ${code}`)})
    calls.length = 0
    const r = new Relister(cri)
    try {
      assert.deepEqual([...(await r.state())], [])
      const req = fake.callsOf('ListContainers')[0].request as {filter: {state: {state: number}; labelSelector: Record<string, string>}}
      assert.equal(req.filter.state.state, ContainerState.CONTAINER_EXITED)
      assert.deepEqual(req.filter.labelSelector, {'podrun.io/managed-by': 'podrun'})
      assert.equal(fake.callsOf('ListPodSandbox').length, 0)
      assert.deepEqual(calls, ['ListContainers OK'])
      await r.state()
      await r.state()
      assert.equal(fake.callsOf('ListContainers').length, 3)
    } finally {
      cri.close()
    }
  })

  it('the resync\'s list of everything matches what a full pass computes from observe()', async () => {
    const cri = await connectCri({endpoint: fake.endpoint})
    const r = new Relister(cri)
    try {
      const state = desiredStateFromTexts([{file: 'a.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec:\n  containers: [{name: main, image: busybox}]\n'}], {source: () => 'apply'})
      await reconcilePass(state.pods, {cri, host: {dns: {servers: [], searches: [], options: []}, nodeName: 'n', hostIP: '127.0.0.1'}, data: () => undefined, parallel: 1, prune: () => false})
      fake.exitContainer(fake.containers()[0].id, 1)
      const all = await r.all()
      assert.equal(all.size, 2)
      assert.ok(sameState(fullStateOfPods(await observe(cri)), all))
    } finally {
      cri.close()
    }
  })

  it('a runtime error is a CriError with its gRPC code and message', async () => {
    const cri = await connectCri({endpoint: fake.endpoint})
    const r = new Relister(cri)
    try {
      const before = fake.callsOf('ListContainers').length
      fake.fail('ListContainers', {code: grpcStatus.UNAVAILABLE, times: 1, message: 'going away'})
      await assert.rejects(r.state(), (e: unknown) => isTransient(e) && /going away/.test((e as Error).message))
      fake.fail('ListContainers', {code: grpcStatus.INTERNAL, times: 1, message: 'boom'})
      await assert.rejects(r.state(), (e: unknown) => !isTransient(e) && /boom/.test((e as Error).message))
      assert.equal(fake.callsOf('ListContainers').length - before, 2, 'one call each, not retried')
      assert.ok(await r.state())
    } finally {
      cri.close()
    }
  })

  it('no runtime at the socket: UNAVAILABLE (transient), quickly', async () => {
    const cri = new CriClient(resolveEndpoint('unix:///nonexistent/podrun-test.sock'), {timeoutMs: 2000})
    const r = new Relister(cri)
    try {
      const t0 = Date.now()
      await assert.rejects(r.state(), (e: unknown) => isTransient(e) && /nothing is listening|ENOENT/.test((e as Error).message))
      assert.ok(Date.now() - t0 < 1000)
    } finally {
      cri.close()
    }
  })
})
