// The executor: carries out a pod's planned actions with CRI calls, in the kubelet's SyncPod order.
// It decides nothing; it stops at the first failure of a pod, and the next pass retries. Pods run
// side by side; what is limited is runtime work (limits.ts): each mutating call takes a slot for its
// own duration, and a StopContainer waiting out a grace period takes none. One pod's failure never
// blocks another. Calls that create things (RunPodSandbox, CreateContainer, StartContainer) are not
// retried in place: after a timeout the runtime may have acted, so the pod's next pass observes and
// adopts or removes what was made. Idempotent calls (stop, remove, status) are retried.
import fs from 'node:fs/promises'
import path from 'node:path'
import type {CriClient} from '../cri/client.js'
import {isNotFound} from '../cri/errors.js'
import type {DesiredPod} from '../model/desired.js'
import type {ActualContainer, ActualPod} from '../model/actual.js'
import {runHandler} from './handlers.js'
import {writeHostsFile} from './etc-hosts.js'
import {makeTerminationLog} from './termination.js'
import {isPodrunError, PodrunError} from '../lib/errors.js'
import type {PodActions, PodChange} from './plan.js'
import {buildSandboxConfig, cgroupParent, podLogDir, type HostDns} from './sandbox-config.js'
import {appArmorViolation, buildContainerConfig, hostHasAppArmor, nonRootViolation, subPathMounts, type ContainerContext, type DataLookup} from './container-config.js'
import {ImagePuller, type PullPolicy} from './images.js'
import {podDir, prepareVolumes, removePodDir, staleApiVolumes} from './volumes.js'
import {bindSubPaths} from './subpath.js'
import {withRetry} from './retry.js'
import type {Limits} from './limits.js'
import type {PodSandboxConfig} from '../cri/types.js'
import {NamespaceMode} from '../gen/runtime/v1/api.js'
import type {Container} from 'kubernetes-types/core/v1.js'
import {Annotation, annotationJson} from './labels.js'
import {pullCredentials} from './pull-secrets.js'
import {linkContainerLog, removeContainerLogFiles, unlinkContainerLog} from './log-links.js'
import {podCgroupLimits, removePodCgroupDirs, writePodCgroup} from './pod-cgroup.js'
import {containerAsRecorded, podAsCreated, podAsRecorded, writeRecord} from './pod-record.js'

export interface ExecContext {
  cri: CriClient
  puller: ImagePuller
  /** Shared by every pod (and every pass, in the daemon). */
  limits: Limits
  /** Root of pod log folders (kubelet layout). */
  logRoot: string
  /** Where the kubelet-style links to each container's log go (log-links.ts); none when unset. */
  logLinkRoot?: string
  /** Root of pod folders (volumes). */
  podRoot: string
  /** Top of podrun's cgroup tree, e.g. "/podrun". */
  cgroupRoot: string
  /** Where cgroup v1 controllers are mounted, for removing a pod's cgroup folder. */
  cgroupFs?: string
  hostDns: HostDns
  nodeName: string
  hostIP: string
  data: DataLookup
  /** Overrides every pod's grace period (delete --grace-period). */
  gracePeriodSeconds?: number
  /** Progress of one pod, for spinners and logs. */
  onStep?: (key: string, step: string) => void
  /** What happened to a pod, as the kubelet's events name it (Pulling, Pulled, Created, Started, Killing...). */
  onEvent?: (key: string, type: 'Normal' | 'Warning', reason: string, message: string) => void
}

export interface PodResult {
  key: string
  name: string
  namespace: string
  change: PodChange
  ok: boolean
  /** Kubernetes-style reason of a failure, e.g. ErrImagePull. */
  reason?: string
  error?: string
  sandboxId?: string
  /** Mutating CRI calls made for this pod. */
  mutations: number
  /** The container being started when it failed. */
  container?: string
}

const grace = (ctx: ExecContext, d: DesiredPod | undefined, a: ActualPod | undefined): number => {
  if (ctx.gracePeriodSeconds !== undefined) return ctx.gracePeriodSeconds
  if (d) return d.terminationGracePeriodSeconds
  return podAsRecorded(a)?.spec?.terminationGracePeriodSeconds ?? Number(a?.sandboxes[0]?.annotations[Annotation.terminationGracePeriod] ?? 30)
}

export async function tolerateGone(p: Promise<unknown>): Promise<void> {
  try {
    await p
  } catch (e) {
    if (!isNotFound(e)) throw e
  }
}

