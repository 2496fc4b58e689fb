// Container log rotation, as the kubelet's container log manager does it: on each resync, a
// running container's log that has grown past max-size is renamed `<log>.<YYYYMMDD-hhmmss>` and the
// runtime is asked to reopen it (CRI ReopenContainerLog: it starts a new file at the same path);
// rotated files but the newest are gzip-compressed, and only max-files files are kept, the live one
// included. A container writing 100 MiB ends with at most max-files x max-size on disk.
import fs from 'node:fs/promises'
import {createReadStream, createWriteStream} from 'node:fs'
import {pipeline} from 'node:stream/promises'
import {createGzip} from 'node:zlib'
import type {CriClient} from '../cri/client.js'
import {rotatedLogs} from '../reconcile/container-logs.js'

export interface RotationPolicy {
  maxBytes: number
  /** Files kept per container, the live one included (at least 2). */
  maxFiles: number
}

const stamp = (d: Date): string => d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)
const stampTime = (s: string): number => Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15))

/**
 * The name for the next rotated file: its time stamp, or one second past the newest rotated file
 * when that is not older (two rotations in one second). Readers order rotated files by name, and a
 * line cut by a rotation (a partial record at the end of one file) goes on in the next one, so a
 * name out of order would join it to the wrong lines, or trim the newest file first.
 */
export async function nextRotatedName(logPath: string, now: Date): Promise<string> {
  const newest = (await rotatedLogs(logPath)).at(-1)
  let t = Math.floor(now.getTime() / 1000) * 1000
  if (newest) {
    const last = stampTime(newest.slice(logPath.length + 1, logPath.length + 16))
    if (last >= t) t = last + 1000
  }
  return `${logPath}.${stamp(new Date(t))}`
}

async function gzip(file: string): Promise<void> {
  const tmp = `${file}.gz.tmp`
  await pipeline(createReadStream(file), createGzip(), createWriteStream(tmp, {mode: 0o640}))
  await fs.rename(tmp, `${file}.gz`)
  await fs.rm(file, {force: true})
}

/** Rotates one container's log when it is over the size; compresses and trims what was rotated. */
export async function rotateIfNeeded(cri: CriClient, c: {id: string; logPath: string}, p: RotationPolicy, now = new Date()): Promise<boolean> {
  const st = await fs.stat(c.logPath).catch(() => undefined)
  if (!st || st.size < p.maxBytes) return false
  const target = await nextRotatedName(c.logPath, now)
  await fs.rename(c.logPath, target)
  try {
    await cri.reopenContainerLog(c.id)
  } catch (e) {
    // The runtime did not reopen: put the file back, so that its writes still land where readers look.
    await fs.rename(target, c.logPath).catch(() => undefined)
    throw e
  }
  const rotated = await rotatedLogs(c.logPath)
  // Every rotated file but the newest is compressed (the newest may still be read by a follower).
  for (const f of rotated.slice(0, -1)) if (!f.endsWith('.gz')) await gzip(f)
  const kept = await rotatedLogs(c.logPath)
  for (const f of kept.slice(0, Math.max(0, kept.length - (Math.max(2, p.maxFiles) - 1)))) await fs.rm(f, {force: true})
  return true
}
