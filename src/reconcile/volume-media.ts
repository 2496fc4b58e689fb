// What a pod volume lives on and who may read it, as the kubelet sets it up: secret and projected
// volumes, and emptyDir volumes with `medium: Memory`, are tmpfs mounts (a secret never reaches
// the disk; a power cut forgets it), sized by `sizeLimit` and the pod's memory limit; `fsGroup`
// makes the volumes podrun creates group-owned by that group (setgid folders), with the kubelet's
// modes: files of read-only volumes gain 0440, emptyDir folders stay writable to all.
import {execFile} from 'node:child_process'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import type {Pod, Volume} from 'kubernetes-types/core/v1.js'
import {bytes} from '../lib/quantity.js'
import {PodrunError} from '../lib/errors.js'
import {mountsUnder} from './subpath.js'
import {podMemoryLimit} from './pod-cgroup.js'

const run = promisify(execFile)

/** Whether a volume is a tmpfs mount. */
export const onTmpfs = (v: Volume): boolean => !!(v.secret || v.projected || v.emptyDir?.medium === 'Memory')

/**
 * The size of a memory-backed volume (Kubernetes' SizeMemoryBackedVolumes): the smallest of its
 * sizeLimit, the pod's memory limit and the machine's memory.
 */
export function tmpfsSize(pod: Pod, v: Volume): number {
  const limits = [os.totalmem(), podMemoryLimit(pod), v.emptyDir?.sizeLimit === undefined ? undefined : bytes(v.emptyDir.sizeLimit)]
  return Math.min(...limits.filter((x): x is number => x !== undefined && x > 0))
}

/** Whether something is mounted on `dir` itself (a tmpfs volume's mount is gone after a reboot until the pod starts again). */
export async function tmpfsMounted(dir: string): Promise<boolean> {
  return (await mountsUnder(dir)).includes(dir)
}

/** A tmpfs on `dir` (a folder podrun made), of `size` bytes; one already there is resized. */
export async function ensureTmpfs(dir: string, size: number, mode: number): Promise<void> {
  const st = await fs.lstat(dir)
  if (!st.isDirectory()) throw new PodrunError(`${dir} is not a folder; not mounting over it`)
  const opts = `size=${Math.max(4096, Math.floor(size))},nosuid,nodev`
  try {
    if (await tmpfsMounted(dir)) {
      await run('mount', ['--no-canonicalize', '-o', `remount,${opts}`, dir])
      return
    }
    await run('mount', ['--no-canonicalize', '-t', 'tmpfs', '-o', `${opts},mode=${mode.toString(8).padStart(4, '0')}`, 'tmpfs', dir])
  } catch (e) {
    const msg = ((e as {stderr?: string}).stderr || (e as Error).message).trim()
    throw new PodrunError(`could not mount a tmpfs on ${dir}: ${msg}`, {reason: 'FailedMount'})
  }
}

/**
 * `fsGroup` on files podrun wrote (a folder no container can write yet): group ownership, setgid
 * on every folder, and the kubelet's mode bits (read-only volumes: group read; writable: group
 * read and write). Links are left alone: their targets are inside the same tree.
 */
export async function applyFsGroup(root: string, gid: number, readOnly: boolean): Promise<void> {
  const mask = readOnly ? 0o440 : 0o660
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p)
    if (st.isSymbolicLink()) return
    await fs.lchown(p, st.uid, gid)
    if (st.isDirectory()) {
      await fs.chmod(p, (st.mode & 0o7777) | mask | 0o2110)
      for (const name of await fs.readdir(p)) await walk(path.join(p, name))
    } else {
      await fs.chmod(p, (st.mode & 0o7777) | mask)
    }
  }
  await walk(root)
}