/** A failure with the kubelet's reason for its step, unless it already carries a more precise one. */
const withReason = (e: unknown, reason: string): PodrunError => (isPodrunError(e) && e.reason !== 'Error' ? e : new PodrunError((e as Error).message, {reason, cause: e}))

/** A mutating call under the runtime limit. */
const mutate = <T>(ctx: ExecContext, fn: () => Promise<T>): Promise<T> => ctx.limits.runtime.run(fn)

/** How long a postStart hook may take before it counts as failed. */
const POST_START_TIMEOUT_MS = 60_000

/**
 * Stops a container as the kubelet does: its preStop hook first, inside the grace period, then
 * StopContainer with what is left of it (at least 2 s after a hook that used it all). Neither holds
 * a slot: with a PID 1 that ignores SIGTERM, a stop lasts the whole grace period.
 */
export async function stopWithPreStop(cri: CriClient, c: {id: string; spec?: Container; podIP: () => Promise<string>}, graceSeconds: number, onHookFailed?: (message: string) => void): Promise<void> {
  let grace = graceSeconds
  const hook = c.spec?.lifecycle?.preStop
  if (hook && grace > 0) {
    const t0 = Date.now()
    const podIP = hook.httpGet || hook.tcpSocket ? await c.podIP().catch(() => '127.0.0.1') : ''
    const r = await runHandler(hook, {cri, containerId: c.id, container: c.spec!, podIP}, grace * 1000)
    if (!r.ok) onHookFailed?.(r.message)
    grace = Math.max(2, Math.ceil(grace - (Date.now() - t0) / 1000))
  }
  await tolerateGone(withRetry(() => cri.stopContainer(c.id, grace)))
}

/** A running container of the pod, stopped with its preStop hook (the spec it was made with). */
const stop = (ctx: ExecContext, a: ActualPod | undefined, c: ActualContainer | undefined, id: string, graceSeconds: number, podIP: () => Promise<string>): Promise<void> =>
  stopWithPreStop(ctx.cri, {id, spec: c?.state === 'RUNNING' ? specInEffect(a, c) : undefined, podIP}, graceSeconds)

/** A container's spec as in effect: the pod's record (a changed preStop hook) when it is current, else its own. */
function specInEffect(a: ActualPod | undefined, c: ActualContainer): Container | undefined {
  return (c.podSandboxId === a?.sandboxes[0]?.id ? containerAsRecorded(a, c.name) : undefined) ?? annotationJson<Container>(c.annotations, Annotation.containerSpec)
}

/** Whether the runtime handler of a pod makes recursive read-only mounts (asked when a mount wants them). */
async function recursiveReadOnlySupported(cri: CriClient, handler: string): Promise<boolean> {
  const st = await withRetry(() => cri.status())
  return st.runtimeHandlers.some((h) => h.name === handler && h.features?.recursiveReadOnlyMounts === true)
}

/** Where hooks and probes reach a pod: its IP, or 127.0.0.1 on the host network (or without one). */
export function sandboxIP(cri: CriClient, sandboxId: string): Promise<string> {
  return cri.podSandboxStatus(sandboxId).then((s) => (s.status?.linux?.namespaces?.options?.network === NamespaceMode.NODE ? '127.0.0.1' : s.status?.network?.ip || '127.0.0.1'))
}

/** The pod's IP, asked of the runtime once, when a hook needs it. */
function podIPOf(ctx: ExecContext, sandboxId: string | undefined): () => Promise<string> {
  let p: Promise<string> | undefined
  return () => (p ??= sandboxId ? sandboxIP(ctx.cri, sandboxId) : Promise.resolve('127.0.0.1'))
}

/** An idempotent mutating call (stop, remove): retried, under the runtime limit, done if already gone. */
const cleanup = (ctx: ExecContext, fn: () => Promise<unknown>): Promise<void> => tolerateGone(withRetry(() => mutate(ctx, fn)))

async function removeSandbox(ctx: ExecContext, id: string, count: () => void): Promise<void> {
  count()
  await cleanup(ctx, () => ctx.cri.stopPodSandbox(id))
  count()
  await cleanup(ctx, () => ctx.cri.removePodSandbox(id))
}

