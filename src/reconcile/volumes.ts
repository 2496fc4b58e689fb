// Pod volumes on the host: `<podRoot>/<uid>/volumes/<type>/<name>`. emptyDir is a folder that
// lives as long as the pod; hostPath is checked (or created) per its type; configMap, secret,
// downwardAPI and projected volumes are written as files, published atomically through a `..data`
// symlink as the kubelet does, so a reader never sees half an update.
import fs from 'node:fs/promises'
import fsSync from 'node:fs'
import path from 'node:path'
import {createHash} from 'node:crypto'
import type {Pod, Volume} from 'kubernetes-types/core/v1.js'
import {PodrunError} from '../lib/errors.js'
import type {DataLookup} from './container-config.js'
import {joinInside} from '../lib/paths.js'
import {bindHeld, cleanSubPaths, holdPath, mountsUnder, unmountUnder} from './subpath.js'
import {applyFsGroup, ensureTmpfs, onTmpfs, tmpfsMounted, tmpfsSize} from './volume-media.js'
import {fieldValue, resourceValue} from './downward.js'

export function podDir(podRoot: string, uid: string): string {
  return joinInside(podRoot, uid)
}

/**
 * The pod's folder, made (or put back) root-only as the kubelet's: podrun's root and the pods
 * folder 0700, the pod's 0750. No local user reaches a pod's secrets or plants a link in its
 * emptyDir, whatever modes those have inside (containers reach them through their mounts).
 */
export function ensurePodDir(podRoot: string, uid: string): string {
  for (const [dir, mode] of [[path.dirname(podRoot), 0o700], [podRoot, 0o700]] as const) {
    fsSync.mkdirSync(dir, {recursive: true, mode})
    fsSync.chmodSync(dir, mode)
  }
  const dir = podDir(podRoot, uid)
  fsSync.mkdirSync(dir, {mode: 0o750, recursive: true})
  fsSync.chmodSync(dir, 0o750)
  return dir
}

interface FileEntry {
  path: string
  content: string
  mode?: number
}

function items(
  data: Record<string, string>,
  list: {key: string; path: string; mode?: number}[] | undefined,
  what: string,
): FileEntry[] {
  if (!list || list.length === 0) return Object.entries(data).map(([k, v]) => ({path: k, content: v}))
  return list.map((it) => {
    if (!(it.key in data)) throw new PodrunError(`${what}: key "${it.key}" not found`)
    return {path: it.path, content: data[it.key], mode: it.mode}
  })
}

type DownwardItem = {path: string; mode?: number; fieldRef?: {fieldPath: string}; resourceFieldRef?: {containerName?: string; resource: string; divisor?: string | number}}

function downward(pod: Pod, uid: string, list: DownwardItem[]): FileEntry[] {
  const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]
  return list.map((f) => {
    const r = f.resourceFieldRef
    const content = r ? resourceValue(containers.find((c) => c.name === r.containerName), r.resource, r.divisor) : fieldValue(pod, uid, f.fieldRef?.fieldPath ?? '', undefined)
    return {path: f.path, content, mode: f.mode}
  })
}

function filesOf(v: Volume, pod: Pod, uid: string, ns: string, lookup: DataLookup): FileEntry[] | undefined {
  const src = (kind: 'ConfigMap' | 'Secret', name: string, optional: boolean | undefined, list: {key: string; path: string; mode?: number}[] | undefined): FileEntry[] => {
    const data = lookup(kind, ns, name)
    if (!data) {
      if (optional) return []
      throw new PodrunError(`volume ${v.name}: ${kind} "${name}" not found`)
    }
    return items(data, list, `volume ${v.name}`)
  }
  if (v.configMap) return src('ConfigMap', v.configMap.name ?? '', v.configMap.optional, v.configMap.items)
  if (v.secret) return src('Secret', v.secret.secretName ?? '', v.secret.optional, v.secret.items)
  if (v.downwardAPI) return downward(pod, uid, v.downwardAPI.items ?? [])
  if (v.projected) {
    return (v.projected.sources ?? []).flatMap((s) => {
      if (s.configMap) return src('ConfigMap', s.configMap.name ?? '', s.configMap.optional, s.configMap.items)
      if (s.secret) return src('Secret', s.secret.name ?? '', s.secret.optional, s.secret.items)
      if (s.downwardAPI) return downward(pod, uid, s.downwardAPI.items ?? [])
      throw new PodrunError(`volume ${v.name}: this projected source is not supported on a standalone node`)
    })
  }
  return undefined
}

