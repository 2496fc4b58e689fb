// Container log files in the CRI format that containerd and CRI-O write, one record per line:
// `<RFC 3339 time> <stdout|stderr> <P|F> <text>`, where P marks a partial line that the next
// records complete. Read as kubectl shows them: partial lines joined, the last N lines found from
// the end of the file (a 50 MB log is not read whole), and followed as it grows, across a rotation
// (the file renamed and a new one made: the old one is read to its end through the open handle).
import fs from 'node:fs/promises'
import type {FileHandle} from 'node:fs/promises'
import path from 'node:path'
import {gunzipSync} from 'node:zlib'

export interface LogLine {
  /** The time of its last record, as the runtime wrote it. */
  time: string
  stream: string
  text: string
}

/** Joins physical records into lines; a malformed record is taken as a whole stdout line. */
export class LineJoiner {
  private partial = ''

  push(record: string): LogLine | undefined {
    const a = record.indexOf(' ')
    const b = record.indexOf(' ', a + 1)
    const c = record.indexOf(' ', b + 1)
    if (a < 0 || b < 0) return {time: '', stream: 'stdout', text: record}
    const tag = c < 0 ? record.slice(b + 1) : record.slice(b + 1, c)
    const text = c < 0 ? '' : record.slice(c + 1)
    if (tag === 'P') {
      this.partial += text
      return undefined
    }
    const line = {time: record.slice(0, a), stream: record.slice(a + 1, b), text: this.partial + text}
    this.partial = ''
    return line
  }
}

/** Whether a physical record ends a line (a full record, "F"). */
const isFull = (record: string): boolean => record.split(' ', 3)[2] !== 'P'

const CHUNK = 64 * 1024

/**
 * The physical records that make up the last `n` lines of a file, read backwards in chunks.
 * A record cut at the end of the file (being written) is left out.
 */
export async function tailRecords(file: string, n: number): Promise<{records: string[]; end: number}> {
  const fh = await fs.open(file, 'r')
  try {
    const size = (await fh.stat()).size
    const records: string[] = []
    let pos = size
    let carry = Buffer.alloc(0)
    let full = 0
    let end = size
    let first = true
    while (pos > 0) {
      const len = Math.min(CHUNK, pos)
      pos -= len
      const buf = Buffer.alloc(len)
      await fh.read(buf, 0, len, pos)
      let data = Buffer.concat([buf, carry])
      if (first) {
        // Drop an unfinished record at the end of the file.
        const nl = data.lastIndexOf(10)
        if (nl !== data.length - 1) {
          end = pos + nl + 1
          data = data.subarray(0, nl + 1)
        }
        first = false
      }
      let stop = data.length
      if (data[stop - 1] === 10) stop--
      for (let i = stop - 1; i >= -1; i--) {
        if (i >= 0 && data[i] !== 10) continue
        if (i < 0 && pos > 0) {
          carry = Buffer.from(data.subarray(0, stop))
          break
        }
        const record = data.subarray(i + 1, stop).toString('utf8')
        stop = i
        if (isFull(record)) {
          if (full === n) return {records, end}
          full++
        }
        records.unshift(record)
      }
      if (pos === 0) break
    }
    return {records, end}
  } finally {
    await fh.close()
  }
}

/** Lines of records, partial records joined. */
export function linesOf(records: string[], joiner = new LineJoiner()): LogLine[] {
  const out: LogLine[] = []
  for (const r of records) {
    const l = joiner.push(r)
    if (l) out.push(l)
  }
  return out
}

/**
 * Follows a log file from `offset`: calls `onLine` for each new line until `signal` aborts or
 * `until()` says the file is done (its container is gone and the file read to its end). A rotation
 * (the path now names another file) is followed after the old file is read to its end.
 */
export async function followFile(file: string, offset: number, onLine: (l: LogLine) => void, o: {signal: AbortSignal; until?: () => boolean; pollMs?: number}): Promise<void> {
  const joiner = new LineJoiner()
  let fh: FileHandle | undefined
  let pos = offset
  let rest = ''
  const open = async (): Promise<boolean> => {
    try {
      fh = await fs.open(file, 'r')
      return true
    } catch {
      return false
    }
  }
  const drain = async (): Promise<boolean> => {
    if (!fh) return false
    const size = (await fh.stat()).size
    if (size < pos) pos = 0 // truncated in place
    let read = false
    while (pos < size) {
      const len = Math.min(CHUNK, size - pos)
      const buf = Buffer.alloc(len)
      const {bytesRead} = await fh.read(buf, 0, len, pos)
      if (bytesRead === 0) break
      pos += bytesRead
      read = true
      const parts = (rest + buf.subarray(0, bytesRead).toString('utf8')).split('\n')
      rest = parts.pop() ?? ''
      for (const p of parts) {
        const l = joiner.push(p)
        if (l) onLine(l)
      }
    }
    return read
  }
  await open()
  try {
    while (!o.signal.aborted) {
      const read = await drain()
      if (!read) {
        // Rotated: the path names a new file. The old one has been read to its end.
        const now = await fs.stat(file).catch(() => undefined)
        const cur = fh ? await fh.stat().catch(() => undefined) : undefined
        if (now && (!cur || now.ino !== cur.ino || now.dev !== cur.dev)) {
          // What was written between the last read and the rename is still in the old file.
          while (await drain());
          await fh?.close()
          fh = undefined
          pos = 0
          rest = ''
          await open()
          continue
        }
        if (o.until?.()) return
        await new Promise((r) => setTimeout(r, o.pollMs ?? 200))
      }
    }
  } finally {
    await fh?.close()
  }
}

/** The rotated files of a log (`<log>.<YYYYMMDD-hhmmss>[.gz]`), oldest first. */
export async function rotatedLogs(logPath: string): Promise<string[]> {
  const dir = path.dirname(logPath)
  const base = path.basename(logPath)
  const names = await fs.readdir(dir).catch(() => [] as string[])
  return names
    .filter((n) => n.startsWith(`${base}.`) && /^\d{8}-\d{6}(\.gz)?$/.test(n.slice(base.length + 1)))
    .sort()
    .map((n) => path.join(dir, n))
}

/**
 * The records of the last `n` lines of a log, its rotated files included (newest first until
 * enough), and where the live file ends.
 */
export async function tailWithRotated(logPath: string, n: number): Promise<{records: string[]; end: number}> {
  const live = await tailRecords(logPath, n)
  let records = live.records
  const full = (rs: string[]) => rs.filter(isFull).length
  let have = full(records)
  const rotated = await rotatedLogs(logPath)
  for (let i = rotated.length - 1; i >= 0 && have < n; i--) {
    const raw = await fs.readFile(rotated[i]).catch(() => undefined)
    if (!raw) continue
    const text = (rotated[i].endsWith('.gz') ? gunzipSync(raw) : raw).toString('utf8')
    const older = text.split('\n').filter((l) => l !== '')
    // Only the lines still wanted, from the end.
    let keep = older.length
    let count = 0
    while (keep > 0 && count < n - have) {
      keep--
      if (isFull(older[keep])) count++
    }
    while (keep > 0 && !isFull(older[keep - 1])) keep--
    records = [...older.slice(keep), ...records]
    have += count
  }
  return {records, end: live.end}
}
