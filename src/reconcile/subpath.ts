// Volume subPaths, safe against symlinks (the class of CVE-2017-1002101). A subPath points into a
// volume that containers can write, and the runtime follows symlinks on the host when it mounts a
// path: a container that replaces `<volume>/<subPath>` with a link to `/` would get the host's root
// at its next start. So, as the kubelet does, the subPath is resolved inside its volume one
// component at a time, refusing any symlink, and the directory or file it names is held open and
// bind-mounted (through /proc/<pid>/fd) onto a podrun-owned path, which is what the runtime gets.
// Whatever the container does to the volume afterwards cannot change what that path shows.
import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import {constants, type Stats} from 'node:fs'
import path from 'node:path'
import {promisify} from 'node:util'
import {PodrunError} from '../lib/errors.js'

const run = promisify(execFile)

// Linux's O_PATH (open a path without reading it: no side effect on a FIFO or a device, and
// allowed on any file type). Node does not export it; the value is the same on x86, arm and arm64.
const O_PATH = 0o10000000
const NOFOLLOW = O_PATH | constants.O_NOFOLLOW

/** A path opened and checked; the descriptor keeps naming the same inode whatever is renamed. */
export interface HeldPath {
  handle: fs.FileHandle
  stat: Stats
}

const refuse = (what: string, why: string): never => {
  throw new PodrunError(`${what}: ${why}`, {reason: 'CreateContainerConfigError'})
}

const inside = (root: string, p: string): boolean => p === root || p.startsWith(root + path.sep)

/** A name inside an open directory, through its magic link: what openat and mkdirat take, which Node lacks. */
const at = (dir: fs.FileHandle, name: string): string => `/proc/self/fd/${dir.fd}/${name}`

/** openat(dir, name, O_PATH|O_NOFOLLOW). */
const openAt = (dir: fs.FileHandle, name: string): Promise<fs.FileHandle> => fs.open(at(dir, name), NOFOLLOW)

/** The components of a subPath; refused when it is absolute or has "..". `what` names the mount in errors. */
export function subPathParts(rel: string, what: string): string[] {
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.')
  if (path.isAbsolute(rel) || parts.includes('..')) refuse(what, `subPath ${JSON.stringify(rel)} must be a relative path without ".."`)
  return parts
}

/**
 * Open `rel` inside `root` without following a symlink at any step, creating missing directories
 * (with the root's mode, as the kubelet does). Symlinks that stay inside the root are allowed, as
 * Kubernetes allows them: they are evaluated first, the result is checked to be inside the root,
 * and then opened component by component with no link allowed, so a link swapped in between is
 * refused rather than followed. `what` names the mount in errors.
 */
export async function openInside(root: string, rel: string, what: string): Promise<HeldPath> {
  const parts = subPathParts(rel, what)
  const rootReal = await fs.realpath(root)
  const rootStat = await fs.stat(rootReal)
  if (!rootStat.isDirectory()) refuse(what, `volume path ${root} is not a directory`)

  // The deepest existing prefix, with its links evaluated.
  let existing = parts.length
  let resolved = rootReal
  for (;;) {
    try {
      resolved = await fs.realpath(path.join(rootReal, ...parts.slice(0, existing)))
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || existing === 0) throw e
      existing--
    }
  }
  if (!inside(rootReal, resolved)) refuse(what, `subPath ${JSON.stringify(rel)} leads outside its volume (through a symbolic link)`)
  const existingParts = path.relative(rootReal, resolved).split(path.sep).filter((p) => p !== '')
  const steps = [...existingParts.map((name) => ({name, create: false})), ...parts.slice(existing).map((name) => ({name, create: true}))]

  let cur = await fs.open(rootReal, O_PATH | constants.O_DIRECTORY)
  let st = rootStat
  try {
    for (const [i, s] of steps.entries()) {
      let next: fs.FileHandle
      let made = false
      try {
        next = await openAt(cur, s.name)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || !s.create) throw e
        // mkdir never follows a link in its last component: a link planted meanwhile is EEXIST.
        made = await fs.mkdir(at(cur, s.name)).then(
          () => true,
          (err: NodeJS.ErrnoException) => {
            if (err.code !== 'EEXIST') throw err
            return false
          },
        )
        next = await openAt(cur, s.name)
      }
      await cur.close()
      cur = next
      st = await cur.stat()
      const sofar = steps.slice(0, i + 1).map((x) => x.name).join('/')
      if (st.isSymbolicLink()) refuse(what, `subPath ${JSON.stringify(rel)}: ${sofar} is a symbolic link that changed while it was resolved; refusing to follow it`)
      if (i < steps.length - 1 && !st.isDirectory()) refuse(what, `subPath ${JSON.stringify(rel)}: ${sofar} is not a directory`)
      // Only a folder made here, and only once it is known to be one.
      if (made && st.isDirectory()) await fs.chmod(`/proc/self/fd/${cur.fd}`, rootStat.mode & 0o7777).catch(() => undefined)
    }
    return {handle: cur, stat: st}
  } catch (e) {
    await cur.close().catch(() => undefined)
    throw e
  }
}

