// Garbage collection, carried out: one look at the runtime (every sandbox, container and image,
// the image file system) and at the log folders, the pure plan of garbage.ts, then the removals.
// `podrun prune` runs it once; the daemon every --gc-period, with images only past the high
// threshold. Every path comes from a name read on disk or from the runtime, so each is joined
// inside its root (joinInside) and nothing is followed through a symlink.
import {existsSync} from 'node:fs'
import fs from 'node:fs/promises'
import path from 'node:path'
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {CriClient} from '../cri/client.js'
import type {Container, Image} from '../gen/runtime/v1/api.js'
import {cgroupRoot, containerLogLinkRoot, joinInside, logRoot, podRoot} from '../lib/paths.js'
import {annotationJson, Annotation, Label} from './labels.js'
import {GONE, type GarbagePlan, type ImagePolicy, type LogDir, type LogLink, planGarbage} from './garbage.js'
import {tolerateGone} from './execute.js'
import {removePodCgroupDirs} from './pod-cgroup.js'
import {cgroupParent} from './sandbox-config.js'
import {removePodDir} from './volumes.js'
import {appliedPods} from './applied-store.js'
import {APPLY_SOURCE, isUrlSource} from './ownership.js'

export interface CollectOptions {
  logRoot: string
  linkRoot: string
  podRoot: string
  cgroupRoot: string
  cgroupFs?: string
  podExists(p: {namespace: string; name: string; source: string}): boolean
  wantedImages: Set<string>
  imagePolicy: ImagePolicy
  now?: number
  /** Sees the pass's listing of images and containers before the plan is made (the daemon's image ages). */
  onListed?: (images: Image[], containers: Container[]) => void
}

/** Where podrun keeps what garbage collection looks at on the host (lib/paths.ts). */
export function hostRoots(): Pick<CollectOptions, 'logRoot' | 'linkRoot' | 'podRoot' | 'cgroupRoot'> {
  return {logRoot: logRoot(), linkRoot: containerLogLinkRoot(), podRoot: podRoot(), cgroupRoot: cgroupRoot()}
}

/** The pods `apply` recorded ("namespace/name") and the images they name: what `prune` knows without a daemon. */
export function appliedKnown(root?: string): {keys: Set<string>; images: Set<string>} {
  const applied = appliedPods(root)
  return {
    keys: new Set(applied.map((p) => `${p.namespace}/${p.name}`)),
    images: new Set(applied.flatMap((p) => [...p.initContainers, ...p.containers].map((c) => c.image))),
  }
}

/**
 * Which pods still exist for someone, and the images they name: the known pods (apply's records,
 * or the daemon's, which hold them too), a pod of a manifest folder while its file is there, and
 * a pod of a manifest URL (only its daemon, which fetches the URL, can tell it is gone: it prunes it).
 */
export function knownPods(known: {keys: Set<string>; images: Set<string>}): Pick<CollectOptions, 'podExists' | 'wantedImages'> {
  return {
    wantedImages: known.images,
    podExists: (p) => known.keys.has(`${p.namespace}/${p.name}`) || isUrlSource(p.source) || (p.source !== APPLY_SOURCE && path.isAbsolute(p.source) && existsSync(p.source)),
  }
}

async function readLogDirs(root: string): Promise<LogDir[]> {
  const out: LogDir[] = []
  for (const e of await fs.readdir(root, {withFileTypes: true}).catch(() => [])) {
    if (!e.isDirectory()) continue // a symlink is not a pod's log folder
    const dir = joinInside(root, e.name)
    const st = await fs.lstat(dir).catch(() => undefined)
    if (!st) continue
    const files: string[] = []
    for (const c of await fs.readdir(dir, {withFileTypes: true}).catch(() => [])) {
      if (!c.isDirectory()) continue
      for (const f of await fs.readdir(joinInside(dir, c.name), {withFileTypes: true}).catch(() => [])) if (f.isFile()) files.push(`${c.name}/${f.name}`)
    }
    out.push({name: e.name, mtimeMs: st.mtimeMs, files})
  }
  return out
}

async function readLinks(root: string): Promise<LogLink[]> {
  const out: LogLink[] = []
  for (const e of await fs.readdir(root, {withFileTypes: true}).catch(() => [])) {
    if (!e.isSymbolicLink()) continue
    const targetExists = await fs.stat(joinInside(root, e.name)).then(
      () => true,
      () => false,
    )
    out.push({name: e.name, targetExists})
  }
  return out
}

/** The runtime's sandbox (pause) image, from its configuration; it is in use though no container names it. */
async function sandboxImage(cri: CriClient): Promise<string | undefined> {
  const st = await cri.status(true).catch(() => undefined)
  try {
    const cfg = JSON.parse(st?.info.config ?? '{}') as {sandboxImage?: string; pinnedImages?: {sandbox?: string}}
    return cfg.pinnedImages?.sandbox ?? cfg.sandboxImage
  } catch {
    return undefined
  }
}

