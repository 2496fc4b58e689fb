// Giving memory back while idle. V8 leaves the garbage of the daemon's periodic work (the full
// pass a minute decodes every pod's stored specs) in the old generation until its next major
// collection, which can be minutes away on a heap this small: RSS creeps up by several MB between
// collections, on devices where that matters. V8's own memory reducer does the same only after
// allocation has stopped entirely, which a relist a second never lets happen.
//
// So on each resync tick (every 10 s by default), once the heap has grown by a few MB since the
// last collection, the daemon runs one full collection (10 to 20 ms for its ~15 MB of live
// objects). A tick comes seconds after the last full pass: V8 shrinks its young generation back
// only in a collection that finds allocation slow, and then it does. The tick is the loop's own
// timer rather than one of the trim's: an idle process should wake up only for work.
import v8 from 'node:v8'
import vm from 'node:vm'

export interface HeapTrimOptions {
  /** Collect when the heap grew by this much since the last collection. */
  growthBytes?: number
  /** For tests: the collector and the heap size. */
  gc?: () => void
  used?: () => number
}

export interface HeapTrim {
  /** Collects if the heap grew enough since the last time (soon after, not during, the caller's work). */
  maybeCollect(): void
  /** Full collections run so far. */
  readonly collections: number
}

function exposedGc(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as unknown
    return typeof gc === 'function' ? (gc as () => void) : undefined
  } catch {
    return undefined
  }
}

/** A trimmer; a no-op where gc cannot be had. */
export function heapTrim(o: HeapTrimOptions = {}): HeapTrim {
  const gc = o.gc ?? exposedGc()
  const used = o.used ?? (() => v8.getHeapStatistics().used_heap_size)
  const growth = o.growthBytes ?? 2 * 1024 * 1024
  let base = used()
  let queued = false
  const trim = {
    collections: 0,
    maybeCollect(): void {
      if (!gc || queued || used() - base < growth) return
      queued = true
      setImmediate(() => {
        queued = false
        gc()
        trim.collections++
        base = used()
      })
    },
  }
  return trim
}
