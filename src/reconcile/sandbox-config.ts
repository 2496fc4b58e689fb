// DesiredPod -> CRI PodSandboxConfig: metadata, hostname, log directory (kubelet layout), DNS,
// host port mappings, cgroup parent by QoS class, namespace options, labels and annotations.
// Pure: the host's resolver config and the folders are passed in.
import type {Container, Pod, SELinuxOptions} from 'kubernetes-types/core/v1.js'
import {NamespaceMode, PodSandboxConfig, Protocol, type DNSConfig} from '../gen/runtime/v1/api.js'
import type {DesiredPod} from '../model/desired.js'
import {bytes, milliCpu} from '../lib/quantity.js'
import {Annotation, Label, MANAGED_BY} from './labels.js'
import path from 'node:path'
import {joinInside} from '../lib/paths.js'

export interface HostDns {
  servers: string[]
  searches: string[]
  options: string[]
}

export interface SandboxContext {
  uid: string
  attempt: number
  /** Root of pod log folders: `<logRoot>/<namespace>_<name>_<uid>/`. */
  logRoot: string
  /** The host's resolver config (/etc/resolv.conf). */
  hostDns: HostDns
  /** Top of podrun's cgroup tree (cgroupfs), e.g. "/podrun". */
  cgroupRoot: string
}

export type QosClass = 'Guaranteed' | 'Burstable' | 'BestEffort'

/** The Kubernetes QoS class of a pod, from its containers' requests and limits. */
export function qosClass(pod: Pod): QosClass {
  const all: Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])]
  let any = false
  let guaranteed = true
  for (const c of all) {
    const req = c.resources?.requests ?? {}
    const lim = c.resources?.limits ?? {}
    if (Object.keys(req).length || Object.keys(lim).length) any = true
    for (const r of ['cpu', 'memory']) {
      const l = lim[r]
      const q = req[r] ?? l
      if (l === undefined || q === undefined) guaranteed = false
      else if (r === 'cpu' ? milliCpu(l) !== milliCpu(q) : bytes(l) !== bytes(q)) guaranteed = false
    }
  }
  if (!any) return 'BestEffort'
  return guaranteed ? 'Guaranteed' : 'Burstable'
}

export function cgroupParent(pod: Pod, uid: string, root: string): string {
  const qos = qosClass(pod)
  const leaf = `pod${uid}`
  return qos === 'Guaranteed' ? path.posix.join(root, leaf) : path.posix.join(root, qos.toLowerCase(), leaf)
}

export function podLogDir(logRoot: string, namespace: string, name: string, uid: string): string {
  return joinInside(logRoot, `${namespace}_${name}_${uid}`)
}

/** A container's log file, from the labels podrun put on it: `<pod log folder>/<container>/<attempt>.log`. */
export function containerLogFile(logRoot: string, labels: Record<string, string>, container: string, attempt: number): string {
  return joinInside(podLogDir(logRoot, labels[Label.podNamespace] ?? '', labels[Label.podName] ?? '', labels[Label.podUid] ?? ''), container, `${attempt}.log`)
}

/** DNS per dnsPolicy. With no cluster DNS, ClusterFirst falls back to the host's resolver. */
export function dnsConfig(pod: Pod, host: HostDns): DNSConfig {
  const spec = pod.spec ?? {containers: []}
  const policy = spec.dnsPolicy ?? 'ClusterFirst'
  const base: DNSConfig = policy === 'None' ? {servers: [], searches: [], options: []} : {servers: [...host.servers], searches: [...host.searches], options: [...host.options]}
  const extra = spec.dnsConfig
  if (extra) {
    for (const s of extra.nameservers ?? []) if (!base.servers.includes(s)) base.servers.push(s)
    for (const s of extra.searches ?? []) if (!base.searches.includes(s)) base.searches.push(s)
    const opts = new Map(base.options.map((o) => [o.split(':')[0], o]))
    for (const o of extra.options ?? []) opts.set(o.name ?? '', o.value === undefined ? (o.name ?? '') : `${o.name}:${o.value}`)
    base.options = [...opts.values()].filter((o) => o !== '')
  }
  return base
}

function protocol(p: string | undefined): Protocol {
  return p === 'UDP' ? Protocol.UDP : p === 'SCTP' ? Protocol.SCTP : Protocol.TCP
}

