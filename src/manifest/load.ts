// From the paths a person gives (-f file, -f dir, -f -) to the text of each manifest file, within
// limits: which files a directory contributes, symlink loops, size, encoding.
import {isUtf8} from 'node:buffer'
import {closeSync, fstatSync, openSync, readdirSync, readFileSync, readSync, statSync, type Stats} from 'node:fs'
import path from 'node:path'
import type {Diagnostic, Limits} from './types.js'
import {compareText} from '../lib/compare.js'

export const STDIN_NAME = '<stdin>'
export const MANIFEST_EXTENSIONS = ['.yaml', '.yml', '.json'] as const

/** A file to read: from the file system, or standard input. */
export interface InputFile {
  /** As shown in diagnostics: the path as given, or joined onto the directory as given; "<stdin>". */
  display: string
  /** Absolute path; absent for stdin. */
  absolute?: string
}

/**
 * Whether a directory entry is a manifest podrun reads: a .yaml, .yml or .json file that is not a
 * dotfile (editor swap files, `.#lock` files) nor an editor backup (`name.yaml~`, `#name.yaml#`).
 */
export function isManifestName(name: string): boolean {
  if (name.startsWith('.') || name.endsWith('~') || (name.startsWith('#') && name.endsWith('#'))) return false
  const lower = name.toLowerCase()
  return MANIFEST_EXTENSIONS.some((ext) => lower.endsWith(ext))
}

function fileProblem(file: string, message: string, severity: 'error' | 'warning' = 'error'): Diagnostic {
  return {severity, file, line: 0, col: 0, path: '', message}
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'ELOOP':
      return 'symlink loop (too many levels of symbolic links)'
    case 'ENOTDIR':
      return 'a path component is not a directory'
    default:
      return (err as Error).message
  }
}

/**
 * Expands the -f arguments into files, in order: directories sorted by name, each file once.
 * (File system calls are synchronous: a manifest set is small, and it is much faster.)
 */
export async function collectInputs(
  paths: string[],
  opts: {recursive: boolean; limits: Limits},
): Promise<{files: InputFile[]; diagnostics: Diagnostic[]}> {
  const files: InputFile[] = []
  const diagnostics: Diagnostic[] = []
  const seenFiles = new Set<string>()
  let stdinSeen = false
  let overLimit = false
  const identity = (st: Stats): string => `${st.dev}:${st.ino}`

  const addFile = (display: string, absolute: string, st: Stats): void => {
    if (seenFiles.has(identity(st))) return
    seenFiles.add(identity(st))
    if (files.length >= opts.limits.maxFiles) {
      if (!overLimit) diagnostics.push(fileProblem(display, `too many files (limit ${opts.limits.maxFiles}); the rest were not read`))
      overLimit = true
      return
    }
    files.push({display, absolute})
  }

  const walkDir = (display: string, absolute: string, visited: Set<string>): void => {
    let entries: string[]
    try {
      entries = readdirSync(absolute).sort(compareText)
    } catch (err) {
      diagnostics.push(fileProblem(display, `cannot read directory: ${describeFsError(err)}`))
      return
    }
    for (const name of entries) {
      if (overLimit) return
      const childDisplay = path.join(display, name)
      const childAbs = path.join(absolute, name)
      // Only manifests and directories matter: skip the rest before asking the file system.
      const manifest = isManifestName(name)
      if (!manifest && (!opts.recursive || name.startsWith('.'))) continue
      let st: Stats
      try {
        st = statSync(childAbs)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        if (code === 'ELOOP') diagnostics.push(fileProblem(childDisplay, 'skipped: symlink loop', 'warning'))
        else if (code === 'ENOENT') {
          if (manifest) diagnostics.push(fileProblem(childDisplay, 'skipped: broken symlink', 'warning'))
        } else diagnostics.push(fileProblem(childDisplay, `skipped: ${describeFsError(err)}`, 'warning'))
        continue
      }
      if (st.isDirectory()) {
        if (!opts.recursive || name.startsWith('.')) continue
        if (visited.has(identity(st))) {
          diagnostics.push(fileProblem(childDisplay, 'skipped: directory already visited (a symlink loop)', 'warning'))
          continue
        }
        visited.add(identity(st))
        walkDir(childDisplay, childAbs, visited)
        visited.delete(identity(st))
      } else if (st.isFile() && manifest) {
        addFile(childDisplay, childAbs, st)
      }
    }
  }

  for (const given of paths) {
    if (overLimit) break
    if (given === '-') {
      if (!stdinSeen) files.push({display: STDIN_NAME})
      stdinSeen = true
      continue
    }
    const absolute = path.resolve(given)
    let st: Stats
    try {
      st = statSync(absolute)
    } catch (err) {
      diagnostics.push(fileProblem(given, describeFsError(err)))
      continue
    }
    if (st.isDirectory()) walkDir(given, absolute, new Set([identity(st)]))
    else addFile(given, absolute, st)
  }
  return {files, diagnostics}
}

