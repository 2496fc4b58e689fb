// The CRI client against the in-process fake runtime: version check, deadlines, error mapping,
// int64 timestamps, filters, and the container lifecycle as podrun drives it.
import assert from 'node:assert/strict'
import {status} from '@grpc/grpc-js'
import {after, afterEach, before, describe, it} from 'node:test'
import {type CriClient, connectCri} from '../../src/cri/client.js'
import {CriError, isCriError, isNotFound, isTransient, isUnimplemented} from '../../src/cri/errors.js'
import {ContainerEventType, ContainerState, PodSandboxState} from '../../src/cri/types.js'
import type {ContainerEventResponse, PodSandboxConfig} from '../../src/cri/types.js'
import {ExitCode, PodrunError} from '../../src/lib/errors.js'
import {FakeCri} from '../support/fake-cri.js'

const BUSYBOX = '127.0.0.1:5055/podrun/busybox:1.35'

function sandboxConfig(name: string, labels: Record<string, string> = {}): PodSandboxConfig {
  return {
    metadata: {name, namespace: 'default', uid: `uid-${name}`, attempt: 0},
    hostname: name,
    logDirectory: `/var/log/pods/default_${name}`,
    portMappings: [],
    labels: {'io.kubernetes.pod.name': name, ...labels},
    annotations: {},
  }
}

async function rejectsWith(p: Promise<unknown>, check: (e: CriError) => void): Promise<CriError> {
  try {
    await p
  } catch (err) {
    assert.ok(isCriError(err), `expected a CriError, got ${String(err)}`)
    check(err)
    return err
  }
  assert.fail('expected the call to fail')
}

describe('connectCri', () => {
  it('checks Version once and keeps the runtime name and versions', async () => {
    const fake = await FakeCri.start({version: {runtimeName: 'containerd', runtimeVersion: 'v1.6.20'}})
    try {
      const cri = await connectCri({endpoint: fake.endpoint})
      assert.equal(cri.endpoint, fake.endpoint)
      assert.equal(cri.runtimeName, 'containerd')
      assert.equal(cri.runtimeVersion, 'v1.6.20')
      assert.equal(cri.runtimeApiVersion, 'v1')
      assert.equal(fake.callsOf('Version').length, 1)
      assert.deepEqual(fake.callsOf('Version')[0].request, {version: '0.1.0'})
      cri.close()
    } finally {
      await fake.close()
    }
  })

  it('accepts a bare socket path', async () => {
    const fake = await FakeCri.start()
    try {
      const cri = await connectCri({endpoint: fake.socketPath})
      assert.equal(cri.endpoint, fake.endpoint)
      cri.close()
    } finally {
      await fake.close()
    }
  })

  it('refuses a runtime that speaks v1alpha2', async () => {
    const fake = await FakeCri.start({version: {runtimeName: 'containerd', runtimeVersion: 'v1.5.18', runtimeApiVersion: 'v1alpha2'}})
    try {
      await assert.rejects(connectCri({endpoint: fake.endpoint}), (err: unknown) => {
        assert.ok(err instanceof PodrunError)
        assert.equal(
          err.message,
          `the runtime at ${fake.socketPath} (containerd v1.5.18) speaks CRI v1alpha2; podrun needs CRI v1`,
        )
        assert.equal(err.exitCode, ExitCode.runtime)
        assert.equal(err.reason, 'RuntimeUnsupported')
        assert.match(err.suggestions.join(' '), /containerd 1\.6/)
        return true
      })
    } finally {
      await fake.close()
    }
  })

  it('says a runtime without CRI v1 does not implement it', async () => {
    const fake = await FakeCri.start()
    fake.fail('Version', {code: status.UNIMPLEMENTED, message: 'unknown service runtime.v1.RuntimeService'})
    try {
      await rejectsWith(connectCri({endpoint: fake.endpoint}), (e) => {
        assert.equal(e.message, `the runtime at ${fake.socketPath} does not implement CRI v1 (runtime.v1.RuntimeService/Version)`)
        assert.equal(e.grpcCode, status.UNIMPLEMENTED)
      })
    } finally {
      await fake.close()
    }
  })

  it('names the path when nothing listens there', async () => {
    await rejectsWith(connectCri({endpoint: 'unix:///nonexistent/podrun-test.sock', timeoutMs: 2000}), (e) => {
      assert.equal(e.message, 'cannot reach the container runtime at /nonexistent/podrun-test.sock: nothing is listening there (no such socket)')
      assert.equal(e.exitCode, ExitCode.runtime)
      assert.equal(e.reason, 'RuntimeUnavailable')
      assert.equal(e.grpcCode, status.UNAVAILABLE)
      assert.equal(isTransient(e), true)
    })
  })

  it('reports a bad endpoint before dialing', async () => {
    await assert.rejects(connectCri({endpoint: 'http://127.0.0.1:1'}), /invalid runtime endpoint "http:\/\/127.0.0.1:1"/)
  })
})