/** Stop every container at once, then every sandbox of a pod, then remove the sandboxes (and their containers). */
async function killPod(ctx: ExecContext, a: ActualPod, graceSeconds: number, count: () => void): Promise<void> {
  const running = a.containers.filter((c) => c.state === 'RUNNING' || c.state === 'CREATED' || c.state === 'UNKNOWN')
  const ips = new Map(a.sandboxes.map((sb) => [sb.id, podIPOf(ctx, sb.id)]))
  const stopOne = async (c: ActualContainer, grace: number) => {
    count()
    await stop(ctx, a, c, c.id, grace, ips.get(c.podSandboxId) ?? podIPOf(ctx, undefined))
  }
  // The app containers at once; then the native sidecars, last started first, each with what is
  // left of the grace period (Kubernetes 1.29+).
  const order = (podAsRecorded(a)?.spec?.initContainers ?? []).filter((c) => c.restartPolicy === 'Always').map((c) => c.name)
  const isSidecar = (c: ActualContainer) => annotationJson<Container>(c.annotations, Annotation.containerSpec)?.restartPolicy === 'Always'
  const deadline = Date.now() + graceSeconds * 1000
  await Promise.all(running.filter((c) => !isSidecar(c)).map((c) => stopOne(c, graceSeconds)))
  const sidecars = running.filter(isSidecar).sort((x, y) => order.indexOf(y.name) - order.indexOf(x.name))
  for (const c of sidecars) await stopOne(c, Math.max(0, Math.ceil((deadline - Date.now()) / 1000)))
  for (const s of a.sandboxes) await removeSandbox(ctx, s.id, count)
}

const removePodCgroup = (ctx: ExecContext, parent: string): Promise<void> => removePodCgroupDirs(ctx.cgroupFs ?? '/sys/fs/cgroup', parent)

/**
 * Carries out one pod's actions. `signal` cancels between steps (the pod was removed meanwhile):
 * a call in flight is finished, nothing new is started, and the pod's next sync undoes what was
 * made. Stopping and removing are never cancelled.
 */