/** Reads at most `limit + 1` bytes of a stream. */
async function readLimited(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
    chunks.push(buf)
    size += buf.length
    if (size > limit) break
  }
  return Buffer.concat(chunks)
}

/** Reads at most `limit + 1` bytes of an open file (a regular file, a FIFO, a device). */
function readFdLimited(fd: number, limit: number): Buffer {
  const chunks: Buffer[] = []
  let size = 0
  for (;;) {
    const chunk = Buffer.allocUnsafe(Math.min(64 * 1024, limit + 1 - size))
    const n = readSync(fd, chunk, 0, chunk.length, null)
    if (n === 0) break
    chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n))
    size += n
    if (size > limit) break
  }
  return Buffer.concat(chunks)
}

/** Reads one input file as text, or explains why it cannot be used. */
export async function readInput(
  file: InputFile,
  opts: {limits: Limits; stdin?: NodeJS.ReadableStream},
): Promise<{text: string} | {diagnostic: Diagnostic}> {
  const limit = opts.limits.maxFileBytes
  const tooLarge = (size: string): Diagnostic =>
    fileProblem(file.display, `file is too large (${size}; limit ${formatBytes(limit)}); refused`)
  let buf: Buffer
  if (file.absolute === undefined) {
    buf = await readLimited(opts.stdin ?? process.stdin, limit)
    if (buf.length > limit) return {diagnostic: tooLarge(`more than ${formatBytes(limit)}`)}
  } else {
    let fd: number | undefined
    try {
      fd = openSync(file.absolute, 'r')
      const st = fstatSync(fd)
      if (st.isDirectory()) return {diagnostic: fileProblem(file.display, 'is a directory')}
      if (st.isFile() && st.size > limit) return {diagnostic: tooLarge(formatBytes(st.size))}
      buf = st.isFile() ? readFileSync(fd) : readFdLimited(fd, limit)
      if (buf.length > limit) return {diagnostic: tooLarge(`more than ${formatBytes(limit)}`)}
    } catch (err) {
      return {diagnostic: fileProblem(file.display, `cannot read: ${describeFsError(err)}`)}
    } finally {
      if (fd !== undefined) closeSync(fd)
    }
  }
  const decoded = decodeText(buf)
  if (typeof decoded === 'string') return {text: decoded}
  return {diagnostic: {severity: 'error', file: file.display, line: decoded.line, col: decoded.col, path: '', message: decoded.message}}
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`
  if (n >= 1024) return `${Math.round(n / 1024)} KiB`
  return `${n} bytes`
}

/** UTF-8 text without its byte-order mark, or why the bytes are not a text manifest. */
export function decodeText(buf: Buffer): string | {message: string; line: number; col: number} {
  if ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff)) {
    return {line: 1, col: 1, message: 'file is UTF-16 encoded; podrun reads UTF-8 manifests (convert it, e.g. with iconv -f UTF-16 -t UTF-8)'}
  }
  const start = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0
  const nul = buf.indexOf(0, start)
  if (nul !== -1) {
    return {...lineColOfByte(buf, start, nul), message: 'binary file (it contains NUL bytes), not a YAML or JSON manifest; refused'}
  }
  // The native check is fast; the byte-by-byte scan runs only to point at the bad byte.
  const bad = isUtf8(buf.subarray(start)) ? -1 : firstInvalidUtf8(buf, start)
  if (bad !== -1) {
    return {
      ...lineColOfByte(buf, start, bad),
      message: `file is not valid UTF-8 (byte 0x${buf[bad].toString(16).padStart(2, '0')}); save it as UTF-8`,
    }
  }
  return buf.toString('utf8', start)
}

function lineColOfByte(buf: Buffer, start: number, offset: number): {line: number; col: number} {
  let line = 1
  let lineStart = start
  for (let i = start; i < offset; i++) {
    if (buf[i] === 0x0a) {
      line++
      lineStart = i + 1
    }
  }
  // Columns count characters; the line is valid UTF-8 up to `offset`.
  return {line, col: buf.toString('utf8', lineStart, offset).length + 1}
}

/** Offset of the first byte that breaks UTF-8, or -1. */
function firstInvalidUtf8(buf: Buffer, start: number): number {
  let i = start
  while (i < buf.length) {
    const b = buf[i]
    if (b < 0x80) {
      i++
      continue
    }
    let need: number
    let min: number
    if (b >= 0xc2 && b <= 0xdf) [need, min] = [1, 0x80]
    else if (b >= 0xe0 && b <= 0xef) [need, min] = [2, 0x800]
    else if (b >= 0xf0 && b <= 0xf4) [need, min] = [3, 0x10000]
    else return i
    let cp = b & (0x3f >> need)
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k]
      if (c === undefined || (c & 0xc0) !== 0x80) return i
      cp = (cp << 6) | (c & 0x3f)
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i
    i += need + 1
  }
  return -1
}
