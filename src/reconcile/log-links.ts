// The kubelet's /var/log/containers links: one per container, named
// `<pod>_<namespace>_<container>-<container id>.log`, pointing at the container's log file in the
// pod's log folder. Log shippers' stock Kubernetes configurations (Fluent Bit, Vector, Promtail)
// tail `/var/log/containers/*.log` and read pod, namespace and container from the name. A removed
// container's link goes with it, and so do its log file and the file's rotated copies.
import fs from 'node:fs/promises'
import {joinInside} from '../lib/paths.js'
import {rotatedLogs} from './container-logs.js'
import {containerLogFile} from './sandbox-config.js'

const linkOf = (root: string, c: {pod: string; namespace: string; container: string; id: string}): string =>
  joinInside(root, `${c.pod}_${c.namespace}_${c.container}-${c.id}.log`)

/** Links a new container's log (the folder made if missing; a link left over is replaced). */
export async function linkContainerLog(root: string, c: {pod: string; namespace: string; container: string; id: string}, target: string): Promise<void> {
  await fs.mkdir(root, {recursive: true, mode: 0o755})
  const link = linkOf(root, c)
  await fs.rm(link, {force: true})
  await fs.symlink(target, link)
}

/** Removes a removed container's link (nothing if it has none). */
export async function unlinkContainerLog(root: string, c: {pod: string; namespace: string; container: string; id: string}): Promise<void> {
  try {
    await fs.rm(linkOf(root, c), {force: true})
  } catch {
    // A name read back from the runtime that is not a plain name has no link of ours.
  }
}

/** Removes a removed container's log file and its rotated copies (its pod's folder stays). */
export async function removeContainerLogFiles(logRoot: string, c: {labels: Record<string, string>; name: string; attempt: number}): Promise<void> {
  let file: string
  try {
    file = containerLogFile(logRoot, c.labels, c.name, c.attempt)
  } catch {
    return // labels that are not plain names: no file of ours
  }
  for (const f of [file, ...(await rotatedLogs(file).catch(() => []))]) await fs.rm(f, {force: true})
}
