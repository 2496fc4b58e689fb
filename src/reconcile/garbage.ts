// What garbage collection removes, decided from one look at the runtime and the log folders, as
// the kubelet's container and image GC decide it. Pure: gathering and removing are in
// garbage-collect.ts. Only podrun's own containers, sandboxes, logs and links are touched, and
// nothing that runs:
//   - dead containers beyond the newest instance and one exited before it, per pod and name (so
//     `logs --previous` keeps working), and every exited container of an older sandbox;
//   - sandboxes that are not ready and hold nothing running: older ones of a pod, and the newest
//     one of a pod that no longer exists (no applied record, no manifest, nobody wants it);
//   - log folders of pods the runtime no longer has, log files of containers that are gone, and
//     /var/log/containers links of containers that are gone;
//   - images no container uses (nor a known pod names), every one with `--images`, or the least
//     recently used down to the low threshold once the image file system passes the high one.
import type {Container, Image, PodSandbox} from '../gen/runtime/v1/api.js'
import {groupPods} from './observe.js'
import {Label, MANAGED_BY} from './labels.js'

/** A pod log folder as found on disk: `<namespace>_<name>_<uid>`, with its containers' files. */
export interface LogDir {
  name: string
  /** Milliseconds since the epoch. */
  mtimeMs: number
  /** `<container>/<attempt>.log` and its rotated files, as relative paths. */
  files: string[]
}

export interface LogLink {
  name: string
  /** Whether what it points at exists. */
  targetExists: boolean
}

export interface ImagePolicy {
  /** 'all': every unused image; 'threshold': past high percent of the image file system, down to low. */
  mode: 'none' | 'all' | 'threshold'
  highPercent?: number
  lowPercent?: number
  /** The image file system (the runtime's ImageFsInfo mount point), as statfs sees it. */
  usage?: {capacityBytes: number; availableBytes: number}
  /** When each image was last seen in use (ms), for least-recently-used order; unknown is oldest. */
  lastUsed?: Map<string, number>
  /** Images first seen less than this long ago are kept (the kubelet's minimum image age). */
  minAgeMs?: number
  firstSeen?: Map<string, number>
}

export interface GarbageInput {
  /** Every sandbox and container of the runtime, podrun's or not (others' are only read). */
  sandboxes: PodSandbox[]
  containers: Container[]
  images: Image[]
  logDirs: LogDir[]
  links: LogLink[]
  /** Whether a pod podrun made still exists for someone: an applied record, a manifest, the daemon. */
  podExists(p: {namespace: string; name: string; source: string}): boolean
  /** Image references that known pods name (kept even when no container uses them yet), and the runtime's sandbox image. */
  wantedImages: Set<string>
  imagePolicy: ImagePolicy
  now: number
}

export interface GarbagePlan {
  containers: {id: string; pod: string; name: string; attempt: number; why: string}[]
  sandboxes: {id: string; pod: string; why: string}[]
  /** Paths relative to the log root. */
  logs: {path: string; why: string}[]
  links: {name: string; why: string}[]
  images: {id: string; ref: string; size: number; why: string}[]
}

/** A log folder is left alone this long after its last change: its pod may be starting. */
const LOG_DIR_MIN_AGE_MS = 60_000
/** `<namespace>_<name>_<uid>`: the kubelet's pod log folder name. */
const POD_LOG_DIR = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)_([a-z0-9]([-.a-z0-9]*[a-z0-9])?)_([A-Za-z0-9-]+)$/
/** `<pod>_<namespace>_<container>-<64 hex>.log`: the kubelet's link name. */
const LINK_NAME = /^[^_/]+_[^_/]+_[^/]+-([0-9a-f]{64})\.log$/
/** `<container>/<attempt>.log`, or a rotated copy of it. */
const LOG_FILE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/(\d+)\.log(\.\d{8}-\d{6}(\.gz)?)?$/

const EXITED = 2

const isOurs = (labels: Record<string, string>): boolean => labels[Label.managedBy] === MANAGED_BY

/** Why a pod's sandboxes go when nobody wants the pod any more (its folder and cgroup go too). */
export const GONE = 'its pod no longer exists'

