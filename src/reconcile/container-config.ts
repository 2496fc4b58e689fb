// DesiredContainer -> CRI ContainerConfig: command and args (the runtime merges them with the
// image's entrypoint, as the kubelet relies on), env with $(VAR) expansion, mounts, resources,
// security context, kubelet-compatible labels, and the log path `<container>/<attempt>.log`.
// Pure: everything from outside (volume host paths, ConfigMap/Secret data, the pod IP) is passed in.
import fs from 'node:fs'
import path from 'node:path'
import type {Container, EnvVar} from 'kubernetes-types/core/v1.js'
import {HOSTS_PATH} from './etc-hosts.js'
import {isApiDataVolume} from './volumes.js'
import {ContainerConfig, SecurityProfile_ProfileType, type KeyValue, type Mount} from '../gen/runtime/v1/api.js'
import type {DesiredContainer, DesiredPod} from '../model/desired.js'
import {bytes, milliCpu} from '../lib/quantity.js'
import {PodrunError} from '../lib/errors.js'
import {seccompRoot} from '../lib/paths.js'
import {Annotation, Label, MANAGED_BY} from './labels.js'
import {namespaceOptions, selinuxOptions, supplementalGroups} from './sandbox-config.js'
import {CPU_PERIOD, MIN_SHARES} from './pod-cgroup.js'
import {fieldValue, resourceValue} from './downward.js'
import {subPathParts, type SubPathMount} from './subpath.js'

/** Key/value data (decoded text) of a ConfigMap or Secret in the manifest set, or undefined when absent. */
export type DataLookup = (kind: 'ConfigMap' | 'Secret', namespace: string, name: string) => Record<string, string> | undefined

export interface ContainerContext {
  uid: string
  attempt: number
  backoffStep: number
  /** Host path of each pod volume, by volume name. */
  volumePaths: Map<string, string>
  /** Host path of each subPath mount (bind-mounted by subpath.ts), by index in volumeMounts. */
  subPaths?: Map<number, string>
  data: DataLookup
  podIP: string
  hostIP: string
  nodeName: string
  /** The pod's managed /etc/hosts on the host (etc-hosts.ts). */
  hostsFile?: string
  /** This attempt's termination-message file on the host (termination.ts). */
  terminationLog?: string
  /** Whether the pod's runtime handler makes read-only mounts recursively read-only (CRI RuntimeHandlerFeatures). */
  recursiveReadOnly?: boolean
}

// The kubelet's defaults for unprivileged containers: procfs and sysfs paths hidden or read-only.
const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
]
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']


/** Kubernetes' $(VAR) expansion: $$ escapes, unknown references stay as written. */
export function expand(text: string, vars: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) => {
    if (m === '$$') return '$'
    return vars.has(name!) ? vars.get(name!)! : m
  })
}

/** Resolve env and envFrom into the final ordered list, as the kubelet does. */
export function resolveEnv(d: DesiredPod, c: Container, ctx: ContainerContext): {name: string; value: string}[] {
  const vars = new Map<string, string>()
  const out: {name: string; value: string}[] = []
  const set = (name: string, value: string): void => {
    if (!vars.has(name)) out.push({name, value})
    else out[out.findIndex((e) => e.name === name)].value = value
    vars.set(name, value)
  }
  for (const from of c.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef
    if (!ref?.name) continue
    const data = ctx.data(from.configMapRef ? 'ConfigMap' : 'Secret', d.namespace, ref.name)
    if (!data) {
      if (ref.optional) continue
      throw new PodrunError(`envFrom: ${from.configMapRef ? 'ConfigMap' : 'Secret'} "${ref.name}" not found`)
    }
    for (const [k, v] of Object.entries(data)) set(`${from.prefix ?? ''}${k}`, v)
  }
  for (const e of c.env ?? ([] as EnvVar[])) {
    if (e.valueFrom === undefined) {
      set(e.name, expand(e.value ?? '', vars))
      continue
    }
    const vf = e.valueFrom
    if (vf.fieldRef) set(e.name, fieldValue(d.pod, ctx.uid, vf.fieldRef.fieldPath, ctx))
    else if (vf.resourceFieldRef) set(e.name, resourceValue(c, vf.resourceFieldRef.resource, vf.resourceFieldRef.divisor))
    else if (vf.configMapKeyRef || vf.secretKeyRef) {
      const ref = (vf.configMapKeyRef ?? vf.secretKeyRef)!
      const kind = vf.configMapKeyRef ? 'ConfigMap' : 'Secret'
      const value = ctx.data(kind, d.namespace, ref.name ?? '')?.[ref.key]
      if (value === undefined) {
        if (ref.optional) continue
        throw new PodrunError(`env ${e.name}: key "${ref.key}" of ${kind} "${ref.name}" not found`)
      }
      set(e.name, value)
    }
  }
  return out
}

