// The fake runtime itself: the behaviour other tests rely on.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {dirname} from 'node:path'
import {status} from '@grpc/grpc-js'
import {describe, it} from 'node:test'
import {connectCri} from '../../src/cri/client.js'
import {FakeCri, normalizeImageRef} from '../support/fake-cri.js'

describe('fake CRI runtime', () => {
  const refs: [string, string][] = [
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.35', 'docker.io/library/busybox:1.35'],
    ['library/busybox:1.35', 'docker.io/library/busybox:1.35'],
    ['someone/app', 'docker.io/someone/app:latest'],
    ['127.0.0.1:5055/podrun/busybox:1.35', '127.0.0.1:5055/podrun/busybox:1.35'],
    ['localhost/app', 'localhost/app:latest'],
    ['podrun.local/pause:1', 'podrun.local/pause:1'],
  ]
  for (const [ref, tagged] of refs) {
    it(`normalises ${ref} as containerd does`, () => assert.equal(normalizeImageRef(ref).tagged, tagged))
  }

  it('counts down `times` faults, records every call, and cleans up its socket folder', async () => {
    const fake = await FakeCri.start()
    const cri = await connectCri({endpoint: fake.endpoint})
    fake.fail('Status', {code: status.RESOURCE_EXHAUSTED, times: 2})
    await assert.rejects(cri.status())
    await assert.rejects(cri.status())
    await cri.status()
    assert.deepEqual(
      fake.calls.map((c) => c.method),
      ['Version', 'Status', 'Status', 'Status'],
    )
    fake.resetCalls()
    assert.equal(fake.calls.length, 0)
    cri.close()
    await fake.close()
    assert.equal(existsSync(dirname(fake.socketPath)), false)
  })

  it('answers images by tag, digest and id', async () => {
    const fake = await FakeCri.start({images: ['busybox:1.35']})
    const cri = await connectCri({endpoint: fake.endpoint})
    try {
      const [img] = fake.images()
      assert.equal((await cri.imageStatus('busybox:1.35'))?.id, img.id)
      assert.equal((await cri.imageStatus('docker.io/library/busybox:1.35'))?.id, img.id)
      assert.equal((await cri.imageStatus(img.repoDigests[0]))?.id, img.id)
      assert.equal((await cri.imageStatus(img.id))?.id, img.id)
      assert.equal(await cri.imageStatus('busybox:1.36'), undefined)
    } finally {
      cri.close()
      await fake.close()
    }
  })

  it('lets a container be made to exit, and a sandbox to die', async () => {
    const fake = await FakeCri.start({images: ['busybox']})
    const cri = await connectCri({endpoint: fake.endpoint})
    try {
      const sb = await cri.runPodSandbox({metadata: {name: 'p', namespace: 'n', uid: 'u'}})
      const id = await cri.createContainer(sb, {metadata: {name: 'c'}, image: {image: 'busybox'}}, {})
      await cri.startContainer(id)
      fake.exitContainer(id, 0)
      const st = (await cri.containerStatus(id)).status
      assert.deepEqual([st?.exitCode, st?.reason], [0, 'Completed'])
      fake.killSandbox(sb)
      const [row] = await cri.listPodSandbox({id: sb})
      assert.equal(row.state, 1)
      await assert.rejects(cri.createContainer(sb, {metadata: {name: 'd'}, image: {image: 'busybox'}}, {}), /not in ready state/)
    } finally {
      cri.close()
      await fake.close()
    }
  })
})
