// Giving memory back while idle. The daemon's steady work (a relist a second, a resync every 10 s)
// allocates little, but V8 lets that garbage pile up in the old generation until its next major
// collection, minutes later: the process's RSS creeps up by 10 MB or so between collections, on
// devices where that matters. Once a minute, when the heap has grown well past what the last full
// collection left, one full collection (10 to 20 ms for the daemon's ~12 MB of live objects) gives
// it back. V8's own memory reducer does the same, but only after allocation has stopped entirely.
import v8 from 'node:v8'
import vm from 'node:vm'

export interface HeapTrimOptions {
  everyMs?: number
  /** Collect when the heap grew by this much since the last collection. */
  growthBytes?: number
}

/** Starts the periodic check; returns a function that stops it. A no-op where gc cannot be had. */
export function startHeapTrim(o: HeapTrimOptions = {}): () => void {
  let gc: (() => void) | undefined
  try {
    v8.setFlagsFromString('--expose-gc')
    gc = vm.runInNewContext('gc') as () => void
  } catch {
    return () => {}
  }
  if (typeof gc !== 'function') return () => {}
  const used = () => v8.getHeapStatistics().used_heap_size
  let base = used()
  const growth = o.growthBytes ?? 4 * 1024 * 1024
  const timer = setInterval(() => {
    if (used() - base < growth) return
    gc!()
    base = used()
  }, o.everyMs ?? 60_000)
  timer.unref()
  return () => clearInterval(timer)
}