async function publish(dir: string, files: FileEntry[], defaultMode: number, fsGroup: number | undefined): Promise<void> {
  const stamp = `..${Date.now()}_${process.pid}`
  const target = path.join(dir, stamp)
  await fs.mkdir(target)
  for (const f of files) {
    const p = path.join(target, f.path)
    if (!p.startsWith(target + path.sep)) throw new PodrunError(`volume item path ${f.path} leaves the volume`)
    await fs.mkdir(path.dirname(p), {recursive: true})
    await fs.writeFile(p, f.content, {mode: f.mode ?? defaultMode})
    await fs.chmod(p, f.mode ?? defaultMode)
  }
  if (fsGroup !== undefined) await applyFsGroup(target, fsGroup, true)
  // Swap ..data to the new folder in one rename, then point top-level names through it.
  const tmpLink = path.join(dir, '..data_tmp')
  await fs.rm(tmpLink, {force: true})
  await fs.symlink(stamp, tmpLink)
  const old = await fs.readlink(path.join(dir, '..data')).catch(() => undefined)
  await fs.rename(tmpLink, path.join(dir, '..data'))
  const tops = new Set(files.map((f) => f.path.split('/')[0]))
  for (const t of tops) {
    const link = path.join(dir, t)
    const existing = await fs.lstat(link).catch(() => undefined)
    if (!existing) await fs.symlink(path.join('..data', t), link)
  }
  // Names of keys that are gone (an update removed them) would dangle: remove them.
  for (const name of await fs.readdir(dir)) {
    if (name.startsWith('..') || tops.has(name)) continue
    const target = await fs.readlink(path.join(dir, name)).catch(() => undefined)
    if (target?.startsWith('..data/')) await fs.rm(path.join(dir, name), {force: true})
  }
  if (old && old !== stamp) await fs.rm(path.join(dir, old), {recursive: true, force: true})
}

/**
 * A hostPath volume: created or checked per its type on the path held open, then bind-mounted from
 * that descriptor onto `<pod>/volumes/host-path/<name>`, which is what the runtime mounts. A link
 * swapped in after the check (by a container that can write a folder on the way) changes nothing:
 * the container gets the inode that was checked.
 */
async function hostPath(v: Volume, base: string): Promise<string> {
  const hp = v.hostPath!
  const type = hp.type ?? ''
  const fail = (what: string): never => {
    throw new PodrunError(`volume ${v.name}: hostPath ${hp.path} ${what}`)
  }
  let held = await holdPath(hp.path)
  if (!held && type === 'DirectoryOrCreate') {
    await fs.mkdir(hp.path, {recursive: true, mode: 0o755})
    held = await holdPath(hp.path)
  } else if (!held && type === 'FileOrCreate') {
    await fs.mkdir(path.dirname(hp.path), {recursive: true})
    await fs.writeFile(hp.path, '', {mode: 0o644, flag: 'wx'}).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e
    })
    held = await holdPath(hp.path)
  }
  if (!held) {
    // No type: the runtime makes a missing path a folder, as for the kubelet.
    if (type === '') return hp.path
    return fail(type === 'Directory' ? 'is not an existing directory' : type === 'File' ? 'is not an existing file' : `does not exist (type ${type})`)
  }
  try {
    const st = held.stat
    const want: Record<string, [boolean, string]> = {
      DirectoryOrCreate: [st.isDirectory(), 'is not a directory'],
      Directory: [st.isDirectory(), 'is not an existing directory'],
      FileOrCreate: [st.isFile(), 'is not a file'],
      File: [st.isFile(), 'is not an existing file'],
      Socket: [st.isSocket(), 'is not a socket'],
      CharDevice: [st.isCharacterDevice(), 'is not a character device'],
      BlockDevice: [st.isBlockDevice(), 'is not a block device'],
    }
    const check = want[type]
    if (check && !check[0]) fail(check[1])
    const target = path.join(base, 'host-path', v.name)
    await bindHeld(held, target)
    return target
  } finally {
    await held.handle.close()
  }
}