export function planGarbage(input: GarbageInput): GarbagePlan {
  const plan: GarbagePlan = {containers: [], sandboxes: [], logs: [], links: [], images: []}
  const ourSandboxes = input.sandboxes.filter((s) => isOurs(s.labels))
  const ourContainers = input.containers.filter((c) => isOurs(c.labels))
  const removed = new Set<string>()
  const removeContainer = (c: {id: string; name: string; attempt: number}, pod: string, why: string): void => {
    plan.containers.push({id: c.id, pod, name: c.name, attempt: c.attempt, why})
    removed.add(c.id)
  }

  // Containers whose sandbox the runtime no longer has.
  const sandboxIds = new Set(input.sandboxes.map((s) => s.id))
  for (const c of ourContainers) {
    if (c.state === EXITED && !sandboxIds.has(c.podSandboxId)) {
      removeContainer({id: c.id, name: c.metadata?.name ?? '', attempt: c.metadata?.attempt ?? 0}, `${c.labels[Label.podNamespace]}/${c.labels[Label.podName]}`, 'its sandbox is gone')
    }
  }

  for (const pod of groupPods(ourSandboxes, ourContainers)) {
    const [newest, ...older] = pod.sandboxes
    const runs = (sandboxId: string) => pod.containers.some((c) => c.podSandboxId === sandboxId && c.state !== 'EXITED')
    const gone = !input.podExists(pod) && newest.state !== 'READY' && !runs(newest.id)
    for (const s of gone ? pod.sandboxes : older) {
      if (s.state === 'READY' || runs(s.id)) continue
      for (const c of pod.containers) if (c.podSandboxId === s.id) removeContainer(c, pod.key, gone ? GONE : 'its sandbox was replaced')
      plan.sandboxes.push({id: s.id, pod: pod.key, why: gone ? GONE : 'replaced by a newer sandbox'})
    }
    if (gone) continue
    // The newest sandbox: per name, the newest instance and one exited before it stay.
    const byName = new Map<string, typeof pod.containers>()
    for (const c of pod.containers) if (c.podSandboxId === newest.id) byName.set(c.name, [...(byName.get(c.name) ?? []), c])
    for (const list of byName.values()) {
      for (const c of list.slice(2)) if (c.state === 'EXITED') removeContainer(c, pod.key, 'an older dead instance')
    }
  }

  // Logs: folders of pods the runtime has no sandbox of, and files of containers that are gone.
  const removedSandboxes = new Set(plan.sandboxes.map((s) => s.id))
  const liveUids = new Set(input.sandboxes.filter((s) => !removedSandboxes.has(s.id)).map((s) => s.labels[Label.podUid] ?? s.metadata?.uid ?? ''))
  const staying = input.containers.filter((c) => !removed.has(c.id))
  const sandboxUid = new Map(input.sandboxes.map((s) => [s.id, s.labels[Label.podUid] ?? s.metadata?.uid ?? '']))
  const instances = new Set(staying.map((c) => `${sandboxUid.get(c.podSandboxId)}/${c.metadata?.name}/${c.metadata?.attempt ?? 0}`))
  for (const dir of input.logDirs) {
    const m = POD_LOG_DIR.exec(dir.name)
    if (!m) continue
    const uid = m[5]
    if (!liveUids.has(uid)) {
      // A pod that still exists may be between two sandboxes: its folder stays.
      const known = input.podExists({namespace: m[1], name: m[3], source: ''})
      if (!known && input.now - dir.mtimeMs >= LOG_DIR_MIN_AGE_MS) plan.logs.push({path: dir.name, why: 'its pod is gone'})
      continue
    }
    for (const f of dir.files) {
      const fm = LOG_FILE.exec(f)
      if (fm && !instances.has(`${uid}/${fm[1]}/${fm[3]}`)) plan.logs.push({path: `${dir.name}/${f}`, why: 'its container is gone'})
    }
  }
  const stayingIds = new Set(staying.map((c) => c.id))
  for (const l of input.links) {
    const m = LINK_NAME.exec(l.name)
    if (!m) continue
    if (!stayingIds.has(m[1])) plan.links.push({name: l.name, why: 'its container is gone'})
    else if (!l.targetExists) plan.links.push({name: l.name, why: 'its log file is gone'})
  }

  plan.images = planImages(input, staying)
  return plan
}

function planImages(input: GarbageInput, staying: Container[]): GarbagePlan['images'] {
  const p = input.imagePolicy
  if (p.mode === 'none') return []
  const used = imagesInUse(staying, input.wantedImages)
  const unused = input.images.filter((i) => !i.pinned && !isUsed(i, used))
  const ref = (i: Image) => i.repoTags[0] ?? i.repoDigests[0] ?? i.id
  if (p.mode === 'all') return unused.map((i) => ({id: i.id, ref: ref(i), size: Number(i.size), why: 'no container uses it'}))
  const usage = p.usage
  if (!usage || usage.capacityBytes <= 0) return []
  // The kubelet's arithmetic: the whole file system's use, freed down to the low mark.
  const high = p.highPercent ?? 85
  const low = p.lowPercent ?? 80
  const percent = 100 - (usage.availableBytes * 100) / usage.capacityBytes
  if (percent < high) return []
  let toFree = (usage.capacityBytes * (100 - low)) / 100 - usage.availableBytes
  const old = unused.filter((i) => input.now - (p.firstSeen?.get(i.id) ?? 0) >= (p.minAgeMs ?? 0))
  old.sort((a, b) => (p.lastUsed?.get(a.id) ?? 0) - (p.lastUsed?.get(b.id) ?? 0) || Number(b.size - a.size))
  const out: GarbagePlan['images'] = []
  for (const i of old) {
    if (toFree <= 0) break
    out.push({id: i.id, ref: ref(i), size: Number(i.size), why: `the image file system is ${Math.round(percent)}% full (--image-gc-high-threshold ${high})`})
    toFree -= Number(i.size)
  }
  return out
}

/** Every name the containers' images go by (ids and full references), and those of `wanted` references. */
export function imagesInUse(containers: Container[], wanted: Iterable<string> = []): Set<string> {
  const used = new Set<string>()
  for (const c of containers) {
    for (const r of [c.imageRef, c.image?.image, c.image?.userSpecifiedImage]) if (r) used.add(r.startsWith('sha256:') ? r : normalizeImageRef(r))
  }
  for (const r of wanted) used.add(normalizeImageRef(r))
  return used
}

/** Whether an image goes by one of the names in use (its id, a tag or a digest). */
export function isUsed(i: Image, used: Set<string>): boolean {
  return used.has(i.id) || [...i.repoTags, ...i.repoDigests].some((t) => used.has(normalizeImageRef(t)))
}

/** An image reference in full, as the runtime names it: `busybox` is `docker.io/library/busybox:latest`. */
export function normalizeImageRef(ref: string): string {
  const slash = ref.indexOf('/')
  const first = slash < 0 ? '' : ref.slice(0, slash)
  const hasRegistry = first.includes('.') || first.includes(':') || first === 'localhost'
  let full = hasRegistry ? ref : `docker.io/${slash < 0 ? 'library/' : ''}${ref}`
  const lastPart = full.slice(full.lastIndexOf('/') + 1)
  if (!full.includes('@') && !lastPart.includes(':')) full += ':latest'
  return full
}