export async function executePod(a: PodActions, ctx: ExecContext, signal?: AbortSignal): Promise<PodResult> {
  const res: PodResult = {key: a.key, name: a.name, namespace: a.namespace, change: a.change, ok: true, mutations: 0, sandboxId: a.sandboxId}
  const count = () => res.mutations++
  const step = (s: string) => {
    if (signal?.aborted) throw new PodrunError('cancelled: the pod changed while it was being started', {reason: 'Cancelled'})
    ctx.onStep?.(a.key, s)
  }
  const d = a.desired
  const ev = (type: 'Normal' | 'Warning', reason: string, message: string) => ctx.onEvent?.(a.key, type, reason, message)
  // A removed container's /var/log/containers link and log files go with it.
  const unlink = async (ids: string[]) => {
    for (const c of a.actual?.containers ?? []) {
      if (!ids.includes(c.id)) continue
      if (ctx.logLinkRoot) await unlinkContainerLog(ctx.logLinkRoot, {pod: a.name, namespace: a.namespace, container: c.name, id: c.id})
      await removeContainerLogFiles(ctx.logRoot, c)
    }
  }
  try {
    // 1. Kill the pod when it is recreated or no longer wanted.
    if (a.killPod && a.actual) {
      step('stopping pod')
      if (d && a.createSandbox) ev('Normal', 'SandboxChanged', 'Pod sandbox changed, it will be killed and re-created.')
      for (const c of a.actual.containers) if (c.state === 'RUNNING') ev('Normal', 'Killing', `Stopping container ${c.name}`)
      await killPod(ctx, a.actual, grace(ctx, d, a.actual), count)
      await unlink(a.actual.containers.map((c) => c.id))
      if (!d) {
        const uid = a.uid
        const pod = podAsCreated(a.actual)
        if (pod) await removePodCgroup(ctx, cgroupParent(pod, uid, ctx.cgroupRoot))
        await removePodDir(ctx.podRoot, uid)
        await fs.rm(podLogDir(ctx.logRoot, a.namespace, a.name, uid), {recursive: true, force: true})
        return res
      }
    }
    if (!d) return res

    // 2. Kill containers that are replaced or no longer in the spec, all at once.
    const ipOfKept = podIPOf(ctx, a.sandboxId)
    await Promise.all(
      a.killContainers.map(async (k) => {
        step(`stopping ${k.name}`)
        ev('Normal', 'Killing', k.reason === 'config changed' ? `Container ${k.name} definition changed, will be restarted` : `Stopping container ${k.name}`)
        count()
        await stop(ctx, a.actual, a.actual?.containers.find((c) => c.id === k.id), k.id, grace(ctx, d, a.actual), ipOfKept)
        if (k.remove) {
          count()
          await cleanup(ctx, () => ctx.cri.removeContainer(k.id))
          await unlink([k.id])
        }
      }),
    )

    // A pod that never got a sandbox leaves no files behind when its setup fails (tmpfs volumes
    // included); the next sync, or the daemon, makes them again.
    const forgetNewPod = async (): Promise<void> => {
      if ((a.actual?.sandboxes.length ?? 0) === 0) await removePodDir(ctx.podRoot, a.uid).catch(() => undefined)
    }
    // 3. Create the sandbox when needed; volumes first, so containers can mount them.
    let sandboxConfig: PodSandboxConfig | undefined
    let volumePaths = new Map<string, string>()
    if (a.createSandbox || a.startContainers.length > 0) {
      step('preparing volumes')
      sandboxConfig = buildSandboxConfig(d, {
        uid: a.uid,
        attempt: a.sandboxAttempt,
        logRoot: ctx.logRoot,
        hostDns: ctx.hostDns,
        cgroupRoot: ctx.cgroupRoot,
      })
      // A volume that cannot be set up keeps the pod in ContainerCreating, as the kubelet's FailedMount.
      volumePaths = await prepareVolumes(d.pod, a.uid, ctx.podRoot, ctx.data).catch(async (e: unknown) => {
        await forgetNewPod()
        throw withReason(e, 'FailedMount')
      })
    }
    let sandboxId = a.sandboxId
    if (a.createSandbox) {
      step('creating sandbox')
      await fs.mkdir(sandboxConfig!.logDirectory, {recursive: true})
      count()
      // No RuntimeClass objects on a standalone node: the class name is the runtime's handler name
      // (a key of containerd's runtimes table, or of CRI-O's runtimes).
      sandboxId = await mutate(ctx, () => ctx.cri.runPodSandbox(sandboxConfig!, d.pod.spec?.runtimeClassName ?? '')).catch(async (e: unknown) => {
        await forgetNewPod()
        throw e
      })
      res.sandboxId = sandboxId
    }

    // The pod-level cgroup limits (the sums of the containers'), before any container starts.
    // The folder is the one the sandbox was made with (its QoS class then).
    if (a.startContainers.length > 0) {
      const madeFrom = (!a.createSandbox && podAsCreated(a.actual)) || d.pod
      await writePodCgroup(ctx.cgroupFs ?? '/sys/fs/cgroup', cgroupParent(madeFrom, a.uid, ctx.cgroupRoot), podCgroupLimits(d.pod))
    }

    // 4. Pull the images of the containers about to start (one pull per image across pods).
    await Promise.all(
      a.startContainers.map((s) => {
        step(`pulling ${s.container.spec.image}`)
        const image = s.container.spec.image ?? ''
        const pulling = () => ev('Normal', 'Pulling', `Pulling image "${image}"`)
        return ctx.puller.ensure(image, (s.container.spec.imagePullPolicy ?? 'IfNotPresent') as PullPolicy, pullCredentials(d.pod, image, ctx.data), pulling).then((r) =>
          ev('Normal', 'Pulled', r.pulledMs === undefined ? `Container image "${image}" already present on machine` : `Successfully pulled image "${image}" in ${(r.pulledMs / 1000).toFixed(3)}s`),
        )
      }),
    )

    // 5. Start containers created earlier but never started.
    for (const s of a.startExisting) {
      step(`starting ${s.name}`)
      count()
      await mutate(ctx, () => ctx.cri.startContainer(s.id))
      ev('Normal', 'Started', `Started container ${s.name}`)
    }

    // 6. Create and start containers, in spec order.
    let podIP = ''
    if (a.startContainers.length > 0 && !d.pod.spec?.hostNetwork) {
      podIP = (await withRetry(() => ctx.cri.podSandboxStatus(sandboxId!))).status?.network?.ip ?? ''
    }
    const hostsFile = a.startContainers.length > 0 ? await writeHostsFile(podDir(ctx.podRoot, a.uid), d.pod, podIP) : undefined
    for (const s of a.startContainers) {
      step(`starting ${s.container.name}`)
      res.container = s.container.name
      const rro = (s.container.spec.volumeMounts ?? []).some((m) => m.recursiveReadOnly === 'Enabled' || m.recursiveReadOnly === 'IfPossible')
      const cctx: ContainerContext = {
        recursiveReadOnly: rro ? await recursiveReadOnlySupported(ctx.cri, d.pod.spec?.runtimeClassName ?? '') : false,
        uid: a.uid,
        attempt: s.attempt,
        backoffStep: s.backoffStep,
        volumePaths,
        data: ctx.data,
        podIP: podIP || ctx.hostIP,
        hostIP: ctx.hostIP,
        nodeName: ctx.nodeName,
        hostsFile,
        terminationLog: await makeTerminationLog(ctx.podRoot, a.uid, s.container.name, s.attempt),
      }
      const nonRoot = s.container.spec.securityContext?.runAsNonRoot ?? d.pod.spec?.securityContext?.runAsNonRoot
      if (nonRoot) {
        const img = await withRetry(() => ctx.cri.imageStatus(s.container.spec.image ?? ''))
        const why = nonRootViolation(d, s.container.spec, img && {uid: img.uid?.value, username: img.username})
        if (why) throw new PodrunError(why, {reason: 'CreateContainerConfigError'})
      }
      const armor = appArmorViolation(d, s.container.spec, hostHasAppArmor())
      if (armor) throw new PodrunError(armor, {reason: 'CreateContainerConfigError'})
      // Resolved again at every start: the container may have replaced the path since.
      cctx.subPaths = await bindSubPaths(podDir(ctx.podRoot, a.uid), s.container.name, subPathMounts(d, s.container.spec, cctx))
      let config
      try {
        config = buildContainerConfig(d, s.container, cctx)
      } catch (e) {
        // A key or field the container's env asks for that is not there: the kubelet's CreateContainerConfigError.
        throw withReason(e, 'CreateContainerConfigError')
      }
      count()
      const id = await mutate(ctx, () => ctx.cri.createContainer(sandboxId!, config, sandboxConfig!))
      ev('Normal', 'Created', `Created container ${s.container.name}`)
      if (ctx.logLinkRoot) await linkContainerLog(ctx.logLinkRoot, {pod: a.name, namespace: a.namespace, container: s.container.name, id}, path.join(sandboxConfig!.logDirectory, config.logPath))
      count()
      await mutate(ctx, () => ctx.cri.startContainer(id))
      ev('Normal', 'Started', `Started container ${s.container.name}`)
      // postStart, as the kubelet: right after the start; a failure kills the container, which
      // then restarts per restartPolicy.
      const hook = s.container.spec.lifecycle?.postStart
      if (hook) {
        step(`running the postStart hook of ${s.container.name}`)
        const ip = d.pod.spec?.hostNetwork ? '127.0.0.1' : podIP || '127.0.0.1'
        const r = await runHandler(hook, {cri: ctx.cri, containerId: id, container: s.container.spec, podIP: ip}, POST_START_TIMEOUT_MS)
        if (!r.ok) {
          count()
          await stopWithPreStop(ctx.cri, {id, podIP: async () => ip}, grace(ctx, d, a.actual))
          throw new PodrunError(`postStart hook of container ${s.container.name} failed: ${r.message}`, {reason: 'FailedPostStartHook'})
        }
      }
    }

    // 7. Garbage: old exited containers and dead sandboxes.
    for (const id of a.removeContainers) {
      count()
      await cleanup(ctx, () => ctx.cri.removeContainer(id))
    }
    await unlink(a.removeContainers)
    for (const id of a.removeSandboxes) await removeSandbox(ctx, id, count)

    // 8. Fields that restart nothing changed: keep the pod as applied beside it.
    if (a.recordSpec && sandboxId && !a.createSandbox) {
      writeRecord(ctx.podRoot, a.uid, {sandboxId, hashes: Object.fromEntries([...d.initContainers, ...d.containers].map((c) => [c.name, c.hash])), pod: d.pod})
    }
    return res
  } catch (e) {
    res.ok = false
    res.error = (e as Error).message
    res.reason = isPodrunError(e) ? e.reason : 'Error'
    return res
  }
}

/**
 * A kept pod's configMap, secret, downwardAPI and projected files brought up to date in place
 * (update) or only compared (staleApiVolumes): the names of those that differ. A pod that is being
 * made or made again gets its files when it starts, so none for it here.
 */
export function apiVolumesOf(a: PodActions, podRoot: string, data: DataLookup, o: {update: boolean}): Promise<string[]> {
  const sb = a.actual?.sandboxes[0]
  if (!a.desired || !sb || a.killPod || a.createSandbox || sb.state !== 'READY') return Promise.resolve([])
  return staleApiVolumes(a.desired.pod, sb.uid || a.uid, podRoot, data, o)
}

/** Run every pod's actions side by side (ctx.limits bounds the runtime work); results in input order. */
export function executeAll(actions: PodActions[], ctx: ExecContext): Promise<PodResult[]> {
  return Promise.all(actions.map((a) => executePod(a, ctx)))
}
