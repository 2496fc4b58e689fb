// The daemon's heap trim: one full collection after work, only once the heap grew enough.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {heapTrim} from '../../src/daemon/heap.js'

const tick = () => new Promise((r) => setImmediate(r))

describe('heap trim', () => {
  it('collects once the heap grew past the threshold, not before, and once per burst', async () => {
    let size = 10_000_000
    let gcs = 0
    const trim = heapTrim({growthBytes: 2_000_000, used: () => size, gc: () => (gcs++, (size = 10_500_000))})
    size = 11_000_000
    trim.maybeCollect()
    await tick()
    assert.equal(gcs, 0, 'grew by 1 MB only')
    size = 12_100_000
    trim.maybeCollect()
    trim.maybeCollect()
    assert.equal(gcs, 0, 'not during the caller\'s work')
    await tick()
    assert.equal(gcs, 1)
    assert.equal(trim.collections, 1)
    // The base is what the collection left (10.5 MB): 12.1 MB is still 1.6 MB above it.
    size = 12_100_000
    trim.maybeCollect()
    await tick()
    assert.equal(gcs, 1)
    size = 12_600_000
    trim.maybeCollect()
    await tick()
    assert.equal(gcs, 2)
  })

  it('runs the real collector in this process', async () => {
    const trim = heapTrim({growthBytes: 0})
    trim.maybeCollect()
    await tick()
    assert.equal(trim.collections, 1)
  })
})