/**
 * The container's mounts that use a subPath or subPathExpr (expanded with the container's env, as
 * the kubelet does), for subpath.ts to resolve safely and bind before the container is created.
 */
export function subPathMounts(d: DesiredPod, c: Container, ctx: ContainerContext): SubPathMount[] {
  const list = c.volumeMounts ?? []
  if (!list.some((vm) => vm.subPath || vm.subPathExpr)) return []
  const vars = list.some((vm) => vm.subPathExpr) ? new Map(resolveEnv(d, c, ctx).map((e) => [e.name, e.value])) : new Map<string, string>()
  const out: SubPathMount[] = []
  for (const [index, vm] of list.entries()) {
    const sub = vm.subPath || (vm.subPathExpr ? expand(vm.subPathExpr, vars) : '')
    if (!sub) continue
    subPathParts(sub, `container ${c.name}: volumeMounts[${index}]`)
    const volumePath = ctx.volumePaths.get(vm.name)
    if (volumePath === undefined) throw new PodrunError(`volumeMount ${vm.name}: volume was not prepared`)
    out.push({index, volume: vm.name, volumePath, subPath: sub})
  }
  return out
}

function mounts(d: DesiredPod, c: Container, ctx: ContainerContext): Mount[] {
  const volumes = new Map((d.pod.spec?.volumes ?? []).map((v) => [v.name, v]))
  const own = (c.volumeMounts ?? []).some((vm) => vm.mountPath === HOSTS_PATH)
  const file = (containerPath: string, hostPath: string): Mount => ({containerPath, hostPath, readonly: false, selinuxRelabel: false, propagation: 0, uidMappings: [], gidMappings: [], recursiveReadOnly: false, imageSubPath: '', mountOptions: []})
  const hosts = ctx.hostsFile && !own ? [file(HOSTS_PATH, ctx.hostsFile)] : []
  const term = ctx.terminationLog && c.terminationMessagePath ? [file(c.terminationMessagePath, ctx.terminationLog)] : []
  return [...hosts, ...term, ...(c.volumeMounts ?? []).map((vm, index) => {
    const volumePath = ctx.volumePaths.get(vm.name)
    if (volumePath === undefined) throw new PodrunError(`volumeMount ${vm.name}: volume was not prepared`)
    // Never volume + subPath as a string: the runtime would follow links a container planted.
    const host = vm.subPath || vm.subPathExpr ? ctx.subPaths?.get(index) : volumePath
    if (host === undefined) throw new PodrunError(`container ${c.name}: volumeMounts[${index}]: subPath was not prepared`)
    // As the kubelet: Enabled needs the runtime's support, IfPossible uses it when there.
    if (vm.recursiveReadOnly === 'Enabled' && !ctx.recursiveReadOnly) {
      throw new PodrunError(`container ${c.name}: volumeMounts[${index}]: recursiveReadOnly: Enabled, but the runtime handler does not support recursive read-only mounts`, {reason: 'CreateContainerConfigError'})
    }
    return {
      containerPath: vm.mountPath,
      hostPath: host,
      readonly: vm.readOnly === true || isApiDataVolume(volumes.get(vm.name)),
      selinuxRelabel: false,
      propagation: vm.mountPropagation === 'Bidirectional' ? 2 : vm.mountPropagation === 'HostToContainer' ? 1 : 0,
      uidMappings: [],
      gidMappings: [],
      recursiveReadOnly: (vm.recursiveReadOnly === 'Enabled' || vm.recursiveReadOnly === 'IfPossible') && ctx.recursiveReadOnly === true,
      imageSubPath: '',
      mountOptions: [],
    }
  })]
}

export function containerLabels(d: DesiredPod, dc: DesiredContainer, uid: string): Record<string, string> {
  return {
    [Label.podName]: d.name,
    [Label.podNamespace]: d.namespace,
    [Label.podUid]: uid,
    [Label.containerName]: dc.name,
    [Label.managedBy]: MANAGED_BY,
    [Label.containerHash]: dc.hash,
    [Label.source]: d.source,
  }
}