/** The image file system's capacity and free space, from the runtime's ImageFsInfo mount point. */
export async function imageFsUsage(cri: CriClient): Promise<{capacityBytes: number; availableBytes: number; mountpoint: string} | undefined> {
  const info = await cri.imageFsInfo().catch(() => undefined)
  const mountpoint = info?.imageFilesystems[0]?.fsId?.mountpoint
  if (!mountpoint) return undefined
  const s = await fs.statfs(mountpoint).catch(() => undefined)
  if (!s) return undefined
  return {capacityBytes: s.blocks * s.bsize, availableBytes: s.bavail * s.bsize, mountpoint}
}

export async function planCollection(cri: CriClient, o: CollectOptions): Promise<{plan: GarbagePlan; sandboxes: Awaited<ReturnType<CriClient['listPodSandbox']>>}> {
  // The files first, then the runtime: a file seen belongs to a container made before the
  // listing, so a container being created now never loses its new log file.
  const [logDirs, links] = await Promise.all([readLogDirs(o.logRoot), readLinks(o.linkRoot)])
  const [sandboxes, containers, images, pause, usage] = await Promise.all([
    cri.listPodSandbox({}),
    cri.listContainers({}),
    o.imagePolicy.mode === 'none' ? Promise.resolve([]) : cri.listImages(),
    sandboxImage(cri),
    o.imagePolicy.mode === 'threshold' && !o.imagePolicy.usage ? imageFsUsage(cri) : Promise.resolve(undefined),
  ])
  o.onListed?.(images, containers)
  const wantedImages = new Set(o.wantedImages)
  if (pause) wantedImages.add(pause)
  const plan = planGarbage({
    sandboxes,
    containers,
    images,
    logDirs,
    links,
    podExists: o.podExists,
    wantedImages,
    imagePolicy: {...o.imagePolicy, usage: o.imagePolicy.usage ?? usage},
    now: o.now ?? Date.now(),
  })
  return {plan, sandboxes}
}

export interface Removal {
  kind: 'container' | 'sandbox' | 'log' | 'link' | 'image'
  what: string
  why: string
  bytes?: number
  error?: string
}

/** What the plan removes, one line each, in the order it is removed. */
export function listPlan(plan: GarbagePlan, o: Pick<CollectOptions, 'logRoot' | 'linkRoot'>): Removal[] {
  return [
    ...plan.containers.map((c): Removal => ({kind: 'container', what: `${c.pod}/${c.name} #${c.attempt} (${c.id.slice(0, 13)})`, why: c.why})),
    ...plan.sandboxes.map((s): Removal => ({kind: 'sandbox', what: `${s.pod} (${s.id.slice(0, 13)})`, why: s.why})),
    ...plan.logs.map((l): Removal => ({kind: 'log', what: joinInside(o.logRoot, ...l.path.split('/')), why: l.why})),
    ...plan.links.map((l): Removal => ({kind: 'link', what: joinInside(o.linkRoot, l.name), why: l.why})),
    ...plan.images.map((i): Removal => ({kind: 'image', what: i.ref, why: i.why, bytes: i.size})),
  ]
}

/** Removes what the plan names, in listPlan's order; a sandbox of a gone pod takes the pod's folder and cgroup with it. */
export async function carryOut(cri: CriClient, plan: GarbagePlan, sandboxes: Awaited<ReturnType<CriClient['listPodSandbox']>>, o: CollectOptions): Promise<Removal[]> {
  const byId = new Map(sandboxes.map((s) => [s.id, s]))
  const removeSandbox = async (s: GarbagePlan['sandboxes'][number]): Promise<void> => {
    await tolerateGone(cri.stopPodSandbox(s.id))
    await tolerateGone(cri.removePodSandbox(s.id))
    if (s.why !== GONE) return
    const sb = byId.get(s.id)
    const uid = sb?.labels[Label.podUid] ?? ''
    const stays = (x: (typeof sandboxes)[number]) => x.id !== s.id && x.labels[Label.podUid] === uid && !plan.sandboxes.some((p) => p.id === x.id)
    if (!uid || sandboxes.some(stays)) return
    await removePodDir(o.podRoot, uid)
    const pod = annotationJson<Pod>(sb?.annotations, Annotation.podSpec)
    if (pod) await removePodCgroupDirs(o.cgroupFs ?? '/sys/fs/cgroup', cgroupParent(pod, uid, o.cgroupRoot))
  }
  const actions: (() => Promise<unknown>)[] = [
    ...plan.containers.map((c) => () => tolerateGone(cri.removeContainer(c.id))),
    ...plan.sandboxes.map((s) => () => removeSandbox(s)),
    ...plan.logs.map((l) => () => fs.rm(joinInside(o.logRoot, ...l.path.split('/')), {recursive: true, force: true})),
    ...plan.links.map((l) => () => fs.rm(joinInside(o.linkRoot, l.name), {force: true})),
    ...plan.images.map((i) => () => tolerateGone(cri.removeImage(i.id))),
  ]
  const done = listPlan(plan, o)
  for (const [i, r] of done.entries()) {
    try {
      await actions[i]()
    } catch (e) {
      r.error = (e as Error).message
    }
  }
  return done
}
