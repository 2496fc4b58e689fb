// The listing pod workers share: one in flight at a time, later askers share the next one.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {SharedListing} from '../../src/reconcile/listing.js'
import {FakeCri} from '../support/fake-cri.js'

describe('SharedListing', () => {
  let fake: FakeCri
  let cri: CriClient
  before(async () => {
    fake = await FakeCri.start({images: ['busybox:1.35']})
    cri = await connectCri({endpoint: fake.endpoint})
  })
  after(async () => {
    cri?.close()
    await fake?.close()
  })

  it('a burst of askers, each wanting a listing newer than its own moment, makes two listings, not one each', async () => {
    fake.delay('ListPodSandbox', 50)
    let clock = 0
    const seen: number[] = []
    const l = new SharedListing(cri, () => clock, (pods) => seen.push(pods.length))
    fake.resetCalls()
    const asks: Array<Promise<unknown>> = []
    for (let i = 0; i < 20; i++) {
      clock = i
      asks.push(l.newerThan(i))
    }
    await Promise.all(asks)
    assert.equal(fake.callsOf('ListPodSandbox').length, 2)
    assert.equal(seen.length, 2)
    // Already newer than asked: no call at all.
    await l.newerThan(5)
    assert.equal(fake.callsOf('ListPodSandbox').length, 2)
    fake.delay('ListPodSandbox', 0)
  })

  it('with a least gap, the next listing starts no sooner than the gap after the last one', async () => {
    const l = new SharedListing(cri, Date.now, undefined, 150)
    fake.resetCalls()
    await l.newerThan(Date.now())
    await l.newerThan(Date.now())
    const at = fake.callsOf('ListPodSandbox').map((c) => c.at)
    assert.equal(at.length, 2)
    assert.ok(at[1] - at[0] >= 140, `${at[1] - at[0]} ms apart`)
  })

  it('a failed listing fails its askers, and the next ask lists again', async () => {
    const l = new SharedListing(cri)
    fake.fail('ListPodSandbox', {code: 13, times: 1, message: 'injected'})
    await assert.rejects(l.newerThan(0), /injected/)
    assert.deepEqual(await l.newerThan(0), [])
  })
})
