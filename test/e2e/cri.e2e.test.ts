// The CRI client against a real containerd: version, status, pull from the local registry, a pod
// with one busybox container, exec, and a clean teardown.
//
// Needs the runtime harness: `eval "$(bash scripts/runtime.sh env)"` (or the KEY=value lines
// that `bash scripts/runtime.sh up` prints) sets CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE.
import assert from 'node:assert/strict'
import {randomBytes} from 'node:crypto'
import {after, before, describe, it} from 'node:test'
import {type CriClient, connectCri} from '../../src/cri/client.js'
import {isCriError} from '../../src/cri/errors.js'
import {ContainerState, PodSandboxState} from '../../src/cri/types.js'
import type {PodSandboxConfig} from '../../src/cri/types.js'

function required(name: string): string {
  const v = process.env[name]
  if (v === undefined || v.trim() === '') {
    throw new Error(`${name} is not set: start the test runtime with \`bash scripts/runtime.sh up\` and export the KEY=value lines it prints (or eval "$(bash scripts/runtime.sh env)")`)
  }
  return v
}

const run = randomBytes(4).toString('hex')
const LABELS = {'podrun.test/suite': 'cri-e2e', 'podrun.test/run': run}

describe('CRI client against a real containerd', {timeout: 180_000}, () => {
  let endpoint: string
  let image: string
  let cri: CriClient
  let sandboxConfig: PodSandboxConfig
  let sandboxId = ''
  let containerId = ''

  before(async () => {
    endpoint = required('CONTAINER_RUNTIME_ENDPOINT')
    image = required('PODRUN_TEST_IMAGE')
    cri = await connectCri({endpoint, timeoutMs: 30_000})
    const name = `cri-e2e-${run}`
    sandboxConfig = {
      metadata: {name, namespace: 'podrun-e2e', uid: `uid-${run}`, attempt: 0},
      hostname: name,
      logDirectory: '',
      portMappings: [],
      labels: {...LABELS, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.namespace': 'podrun-e2e'},
      annotations: {},
    }
  })

  after(async () => {
    if (!cri) return
    // Leave nothing behind, even when a test failed half-way.
    try {
      for (const c of await cri.listContainers({labelSelector: LABELS})) await cri.removeContainer(c.id).catch(() => {})
      for (const s of await cri.listPodSandbox({labelSelector: LABELS})) {
        await cri.stopPodSandbox(s.id).catch(() => {})
        await cri.removePodSandbox(s.id).catch(() => {})
      }
    } finally {
      cri.close()
    }
  })

  it('talks to containerd over CRI v1', async () => {
    assert.equal(cri.runtimeName, 'containerd')
    assert.equal(cri.runtimeApiVersion, 'v1')
    const v = await cri.version()
    assert.equal(v.runtimeApiVersion, 'v1')
    assert.match(v.runtimeVersion, /\d+\.\d+/)
  })

  it('reports the runtime and its network ready', async () => {
    const s = await cri.status()
    const cond = (type: string) => s.status?.conditions.find((c) => c.type === type)
    assert.equal(cond('RuntimeReady')?.status, true, JSON.stringify(cond('RuntimeReady')))
    assert.equal(cond('NetworkReady')?.status, true, JSON.stringify(cond('NetworkReady')))
  })

  it('pulls the test image from the local registry', async () => {
    const ref = await cri.pullImage(image)
    assert.match(ref, /^sha256:[0-9a-f]{64}$/)
    const img = await cri.imageStatus(image)
    assert.ok(img, `${image} is present after the pull`)
    assert.equal(img.id, ref)
    assert.ok(img.repoTags.includes(image), `repo tags ${img.repoTags.join(', ')} include ${image}`)
    assert.equal(typeof img.size, 'bigint')
  })

  it('says "image not found" for a tag the registry lacks', async () => {
    const missing = image.replace(/:[^:/]+$/, `:no-such-tag-${run}`)
    await assert.rejects(cri.pullImage(missing), (err: unknown) => {
      assert.ok(isCriError(err))
      assert.equal(err.reason, 'ImageNotFound')
      assert.ok(err.message.startsWith(`image not found: ${missing} (`), err.message)
      return true
    })
  })

  it('runs a sandbox and a busybox container in it', async () => {
    sandboxId = await cri.runPodSandbox(sandboxConfig)
    const sb = await cri.podSandboxStatus(sandboxId)
    assert.equal(sb.status?.state, PodSandboxState.SANDBOX_READY)
    assert.ok((sb.status?.createdAt ?? 0n) > BigInt(Number.MAX_SAFE_INTEGER), 'created_at is int64 nanoseconds')

    containerId = await cri.createContainer(
      sandboxId,
      {
        metadata: {name: 'sleeper', attempt: 0},
        image: {image},
        command: ['sleep', '3600'],
        envs: [{key: 'PODRUN_RUN', value: Buffer.from(run)}],
        labels: {...LABELS, 'io.kubernetes.container.name': 'sleeper'},
      },
      sandboxConfig,
    )
    await cri.startContainer(containerId)
    const st = (await cri.containerStatus(containerId)).status
    assert.equal(st?.state, ContainerState.CONTAINER_RUNNING)
    assert.ok((st?.startedAt ?? 0n) >= (st?.createdAt ?? 0n))
    const listed = await cri.listContainers({labelSelector: LABELS})
    assert.deepEqual(
      listed.map((c) => c.id),
      [containerId],
    )
  })

  it('execs in the container', async () => {
    const r = await cri.execSync(containerId, ['echo', 'hello'], 10)
    assert.equal(r.stdout.toString(), 'hello\n')
    assert.equal(r.stderr.toString(), '')
    assert.equal(r.exitCode, 0)
    const env = await cri.execSync(containerId, ['sh', '-c', 'echo "$PODRUN_RUN"; exit 3'], 10)
    assert.equal(env.stdout.toString(), `${run}\n`)
    assert.equal(env.exitCode, 3)
  })

  it('stops and removes everything it made', async () => {
    await cri.stopContainer(containerId, 2)
    const st = (await cri.containerStatus(containerId)).status
    assert.equal(st?.state, ContainerState.CONTAINER_EXITED)
    await cri.removeContainer(containerId)
    await cri.stopPodSandbox(sandboxId)
    assert.equal((await cri.podSandboxStatus(sandboxId)).status?.state, PodSandboxState.SANDBOX_NOTREADY)
    await cri.removePodSandbox(sandboxId)

    assert.deepEqual(await cri.listContainers({labelSelector: LABELS}), [])
    assert.deepEqual(await cri.listPodSandbox({labelSelector: LABELS}), [])
  })
})
