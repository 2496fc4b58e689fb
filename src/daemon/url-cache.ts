// The last good copy of each manifest URL, so that a device boots its pods while the server is
// down. One file per URL, written atomically (a power cut leaves the old copy or the new one), in
// podrun's persistent root, not the daemon's state folder (/run is emptied at boot). The copy
// keeps its signature, so that a key taken out of --verify-key also stops its cached copies.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import {writeAtomic} from '../lib/atomic.js'

export interface CachedBody {
  /** The source's name (the URL without credentials): a check that the file is this URL's. */
  source: string
  body: string
  /** The detached signature it was verified with (under --verify-key). */
  signature?: string
  etag?: string
  lastModified?: string
  /** When it was fetched (RFC 3339). */
  fetchedAt: string
}

/** $PODRUN_ROOT/sources, default /var/lib/podrun/sources: root only. */
export function sourcesRoot(): string {
  return path.join(process.env.PODRUN_ROOT ?? '/var/lib/podrun', 'sources')
}

/** The cache file of a source: named by a hash of the full URL (it may carry a token). */
export function cacheFile(url: string, root = sourcesRoot()): string {
  return path.join(root, `${crypto.createHash('sha256').update(url).digest('hex').slice(0, 32)}.json`)
}

export function readCache(file: string, source: string): CachedBody | undefined {
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return undefined
  }
  try {
    const c = JSON.parse(text) as CachedBody
    return c.source === source && typeof c.body === 'string' ? c : undefined
  } catch {
    return undefined
  }
}

export function writeCache(file: string, c: CachedBody): void {
  fs.mkdirSync(path.dirname(file), {recursive: true, mode: 0o700})
  writeAtomic(file, JSON.stringify(c), 0o600)
}