export function namespaceOptions(pod: Pod): {network: NamespaceMode; pid: NamespaceMode; ipc: NamespaceMode; targetId: string} {
  const s = pod.spec ?? {containers: []}
  return {
    network: s.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD,
    pid: s.hostPID ? NamespaceMode.NODE : s.shareProcessNamespace ? NamespaceMode.POD : NamespaceMode.CONTAINER,
    ipc: s.hostIPC ? NamespaceMode.NODE : NamespaceMode.POD,
    targetId: '',
  }
}

/** The CRI SELinux options of a pod's or a container's seLinuxOptions (nothing when unset). */
export function selinuxOptions(o: SELinuxOptions | undefined): {selinuxOptions?: {user: string; role: string; type: string; level: string}} {
  return o ? {selinuxOptions: {user: o.user ?? '', role: o.role ?? '', type: o.type ?? '', level: o.level ?? ''}} : {}
}

/** The pod's supplemental groups, with fsGroup added as the kubelet adds it (the group that owns its volumes). */
export function supplementalGroups(psc: {supplementalGroups?: number[]; fsGroup?: number}): bigint[] {
  const groups = [...(psc.supplementalGroups ?? [])]
  if (psc.fsGroup !== undefined && !groups.includes(psc.fsGroup)) groups.push(psc.fsGroup)
  return groups.map((g) => BigInt(g))
}

export function sandboxLabels(d: DesiredPod, uid: string): Record<string, string> {
  return {
    ...(d.pod.metadata?.labels ?? {}),
    [Label.podName]: d.name,
    [Label.podNamespace]: d.namespace,
    [Label.podUid]: uid,
    [Label.managedBy]: MANAGED_BY,
    [Label.sandboxHash]: d.sandboxHash,
    [Label.source]: d.source,
  }
}

export function buildSandboxConfig(d: DesiredPod, ctx: SandboxContext): PodSandboxConfig {
  const spec = d.pod.spec ?? {containers: []}
  const hostNetwork = spec.hostNetwork === true
  const ports = hostNetwork
    ? []
    : [...(spec.initContainers ?? []), ...spec.containers].flatMap((c) =>
        (c.ports ?? [])
          .filter((p) => p.hostPort !== undefined && p.hostPort > 0)
          .map((p) => ({protocol: protocol(p.protocol), containerPort: p.containerPort, hostPort: p.hostPort!, hostIp: p.hostIP ?? ''})),
      )
  const psc = spec.securityContext ?? {}
  const privileged = [...(spec.initContainers ?? []), ...spec.containers].some((c) => c.securityContext?.privileged === true)
  const sysctls: Record<string, string> = {}
  for (const s of psc.sysctls ?? []) sysctls[s.name] = s.value
  return PodSandboxConfig.fromPartial({
    metadata: {name: d.name, namespace: d.namespace, uid: ctx.uid, attempt: ctx.attempt},
    hostname: hostNetwork ? '' : (spec.hostname ?? d.name).slice(0, 63),
    logDirectory: podLogDir(ctx.logRoot, d.namespace, d.name, ctx.uid),
    dnsConfig: dnsConfig(d.pod, ctx.hostDns),
    portMappings: ports,
    labels: sandboxLabels(d, ctx.uid),
    annotations: {
      ...(d.pod.metadata?.annotations ?? {}),
      [Annotation.podSpec]: JSON.stringify(d.pod),
      [Annotation.terminationGracePeriod]: String(d.terminationGracePeriodSeconds),
    },
    linux: {
      cgroupParent: cgroupParent(d.pod, ctx.uid, ctx.cgroupRoot),
      sysctls,
      securityContext: {
        namespaceOptions: namespaceOptions(d.pod),
        runAsUser: psc.runAsUser === undefined ? undefined : {value: BigInt(psc.runAsUser)},
        runAsGroup: psc.runAsGroup === undefined ? undefined : {value: BigInt(psc.runAsGroup)},
        supplementalGroups: supplementalGroups(psc),
        privileged,
        ...selinuxOptions(psc.seLinuxOptions),
      },
    },
  })
}

/** Parse resolv.conf text into the parts a sandbox DNS config takes. */
export function parseResolvConf(text: string): HostDns {
  const out: HostDns = {servers: [], searches: [], options: []}
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim()
    const [key, ...rest] = line.split(/\s+/)
    if (key === 'nameserver' && rest[0]) out.servers.push(rest[0])
    else if (key === 'search' || key === 'domain') out.searches = rest
    else if (key === 'options') out.options.push(...rest)
  }
  return out
}