/** Whether the hugetlb cgroup controller is there to hold huge page limits (v1 or v2). */
function hugetlbController(): boolean {
  try {
    return fs.existsSync('/sys/fs/cgroup/hugetlb') || fs.readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('hugetlb')
  } catch {
    return false
  }
}

let pageSizes: string[] | undefined

/** The page sizes this host can limit, read once: they do not change while podrun runs (container configs are built often). */
const hostPageSizes = (): string[] => (pageSizes ??= readPageSizes())

/** The page sizes this host can limit ("2MB", "1GB"), from /sys/kernel/mm/hugepages; none without the hugetlb controller. */
function readPageSizes(): string[] {
  if (!hugetlbController()) return []
  try {
    return fs
      .readdirSync('/sys/kernel/mm/hugepages')
      .map((n) => /^hugepages-(\d+)kB$/.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => pageSizeName(Number(m[1]) * 1024))
  } catch {
    return []
  }
}

/** The runtime's name of a page size: 2097152 -> "2MB", 1073741824 -> "1GB" (as the kubelet writes it). */
const pageSizeName = (b: number): string => (b >= 1 << 30 && b % (1 << 30) === 0 ? `${b / (1 << 30)}GB` : b >= 1 << 20 && b % (1 << 20) === 0 ? `${b / (1 << 20)}MB` : `${b / 1024}KB`)

/**
 * Huge page limits as the kubelet sets them: every size the host offers is limited, to 0 unless the
 * container asks for `hugepages-<size>`, so a container uses no huge pages it did not ask for.
 */
export function hugepageLimits(limits: Record<string, string | number>, sizes = hostPageSizes()): {pageSize: string; limit: bigint}[] {
  const out = new Map(sizes.map((s) => [s, 0n]))
  for (const [name, q] of Object.entries(limits)) {
    if (!name.startsWith('hugepages-')) continue
    const size = pageSizeName(bytes(name.slice('hugepages-'.length)))
    if (!out.has(size)) throw new PodrunError(`${name}: this host cannot limit huge pages of ${size} (no such page size, or no hugetlb cgroup controller)`, {reason: 'CreateContainerConfigError'})
    out.set(size, BigInt(bytes(q)))
  }
  return [...out].map(([pageSize, limit]) => ({pageSize, limit}))
}

/** Whether this host enforces AppArmor (the kubelet's check). */
export function hostHasAppArmor(file = '/sys/module/apparmor/parameters/enabled'): boolean {
  try {
    return fs.readFileSync(file, 'utf8').trim().startsWith('Y')
  } catch {
    return false
  }
}

/** The kubelet's refusal of a container that asks for an AppArmor profile on a host without AppArmor. */
export function appArmorViolation(d: DesiredPod, c: Container, hostHasIt: boolean): string | undefined {
  const armor = c.securityContext?.appArmorProfile ?? d.pod.spec?.securityContext?.appArmorProfile
  if (!armor || armor.type === 'Unconfined' || hostHasIt) return undefined
  return `Cannot enforce AppArmor: AppArmor is not enabled on the host (container ${c.name} asks for profile ${armor.type === 'Localhost' ? `localhost/${armor.localhostProfile ?? ''}` : armor.type})`
}

/** A CRI security profile (seccomp or AppArmor) from the Kubernetes type and localhost profile. */
function seccomp(type: string | undefined, localhost?: string) {
  if (type === 'RuntimeDefault') return {profileType: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: ''}
  if (type === 'Localhost') return {profileType: SecurityProfile_ProfileType.Localhost, localhostRef: localhost ?? ''}
  return {profileType: SecurityProfile_ProfileType.Unconfined, localhostRef: ''}
}