/** Create or refresh every volume of a pod; returns the host path of each by name. */
export async function prepareVolumes(pod: Pod, uid: string, podRoot: string, lookup: DataLookup): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const base = path.join(ensurePodDir(podRoot, uid), 'volumes')
  const ns = pod.metadata?.namespace ?? 'default'
  const fsGroup = pod.spec?.securityContext?.fsGroup
  for (const v of pod.spec?.volumes ?? []) {
    if (v.hostPath) {
      out.set(v.name, await hostPath(v, base))
      continue
    }
    if (v.emptyDir) {
      const dir = path.join(base, 'empty-dir', v.name)
      await fs.mkdir(dir, {recursive: true, mode: 0o777})
      if (onTmpfs(v)) await ensureTmpfs(dir, tmpfsSize(pod, v), 0o777)
      // Only the folder itself: what a container wrote inside is the container's.
      if (fsGroup !== undefined) await fs.chown(dir, 0, fsGroup)
      await fs.chmod(dir, fsGroup === undefined ? 0o777 : 0o2777)
      out.set(v.name, dir)
      continue
    }
    const files = filesOf(v, pod, uid, ns, lookup)
    if (files === undefined) throw new PodrunError(`volume ${v.name}: this volume type is not supported on a standalone node`)
    const mode = defaultModeOf(v)
    const dir = apiVolumeDir(base, v)
    await fs.mkdir(dir, {recursive: true, mode: 0o755})
    if (onTmpfs(v)) await ensureTmpfs(dir, tmpfsSize(pod, v), 0o755)
    if (fsGroup !== undefined) {
      await fs.chown(dir, 0, fsGroup)
      await fs.chmod(dir, 0o2755)
    }
    await publish(dir, files, mode, fsGroup)
    await fs.writeFile(`${dir}.content`, contentHash(files, mode, fsGroup))
    out.set(v.name, dir)
  }
  return out
}

/** Volumes of data the API owns: written as files by podrun, mounted read-only, updated in place. */
export const isApiDataVolume = (v: Volume | undefined): boolean => !!(v?.configMap || v?.secret || v?.downwardAPI || v?.projected)

const defaultModeOf = (v: Volume): number => v.configMap?.defaultMode ?? v.secret?.defaultMode ?? v.downwardAPI?.defaultMode ?? v.projected?.defaultMode ?? 0o644

const apiVolumeDir = (base: string, v: Volume) => path.join(base, v.configMap ? 'configmap' : v.secret ? 'secret' : v.downwardAPI ? 'downward-api' : 'projected', v.name)

/** What a volume's files hold, in one string (kept beside the volume, never inside it). */
const contentHash = (files: FileEntry[], mode: number, fsGroup: number | undefined) =>
  createHash('sha256')
    .update(JSON.stringify([mode, ...(fsGroup === undefined ? [] : [fsGroup]), [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))]))
    .digest('hex')

/**
 * The configMap, secret, downwardAPI and projected volumes of a running pod whose files no longer
 * hold what their sources say: the names, and (update) their files rewritten in place with the
 * same atomic `..data` swap, as the kubelet updates them without restarting anything. subPath
 * mounts and env values keep what they had, as in Kubernetes. A source that cannot be read now
 * (a key gone) leaves the volume as it is.
 */
export async function staleApiVolumes(pod: Pod, uid: string, podRoot: string, lookup: DataLookup, o: {update: boolean}): Promise<string[]> {
  const base = path.join(podDir(podRoot, uid), 'volumes')
  const ns = pod.metadata?.namespace ?? 'default'
  const stale: string[] = []
  for (const v of pod.spec?.volumes ?? []) {
    if (!isApiDataVolume(v)) continue
    const dir = apiVolumeDir(base, v)
    const have = await fs.readFile(`${dir}.content`, 'utf8').catch(() => undefined)
    if (have === undefined) continue // not made yet: the next start makes it
    if (onTmpfs(v) && !(await tmpfsMounted(dir))) continue // gone with a reboot: the next start mounts and fills it
    let files: FileEntry[] | undefined
    try {
      files = filesOf(v, pod, uid, ns, lookup)
    } catch {
      continue
    }
    const mode = defaultModeOf(v)
    const fsGroup = pod.spec?.securityContext?.fsGroup
    const want = contentHash(files ?? [], mode, fsGroup)
    if (want === have) continue
    stale.push(v.name)
    if (o.update) {
      await publish(dir, files ?? [], mode, fsGroup)
      await fs.writeFile(`${dir}.content`, want)
    }
  }
  return stale
}

/**
 * Remove a pod's folder: subPath bind mounts first, and never a folder that still has a mount
 * under it (a recursive removal would go through the mount into a volume or the host).
 */
export async function removePodDir(podRoot: string, uid: string): Promise<void> {
  const dir = podDir(podRoot, uid)
  await cleanSubPaths(dir)
  await unmountUnder(path.join(dir, 'volumes')) // tmpfs volumes
  const left = await mountsUnder(dir)
  if (left.length > 0) throw new PodrunError(`pod folder ${dir} still has mounts (${left.join(', ')}); not removed`)
  await fs.rm(dir, {recursive: true, force: true})
}