describe('CriClient against the fake runtime', () => {
  let fake: FakeCri
  let cri: CriClient
  const calls: [string, string][] = []

  before(async () => {
    fake = await FakeCri.start({images: ['podrun.local/pause:1']})
    cri = await connectCri({endpoint: fake.endpoint, timeoutMs: 2000, onCall: (m, code) => calls.push([m, code])})
  })
  after(async () => {
    cri.close()
    await fake.close()
  })
  afterEach(() => {
    fake.clearFaults()
  })

  it('reports each call to onCall with its gRPC code', async () => {
    calls.length = 0
    await cri.version()
    fake.fail('Status', {code: status.INTERNAL, times: 1})
    await assert.rejects(cri.status())
    assert.deepEqual(calls, [
      ['Version', 'OK'],
      ['Status', 'INTERNAL'],
    ])
  })

  it('times out a slow call with the method and the deadline in the message', async () => {
    const quick = await connectCri({endpoint: fake.endpoint, timeoutMs: 150})
    try {
      fake.delay('ListPodSandbox', 600)
      const started = Date.now()
      await rejectsWith(quick.listPodSandbox(), (e) => {
        assert.equal(e.message, `runtime.v1.RuntimeService/ListPodSandbox did not answer within 150ms (runtime at ${fake.socketPath})`)
        assert.equal(e.grpcCode, status.DEADLINE_EXCEEDED)
        assert.equal(e.reason, 'RuntimeTimeout')
        assert.match(e.suggestions.join(' '), /--timeout/)
        assert.equal(isTransient(e), true)
      })
      assert.ok(Date.now() - started < 550, 'the deadline, not the delay, ended the call')
      fake.delay('ListPodSandbox', 0)
      assert.deepEqual(await quick.listPodSandbox({labelSelector: {none: 'such'}}), [])
    } finally {
      quick.close()
    }
  })

  it('gives pulls their own, longer deadline', async () => {
    const quick = await connectCri({endpoint: fake.endpoint, timeoutMs: 100, pullTimeoutMs: 3000})
    try {
      assert.equal(quick.pullTimeoutMs, 3000)
      fake.delay('PullImage', 300)
      assert.match(await quick.pullImage('podrun.local/slow:1'), /^sha256:[0-9a-f]{64}$/)
      fake.delay('ImageStatus', 300)
      await rejectsWith(quick.imageStatus('podrun.local/slow:1'), (e) => assert.equal(e.grpcCode, status.DEADLINE_EXCEEDED))
    } finally {
      quick.close()
    }
    const c = await connectCri({endpoint: fake.endpoint, timeoutMs: 200_000})
    assert.equal(c.pullTimeoutMs, 200_000, 'never shorter than the call timeout')
    c.close()
    const d = await connectCri({endpoint: fake.endpoint})
    assert.equal(d.timeoutMs, 10_000)
    assert.equal(d.pullTimeoutMs, 120_000)
    d.close()
  })

  it('surfaces injected faults as mapped errors, and recovers after them', async () => {
    fake.fail('RunPodSandbox', {code: status.UNAVAILABLE, times: 1, message: 'Connection dropped'})
    await rejectsWith(cri.runPodSandbox(sandboxConfig('flaky')), (e) => {
      assert.equal(e.message, `the container runtime at ${fake.socketPath} became unavailable during RunPodSandbox: Connection dropped`)
      assert.equal(e.grpcCode, status.UNAVAILABLE)
      assert.equal(e.method, 'runtime.v1.RuntimeService/RunPodSandbox')
      assert.equal(isTransient(e), true)
    })
    const id = await cri.runPodSandbox(sandboxConfig('flaky'))
    assert.match(id, /^[0-9a-f]{64}$/)
    assert.equal(fake.callsOf('RunPodSandbox').length, 2)
    await cri.removePodSandbox(id)
  })

  it('fails by probability when asked', async () => {
    fake.fail('ListContainers', {code: status.UNAVAILABLE, probability: 1})
    await rejectsWith(cri.listContainers(), (e) => assert.equal(e.grpcCode, status.UNAVAILABLE))
    fake.fail('ListContainers', {code: status.UNAVAILABLE, probability: 0})
    assert.ok(Array.isArray(await cri.listContainers()))
    fake.fail('ListContainers', {code: status.UNAVAILABLE, probability: 0.5})
    let failures = 0
    for (let i = 0; i < 40; i++) await cri.listContainers().catch(() => failures++)
    assert.ok(failures > 5 && failures < 35, `about half of 40 calls failed (${failures})`)
  })

  it('maps NOT_FOUND of a pull to "image not found" naming the reference', async () => {
    fake.markImageMissing('127.0.0.1:5055/podrun/nope:1')
    await rejectsWith(cri.pullImage('127.0.0.1:5055/podrun/nope:1'), (e) => {
      assert.match(e.message, /^image not found: 127\.0\.0\.1:5055\/podrun\/nope:1 \(/)
      assert.equal(e.reason, 'ImageNotFound')
      assert.equal(isNotFound(e), true)
      assert.equal(isTransient(e), false)
    })
  })

  it('pulls, lists and removes images', async () => {
    assert.equal(await cri.imageStatus(BUSYBOX), undefined)
    const ref = await cri.pullImage(BUSYBOX, {username: 'u', password: 'p'})
    const img = await cri.imageStatus(BUSYBOX)
    assert.ok(img)
    assert.equal(img.id, ref)
    assert.deepEqual(img.repoTags, [BUSYBOX])
    assert.equal(typeof img.size, 'bigint')
    assert.deepEqual((await cri.imageStatus(ref))?.id, ref, 'by id too')
    assert.deepEqual((await cri.listImages(BUSYBOX)).map((i) => i.id), [ref])
    assert.ok((await cri.listImages()).length >= 2)
    const pull = fake.callsOf('PullImage').at(-1)?.request as {auth?: {username: string}}
    assert.equal(pull.auth?.username, 'u')
    const fs = await cri.imageFsInfo()
    assert.equal(fs.imageFilesystems.length, 1)
    assert.equal(typeof fs.imageFilesystems[0].usedBytes?.value, 'bigint')
    await cri.removeImage(BUSYBOX)
    assert.equal(await cri.imageStatus(BUSYBOX), undefined)
    await cri.removeImage(BUSYBOX) // removing twice is fine
  })

  it('keeps int64 nanosecond timestamps exact (bigint, beyond 2^53)', async () => {
    const t0 = 1_795_991_570_150_123_457n
    let tick = 0n
    const clocked = await FakeCri.start({images: [BUSYBOX], clock: () => t0 + 1000n * tick++})
    const c = await connectCri({endpoint: clocked.endpoint})
    try {
      const sb = await c.runPodSandbox(sandboxConfig('clock'))
      const [listed] = await c.listPodSandbox({id: sb})
      assert.equal(listed.createdAt, t0)
      assert.ok(listed.createdAt > BigInt(Number.MAX_SAFE_INTEGER))
      assert.notEqual(BigInt(Number(listed.createdAt)), listed.createdAt, 'a number would have lost digits')
      assert.equal((await c.podSandboxStatus(sb)).status?.createdAt, t0)
      const id = await c.createContainer(sb, {metadata: {name: 'app'}, image: {image: BUSYBOX}}, sandboxConfig('clock'))
      await c.startContainer(id)
      const [stored] = clocked.containers()
      const st = (await c.containerStatus(id)).status
      const [row] = await c.listContainers({id})
      assert.ok(stored.createdAt > t0 && stored.startedAt > stored.createdAt)
      assert.equal(st?.createdAt, stored.createdAt)
      assert.equal(row.createdAt, stored.createdAt)
      assert.equal(st?.startedAt, stored.startedAt)
      assert.equal(st?.finishedAt, 0n)
    } finally {
      c.close()
      await clocked.close()
    }
  })

  it('runs a pod: sandbox, container, exec, stop, remove', async () => {
    await cri.pullImage(BUSYBOX)
    const sbConfig = sandboxConfig('web', {app: 'web'})
    const sb = await cri.runPodSandbox(sbConfig)
    const sbStatus = await cri.podSandboxStatus(sb, true)
    assert.equal(sbStatus.status?.state, PodSandboxState.SANDBOX_READY)
    assert.match(sbStatus.status?.network?.ip ?? '', /^10\.88\.0\.\d+$/)
    assert.ok(sbStatus.info.info, 'verbose info')

    const id = await cri.createContainer(
      sb,
      {
        metadata: {name: 'app', attempt: 0},
        image: {image: BUSYBOX},
        command: ['sleep', '3600'],
        envs: [{key: 'GREETING', value: Buffer.from('héllo')}],
        labels: {'io.kubernetes.container.name': 'app', app: 'web'},
        logPath: 'app/0.log',
      },
      sbConfig,
    )
    let [c] = await cri.listContainers({id})
    assert.equal(c.state, ContainerState.CONTAINER_CREATED)
    assert.equal(c.podSandboxId, sb)
    const created = fake.callsOf('CreateContainer').at(-1)?.request as {config: {envs: {value: Buffer}[]}}
    assert.equal(created.config.envs[0].value.toString('utf8'), 'héllo')

    await cri.startContainer(id)
    ;[c] = await cri.listContainers({podSandboxId: sb})
    assert.equal(c.state, ContainerState.CONTAINER_RUNNING)

    const out = await cri.execSync(id, ['echo', 'hello'], 5)
    assert.ok(Buffer.isBuffer(out.stdout))
    assert.equal(out.stdout.toString(), 'hello\n')
    assert.equal(out.exitCode, 0)
    fake.onExec((_id, cmd) => (cmd[0] === 'false' ? {stderr: 'nope', exitCode: 1} : undefined))
    const failed = await cri.execSync(id, ['false'], 0)
    assert.deepEqual([failed.stderr.toString(), failed.exitCode], ['nope', 1])
    fake.onExec(undefined)
    const exec = fake.callsOf('ExecSync').at(-1)?.request as {timeout: bigint}
    assert.equal(exec.timeout, 0n)

    const stats = await cri.containerStats(id)
    assert.equal(stats?.attributes?.id, id)
    assert.equal((await cri.listContainerStats({podSandboxId: sb})).length, 1)
    await cri.reopenContainerLog(id)
    const cs = (await cri.containerStatus(id)).status
    assert.equal(cs?.logPath, '/var/log/pods/default_web/app/0.log')

    await cri.stopContainer(id, 30)
    assert.equal((fake.callsOf('StopContainer').at(-1)?.request as {timeout: bigint}).timeout, 30n)
    const stopped = (await cri.containerStatus(id)).status
    assert.equal(stopped?.state, ContainerState.CONTAINER_EXITED)
    assert.equal(stopped?.exitCode, 143, 'a program that honours SIGTERM dies of it (128 + 15)')
    assert.ok((stopped?.finishedAt ?? 0n) > 0n)
    await rejectsWith(cri.reopenContainerLog(id), (e) => assert.equal(e.grpcCode, status.FAILED_PRECONDITION))

    await cri.stopPodSandbox(sb)
    assert.equal((await cri.podSandboxStatus(sb)).status?.state, PodSandboxState.SANDBOX_NOTREADY)
    await cri.removePodSandbox(sb)
    assert.deepEqual(await cri.listPodSandbox({labelSelector: {app: 'web'}}), [])
    assert.deepEqual(await cri.listContainers({labelSelector: {app: 'web'}}), [], 'the sandbox took its containers')
    await cri.removePodSandbox(sb) // idempotent, as in containerd
    await cri.removeContainer(id)
    await rejectsWith(cri.podSandboxStatus(sb), (e) => {
      assert.equal(isNotFound(e), true)
      assert.equal(e.reason, 'NotFound')
    })
  })

  it('filters lists by labels, state, id prefix and sandbox', async () => {
    await cri.pullImage(BUSYBOX)
    const a = await cri.runPodSandbox(sandboxConfig('fa', {team: 'x', tier: 'web'}))
    const b = await cri.runPodSandbox(sandboxConfig('fb', {team: 'x', tier: 'db'}))
    const c = await cri.runPodSandbox(sandboxConfig('fc', {team: 'y'}))
    await cri.stopPodSandbox(c)
    const ids = (xs: {id: string}[]): string[] => xs.map((x) => x.id).sort()

    assert.deepEqual(ids(await cri.listPodSandbox({labelSelector: {team: 'x'}})), [a, b].sort())
    assert.deepEqual(ids(await cri.listPodSandbox({labelSelector: {team: 'x', tier: 'db'}})), [b])
    assert.deepEqual(ids(await cri.listPodSandbox({labelSelector: {team: 'y'}, state: {state: PodSandboxState.SANDBOX_READY}})), [])
    assert.deepEqual(ids(await cri.listPodSandbox({labelSelector: {team: 'y'}, state: {state: PodSandboxState.SANDBOX_NOTREADY}})), [c])
    assert.deepEqual(ids(await cri.listPodSandbox({id: a.slice(0, 12)})), [a])

    const ca = await cri.createContainer(a, {metadata: {name: 'one'}, image: {image: BUSYBOX}, labels: {team: 'x', n: '1'}}, {})
    const cb = await cri.createContainer(b, {metadata: {name: 'two'}, image: {image: BUSYBOX}, labels: {team: 'x', n: '2'}}, {})
    await cri.startContainer(cb)
    assert.deepEqual(ids(await cri.listContainers({labelSelector: {team: 'x'}})), [ca, cb].sort())
    assert.deepEqual(ids(await cri.listContainers({labelSelector: {n: '2'}})), [cb])
    assert.deepEqual(ids(await cri.listContainers({podSandboxId: a})), [ca])
    assert.deepEqual(ids(await cri.listContainers({labelSelector: {team: 'x'}, state: {state: ContainerState.CONTAINER_RUNNING}})), [cb])
    assert.deepEqual(ids(await cri.listContainers({id: ca.slice(0, 10)})), [ca])
    assert.deepEqual(ids((await cri.listContainerStats({labelSelector: {team: 'x'}})).map((s) => ({id: s.attributes?.id ?? ''}))), [ca, cb].sort())

    for (const s of [a, b, c]) await cri.removePodSandbox(s)
    assert.deepEqual(await cri.listContainers({labelSelector: {team: 'x'}}), [])
  })

  it('shows a crashed container as exited with its exit code', async () => {
    await cri.pullImage(BUSYBOX)
    const sb = await cri.runPodSandbox(sandboxConfig('crash'))
    const id = await cri.createContainer(sb, {metadata: {name: 'app'}, image: {image: BUSYBOX}}, {})
    await cri.startContainer(id)
    fake.exitContainer(id, 3)
    const st = (await cri.containerStatus(id)).status
    assert.equal(st?.state, ContainerState.CONTAINER_EXITED)
    assert.equal(st?.exitCode, 3)
    assert.equal(st?.reason, 'Error')
    await rejectsWith(cri.startContainer(id), (e) => assert.match(e.message, /container is in CONTAINER_EXITED state/))
    await rejectsWith(cri.execSync(id, ['true'], 1), (e) => assert.match(e.message, /container is in CONTAINER_EXITED state/))
    await cri.removePodSandbox(sb)
  })

  it('refuses what containerd refuses: missing images, name clashes, unknown ids', async () => {
    const sb = await cri.runPodSandbox(sandboxConfig('refuse'))
    await rejectsWith(cri.runPodSandbox(sandboxConfig('refuse')), (e) => assert.match(e.message, /name is reserved/))
    await rejectsWith(cri.createContainer(sb, {metadata: {name: 'x'}, image: {image: 'podrun.local/absent:1'}}, {}), (e) =>
      assert.equal(isNotFound(e), true),
    )
    await rejectsWith(cri.containerStatus('0123456789ab'), (e) => {
      assert.equal(e.reason, 'NotFound')
      assert.match(e.message, /^ContainerStatus: not found: /)
    })
    await rejectsWith(cri.stopPodSandbox('feedbeef'), (e) => assert.equal(isNotFound(e), true))
    await cri.removeContainer('feedbeef')
    await cri.removePodSandbox(sb)
  })

  it('reads runtime conditions from Status', async () => {
    let s = await cri.status()
    assert.deepEqual(
      s.status?.conditions.map((c) => [c.type, c.status]),
      [
        ['RuntimeReady', true],
        ['NetworkReady', true],
      ],
    )
    fake.setCondition('NetworkReady', false, 'NetworkPluginNotReady', 'cni plugin not initialized')
    s = await cri.status(true)
    assert.deepEqual(s.status?.conditions[1], {type: 'NetworkReady', status: false, reason: 'NetworkPluginNotReady', message: 'cni plugin not initialized'})
    assert.ok(s.info.config)
    fake.setCondition('NetworkReady', true)
  })

  it('ends the event stream with UNIMPLEMENTED where the runtime has none (containerd 1.6)', async () => {
    const err = await new Promise<CriError | undefined>((resolve) => {
      cri.getContainerEvents(() => assert.fail('no events expected'), resolve)
    })
    assert.ok(err)
    assert.equal(isUnimplemented(err), true)
    assert.equal(err.message, `the runtime at ${fake.socketPath} does not offer GetContainerEvents (runtime.v1.RuntimeService/GetContainerEvents)`)
  })

  it('streams container events where the runtime has them, until cancelled', async () => {
    fake.events = true
    try {
      const events: ContainerEventResponse[] = []
      let ended: {err?: CriError} | undefined
      const cancel = cri.getContainerEvents(
        (e) => events.push(e),
        (err) => (ended = {err}),
      )
      // Wait until the stream is open on the server.
      for (let i = 0; i < 200 && fake.eventSubscribers === 0; i++) await new Promise((r) => setTimeout(r, 10))
      assert.equal(fake.eventSubscribers, 1)
      await cri.pullImage(BUSYBOX)
      const sb = await cri.runPodSandbox(sandboxConfig('events'))
      const id = await cri.createContainer(sb, {metadata: {name: 'app'}, image: {image: BUSYBOX}}, {})
      await cri.startContainer(id)
      for (let i = 0; i < 100 && events.length < 2; i++) await new Promise((r) => setTimeout(r, 10))
      assert.deepEqual(
        events.map((e) => [e.containerId, e.containerEventType]),
        [
          [id, ContainerEventType.CONTAINER_CREATED_EVENT],
          [id, ContainerEventType.CONTAINER_STARTED_EVENT],
        ],
      )
      assert.equal(typeof events[0].createdAt, 'bigint')
      cancel()
      for (let i = 0; i < 100 && !ended; i++) await new Promise((r) => setTimeout(r, 10))
      assert.deepEqual(ended, {err: undefined})
      for (let i = 0; i < 100 && fake.eventSubscribers > 0; i++) await new Promise((r) => setTimeout(r, 10))
      assert.equal(fake.eventSubscribers, 0, 'the server saw the cancel')
      await cri.removePodSandbox(sb)
    } finally {
      fake.events = false
    }
  })
})