/** Mount points at or under `dir`, deepest first (from /proc/self/mountinfo). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
  const out = new Set<string>()
  for (const line of text.split('\n')) {
    const mp = line.split(' ')[4]
    if (mp === undefined) continue
    const p = unescape(mp)
    if (inside(dir, p)) out.add(p)
  }
  return [...out].sort((a, b) => b.length - a.length)
}

/** Unmount everything at or under `dir` (stacked mounts included). */
export async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 16; round++) {
    const mounts = await mountsUnder(dir)
    if (mounts.length === 0) return
    for (const m of mounts) await run('umount', ['--no-canonicalize', m]).catch(() => undefined)
  }
  const left = await mountsUnder(dir)
  if (left.length > 0) throw new PodrunError(`could not unmount ${left.join(', ')}`)
}

/** Where a container's subPath mount is bind-mounted, as the kubelet lays it out. */
export function subPathTarget(podDir: string, volume: string, container: string, index: number): string {
  return path.join(podDir, 'volume-subpaths', volume, container, String(index))
}

/**
 * A host path opened as it is now (links followed: the path is the operator's), held so that the
 * type checked and what is mounted are the same inode whatever is renamed meanwhile.
 */
export async function holdPath(p: string): Promise<HeldPath | undefined> {
  const handle = await fs.open(p, O_PATH).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined
    throw e
  })
  if (!handle) return undefined
  return {handle, stat: await handle.stat()}
}

/** Bind-mount a held path onto `target` (a fresh empty directory or file of the same kind). */
export async function bindHeld(held: HeldPath, target: string): Promise<void> {
  await unmountUnder(target)
  await fs.mkdir(path.dirname(target), {recursive: true, mode: 0o750})
  const dir = held.stat.isDirectory()
  const cur = await fs.lstat(target).catch(() => undefined)
  if (cur && cur.isDirectory() !== dir) await fs.rm(target, {recursive: true})
  if (dir) await fs.mkdir(target, {recursive: true, mode: 0o750})
  else await (await fs.open(target, 'a', 0o600)).close()
  // The mount(8) child resolves the magic link of our descriptor, so it mounts exactly the inode
  // that was checked; --no-canonicalize stops it from turning that link back into a path.
  await run('mount', ['--no-canonicalize', '--bind', `/proc/${process.pid}/fd/${held.handle.fd}`, target])
  const st = await fs.stat(target)
  if (st.dev !== held.stat.dev || st.ino !== held.stat.ino) {
    await unmountUnder(target)
    throw new PodrunError(`bind mount of ${target} does not show the checked path`)
  }
}

export interface SubPathMount {
  /** Index of the mount in the container's volumeMounts. */
  index: number
  volume: string
  /** Host path of the volume. */
  volumePath: string
  /** The subPath (or the expanded subPathExpr). */
  subPath: string
}

/** Resolve and bind every subPath mount of a container; host path by mount index. */
export async function bindSubPaths(podDir: string, container: string, mounts: SubPathMount[]): Promise<Map<number, string>> {
  const out = new Map<number, string>()
  for (const m of mounts) {
    const what = `container ${container}: volumeMounts[${m.index}] (volume ${m.volume})`
    const held = await openInside(m.volumePath, m.subPath, what)
    try {
      const target = subPathTarget(podDir, m.volume, container, m.index)
      await bindHeld(held, target)
      out.set(m.index, target)
    } finally {
      await held.handle.close()
    }
  }
  return out
}

/** Unmount and remove every subPath bind mount of a pod. */
export async function cleanSubPaths(podDir: string): Promise<void> {
  const dir = path.join(podDir, 'volume-subpaths')
  await unmountUnder(dir)
  await fs.rm(dir, {recursive: true, force: true})
}
