// A lease on a name, held by the kernel: a listening unix socket in the abstract namespace. Binding
// is atomic (one process gets it, the others get EADDRINUSE), and the kernel releases it when the
// process dies however it dies, so there is no stale lease to detect and break (a lock file's
// check-the-pid-then-unlink is not atomic). Leases are seen by every process in the same network
// namespace, which is where podrun's commands and its daemon run.
import {createHash} from 'node:crypto'
import net from 'node:net'

export interface Lease {
  readonly name: string
  release(): Promise<void>
}

/** The abstract socket name of a lease (at most 107 bytes: a hash of the caller's name). */
export function leaseAddress(name: string): string {
  return `\0podrun-lease-${createHash('sha256').update(name).digest('hex').slice(0, 40)}`
}

/** The lease if free now, else undefined. */
export function tryLease(name: string): Promise<Lease | undefined> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((sock) => sock.destroy())
    server.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') resolve(undefined)
      else reject(e)
    })
    server.listen({path: leaseAddress(name), exclusive: true}, () => {
      // A lease does not keep the process alive.
      server.unref()
      let released: Promise<void> | undefined
      resolve({
        name,
        release: () => (released ??= new Promise<void>((r) => server.close(() => r()))),
      })
    })
  })
}

/** Waits for the lease (polling every pollMs); `onWait` is told once that someone else holds it. */
export async function acquireLease(name: string, o: {signal?: AbortSignal; pollMs?: number; onWait?: () => void} = {}): Promise<Lease> {
  let told = false
  for (;;) {
    const l = await tryLease(name)
    if (l) return l
    if (!told) o.onWait?.()
    told = true
    if (o.signal?.aborted) throw o.signal.reason ?? new Error('aborted')
    await new Promise((r) => setTimeout(r, o.pollMs ?? 100))
  }
}

/** Several leases, taken in name order (two processes taking overlapping sets cannot deadlock). */
export async function acquireLeases(names: Iterable<string>, o: {signal?: AbortSignal; onWait?: (name: string) => void} = {}): Promise<{release(): Promise<void>}> {
  const held: Lease[] = []
  const release = async () => {
    await Promise.all(held.map((l) => l.release()))
  }
  try {
    for (const name of [...new Set(names)].sort()) held.push(await acquireLease(name, {signal: o.signal, onWait: () => o.onWait?.(name)}))
  } catch (e) {
    await release()
    throw e
  }
  return {release}
}
