// Pod workers: one sync in flight per pod, triggers coalesced, one slow pod never delays another,
// per-pod back-off and requeue, cancellation of a sync in flight. Checked by what happened in what
// order, never by how long it took.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {PodWorkers, type SyncResult} from '../../src/reconcile/workers.js'

/** A promise with its resolver, for syncs the test lets go when it wants. */
function gate(): {promise: Promise<void>; open: () => void} {
  let open = () => {}
  const promise = new Promise<void>((r) => (open = r))
  return {promise, open}
}

const tick = () => new Promise((r) => setImmediate(r))

describe('pod workers', () => {
  it('runs one sync per pod at a time; triggers during a sync leave exactly one more behind', async () => {
    const g = gate()
    let running = 0
    let most = 0
    let syncs = 0
    const w = new PodWorkers({
      sync: async () => {
        running++
        most = Math.max(most, running)
        syncs++
        if (syncs === 1) await g.promise
        running--
        return {}
      },
    })
    w.enqueue('ns/a')
    for (let i = 0; i < 5; i++) w.enqueue('ns/a')
    await tick()
    assert.equal(syncs, 1)
    g.open()
    await w.idle()
    assert.equal(syncs, 2, 'five triggers during the sync made one more sync')
    assert.equal(most, 1)
  })

  it('a pod whose sync waits (a grace period) does not delay another pod', async () => {
    const slow = gate()
    const order: string[] = []
    const w = new PodWorkers({
      sync: async (key) => {
        order.push(`start ${key}`)
        if (key === 'ns/slow') await slow.promise
        order.push(`end ${key}`)
        return {}
      },
    })
    w.enqueue('ns/slow')
    w.enqueue('ns/fast')
    await tick()
    w.enqueue('ns/fast')
    await tick()
    assert.deepEqual(order, ['start ns/slow', 'start ns/fast', 'end ns/fast', 'start ns/fast', 'end ns/fast'])
    assert.deepEqual(w.inFlight().map((x) => x.key), ['ns/slow'])
    slow.open()
    await w.idle()
    assert.equal(order.at(-1), 'end ns/slow')
  })

  it('backs off per pod: a failing pod retries with growing delays while another pod is not slowed', async () => {
    const tries: Record<string, number> = {}
    const w = new PodWorkers({
      backoff: {initialMs: 5, maxMs: 40},
      sync: async (key): Promise<SyncResult> => {
        tries[key] = (tries[key] ?? 0) + 1
        if (key === 'ns/broken') return {failed: tries[key] < 4}
        return {requeueAfterMs: tries[key] < 3 ? 1 : undefined}
      },
    })
    w.enqueue('ns/broken')
    w.enqueue('ns/ok')
    await w.idle()
    assert.equal(w.failures('ns/broken'), 1)
    await new Promise((r) => setTimeout(r, 5 + 10 + 20 + 30))
    await w.idle()
    assert.equal(tries['ns/broken'], 4, 'retried after 5, 10 and 20 ms, then succeeded')
    assert.equal(w.failures('ns/broken'), 0, 'a success resets the streak')
    assert.equal(tries['ns/ok'], 3, 'the other pod requeued on its own timer')
    await w.stop()
  })

  it('cancels a sync in flight when asked (the pod was removed), then syncs again', async () => {
    const seen: boolean[] = []
    let first = true
    const w = new PodWorkers({
      sync: async (_key, signal) => {
        if (first) {
          first = false
          await new Promise<void>((r) => signal.addEventListener('abort', () => r()))
        }
        seen.push(signal.aborted)
        return {}
      },
    })
    w.enqueue('ns/a')
    await tick()
    w.enqueue('ns/a', {cancel: true})
    await w.idle()
    assert.deepEqual(seen, [true, false], 'the first sync saw the abort, the pending one ran clean')
  })

  it('forget drops a pod and its timer; stop lets the sync in flight end and starts nothing new', async () => {
    let syncs = 0
    const g = gate()
    const w = new PodWorkers({
      sync: async (key) => {
        syncs++
        if (key === 'ns/b') await g.promise
        return {requeueAfterMs: 1}
      },
    })
    w.enqueue('ns/a')
    await w.idle()
    w.forget('ns/a')
    await new Promise((r) => setTimeout(r, 10))
    assert.equal(syncs, 1, 'no requeue after forget')
    w.enqueue('ns/b')
    await tick()
    const stopped = w.stop()
    w.enqueue('ns/c')
    g.open()
    await stopped
    assert.equal(syncs, 2, 'b ended; c never started')
  })
})