export function buildContainerConfig(d: DesiredPod, dc: DesiredContainer, ctx: ContainerContext): ContainerConfig {
  const c = dc.spec
  const env = resolveEnv(d, c, ctx)
  const vars = new Map(env.map((e) => [e.name, e.value]))
  const envs: KeyValue[] = env.map((e) => ({key: e.name, value: Buffer.from(e.value, 'utf8')}))
  const psc = d.pod.spec?.securityContext ?? {}
  const sc = c.securityContext ?? {}
  const privileged = sc.privileged === true
  const req = c.resources?.requests ?? {}
  const lim = c.resources?.limits ?? {}
  const cpuReq = req.cpu ?? lim.cpu
  const runAsUser = sc.runAsUser ?? psc.runAsUser
  const runAsGroup = sc.runAsGroup ?? psc.runAsGroup
  const prof = sc.seccompProfile ?? psc.seccompProfile
  const armor = sc.appArmorProfile ?? psc.appArmorProfile
  // procMount: Unmasked leaves /proc as the runtime mounts it, without the masked and read-only paths.
  const unmasked = privileged || sc.procMount === 'Unmasked'
  return ContainerConfig.fromPartial({
    metadata: {name: dc.name, attempt: ctx.attempt},
    image: {image: c.image ?? '', userSpecifiedImage: c.image ?? ''},
    command: (c.command ?? []).map((s) => expand(s, vars)),
    args: (c.args ?? []).map((s) => expand(s, vars)),
    workingDir: c.workingDir ?? '',
    envs,
    mounts: mounts(d, c, ctx),
    labels: containerLabels(d, dc, ctx.uid),
    annotations: {
      [Annotation.containerSpec]: JSON.stringify(c),
      [Annotation.backoffStep]: String(ctx.backoffStep),
      [Annotation.initContainer]: String(dc.init),
      [Annotation.restartCount]: String(ctx.attempt),
      [Annotation.terminationGracePeriod]: String(d.terminationGracePeriodSeconds),
    },
    logPath: `${dc.name}/${ctx.attempt}.log`,
    stdin: c.stdin === true,
    stdinOnce: c.stdinOnce === true,
    tty: c.tty === true,
    linux: {
      resources: {
        cpuShares: BigInt(cpuReq === undefined ? MIN_SHARES : Math.max(MIN_SHARES, Math.floor((milliCpu(cpuReq) * 1024) / 1000))),
        cpuPeriod: lim.cpu === undefined ? 0n : BigInt(CPU_PERIOD),
        cpuQuota: lim.cpu === undefined ? 0n : BigInt(Math.max(1000, Math.floor((milliCpu(lim.cpu) * CPU_PERIOD) / 1000))),
        memoryLimitInBytes: lim.memory === undefined ? 0n : BigInt(bytes(lim.memory)),
        hugepageLimits: hugepageLimits(lim),
      },
      securityContext: {
        privileged,
        capabilities: {addCapabilities: sc.capabilities?.add ?? [], dropCapabilities: sc.capabilities?.drop ?? [], addAmbientCapabilities: []},
        namespaceOptions: namespaceOptions(d.pod),
        runAsUser: runAsUser === undefined ? undefined : {value: BigInt(runAsUser)},
        runAsGroup: runAsGroup === undefined ? undefined : {value: BigInt(runAsGroup)},
        supplementalGroups: supplementalGroups(psc),
        readonlyRootfs: sc.readOnlyRootFilesystem === true,
        noNewPrivs: sc.allowPrivilegeEscalation === false,
        maskedPaths: unmasked ? [] : MASKED_PATHS,
        readonlyPaths: unmasked ? [] : READONLY_PATHS,
        // A Localhost seccomp profile is a file under the seccomp root, as the kubelet resolves it.
        seccomp: seccomp(prof?.type, prof?.localhostProfile === undefined ? undefined : path.join(seccompRoot(), prof.localhostProfile)),
        // Only when asked for: unset, the runtime applies its default where the host has AppArmor.
        ...(armor ? {apparmor: seccomp(armor.type, armor.localhostProfile)} : {}),
        ...selinuxOptions(sc.seLinuxOptions ?? psc.seLinuxOptions),
      },
    },
  })
}

/**
 * runAsNonRoot, checked before the container is made, with the kubelet's messages: an explicit
 * runAsUser of 0 breaks the policy; without one, the image's user decides (root, or a name that
 * cannot be checked, is refused).
 */
export function nonRootViolation(d: DesiredPod, c: Container, image: {uid?: bigint; username: string} | undefined): string | undefined {
  const psc = d.pod.spec?.securityContext ?? {}
  const sc = c.securityContext ?? {}
  if ((sc.runAsNonRoot ?? psc.runAsNonRoot) !== true) return undefined
  const who = `(pod: "${d.name}_${d.namespace}", container: ${c.name})`
  const runAsUser = sc.runAsUser ?? psc.runAsUser
  if (runAsUser !== undefined) return runAsUser === 0 ? `container's runAsUser breaks non-root policy ${who}` : undefined
  if (image?.uid !== undefined) return image.uid === 0n ? `container has runAsNonRoot and image will run as root ${who}` : undefined
  const user = image?.username ?? ''
  if (user === '' || user === 'root') return `container has runAsNonRoot and image will run as root ${who}`
  return `container has runAsNonRoot and image has non-numeric user (${user}), cannot verify user is non-root ${who}`
}
