// The Pod Security Standards of Kubernetes (1.30), checked locally: what the baseline and
// restricted levels refuse, control by control, with the fields each control reads and the
// values it allows, as the upstream definitions state them. privileged refuses nothing. The
// README's table is rendered from this data (renderPodSecurityTable). --allowed-host-paths adds
// a local rule: a hostPath volume is allowed under a listed prefix, and refused outside them
// whatever the level.
import path from 'node:path'
import {findPaths, valueAt} from './field-path.js'
import type {FieldPath} from './types.js'

export const POD_SECURITY_LEVELS = ['privileged', 'baseline', 'restricted'] as const
export type PodSecurityLevel = (typeof POD_SECURITY_LEVELS)[number]

export interface PodSecurityPolicy {
  /** Pods that break this level are refused. */
  enforce: PodSecurityLevel
  /** Pods that break this level (but not enforce) are warned about. */
  warn?: PodSecurityLevel
  /** Absolute folder prefixes where hostPath volumes are allowed (and outside which they are refused). */
  allowedHostPaths?: string[]
  /** Host ports allowed at every level (the standard's "known list"), as inclusive ranges. */
  allowedHostPorts?: Array<[number, number]>
  /** The flag that sets `enforce`, as errors name it (--pod-security; the daemon's URLs have their own). */
  flag?: string
}

type Pod = Record<string, unknown>

interface Control {
  level: 'baseline' | 'restricted'
  name: string
  /** The fields, for the README. */
  fields: string
  /** The values allowed, for the README. */
  allowed: string
  /** The offending paths of a pod, each with what is wrong with it. */
  check: (pod: Pod) => Array<{path: FieldPath; why: string}>
}

const CONTAINERS = 'spec.{containers,initContainers,ephemeralContainers}[*]'
const inContainers = (rest: string, when?: (v: unknown) => boolean) => findPaths(`${CONTAINERS}.${rest}`, when)
const everywhere = (rest: string, when?: (v: unknown) => boolean) => (pod: Pod) => [...findPaths(`spec.securityContext.${rest}`, when)(pod), ...inContainers(`securityContext.${rest}`, when)(pod)]
const paths = (find: (pod: Pod) => FieldPath[], why: (v: unknown) => string) => (pod: Pod) => find(pod).map((p) => ({path: p, why: why(valueAt(pod, p))}))
const show = (v: unknown): string => JSON.stringify(v)
const containerPaths = (pod: Pod): FieldPath[] => findPaths(CONTAINERS)(pod)

const BASELINE_CAPABILITIES = new Set(['AUDIT_WRITE', 'CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'FSETID', 'KILL', 'MKNOD', 'NET_BIND_SERVICE', 'SETFCAP', 'SETGID', 'SETPCAP', 'SETUID', 'SYS_CHROOT'])
const SAFE_SYSCTLS = new Set([
  'kernel.shm_rmid_forced', 'net.ipv4.ip_local_port_range', 'net.ipv4.ip_unprivileged_port_start', 'net.ipv4.tcp_syncookies',
  'net.ipv4.ping_group_range', 'net.ipv4.ip_local_reserved_ports', 'net.ipv4.tcp_keepalive_time', 'net.ipv4.tcp_fin_timeout',
  'net.ipv4.tcp_keepalive_intvl', 'net.ipv4.tcp_keepalive_probes',
])
const SELINUX_TYPES = new Set(['', 'container_t', 'container_init_t', 'container_kvm_t', 'container_engine_t'])
const RESTRICTED_VOLUMES = new Set(['configMap', 'csi', 'downwardAPI', 'emptyDir', 'ephemeral', 'persistentVolumeClaim', 'projected', 'secret'])
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/'

export const POD_SECURITY_CONTROLS: readonly Control[] = [
  {
    level: 'baseline',
    name: 'HostProcess',
    fields: 'securityContext.windowsOptions.hostProcess (pod, containers)',
    allowed: 'false, unset',
    check: paths(everywhere('windowsOptions.hostProcess', (v) => v !== false), () => 'Windows HostProcess containers get privileged access to the host'),
  },
  {
    level: 'baseline',
    name: 'Host Namespaces',
    fields: 'spec.hostNetwork, spec.hostPID, spec.hostIPC',
    allowed: 'false, unset',
    check: paths(findPaths('spec.{hostNetwork,hostPID,hostIPC}', (v) => v !== false), () => "sharing the host's namespaces is refused"),
  },
  {
    level: 'baseline',
    name: 'Privileged Containers',
    fields: 'securityContext.privileged (containers)',
    allowed: 'false, unset',
    check: paths(inContainers('securityContext.privileged', (v) => v !== false), () => 'a privileged container has every device and capability of the host'),
  },
  {
    level: 'baseline',
    name: 'Capabilities',
    fields: 'securityContext.capabilities.add (containers)',
    allowed: [...BASELINE_CAPABILITIES].join(', '),
    check: paths(inContainers('securityContext.capabilities.add[*]', (v) => !BASELINE_CAPABILITIES.has(String(v))), (v) => `capability ${show(v)} is beyond the default set`),
  },
  {
    level: 'baseline',
    name: 'HostPath Volumes',
    fields: 'spec.volumes[*].hostPath',
    allowed: 'unset (or under --allowed-host-paths)',
    check: paths(findPaths('spec.volumes[*].hostPath'), () => 'a hostPath volume reaches the host\'s files'),
  },
  {
    level: 'baseline',
    name: 'Host Ports',
    fields: 'ports[*].hostPort (containers)',
    allowed: '0, unset (or in --allowed-host-ports)',
    check: paths(inContainers('ports[*].hostPort', (v) => v !== 0), (v) => `host port ${show(v)} is refused`),
  },
  {
    level: 'baseline',
    name: 'AppArmor',
    fields: `securityContext.appArmorProfile.type (pod, containers); metadata.annotations["${APPARMOR_ANNOTATION}*"]`,
    allowed: 'RuntimeDefault, Localhost, unset; runtime/default, localhost/*',
    check: (pod) => [
      ...paths(everywhere('appArmorProfile.type', (v) => v !== 'RuntimeDefault' && v !== 'Localhost'), (v) => `AppArmor profile ${show(v)} lifts the confinement`)(pod),
      ...paths(
        (p) => findPaths('metadata.annotations.*')(p).filter((k) => String(k[2]).startsWith(APPARMOR_ANNOTATION) && !/^(runtime\/default|localhost\/.*)$/.test(String(valueAt(p, k)))),
        (v) => `AppArmor profile ${show(v)} lifts the confinement`,
      )(pod),
    ],
  },
  {
    level: 'baseline',
    name: 'SELinux',
    fields: 'securityContext.seLinuxOptions.type, .user, .role (pod, containers)',
    allowed: 'type: container_t, container_init_t, container_kvm_t, container_engine_t or unset; user and role unset',
    check: (pod) => [
      ...paths(everywhere('seLinuxOptions.type', (v) => !SELINUX_TYPES.has(String(v))), (v) => `SELinux type ${show(v)} is not a container type`)(pod),
      ...paths(everywhere('seLinuxOptions.{user,role}', (v) => v !== ''), () => 'setting the SELinux user or role is refused')(pod),
    ],
  },
  {
    level: 'baseline',
    name: '/proc Mount Type',
    fields: 'securityContext.procMount (containers)',
    allowed: 'Default, unset',
    check: paths(inContainers('securityContext.procMount', (v) => v !== 'Default'), () => 'an unmasked /proc shows the host\'s kernel settings'),
  },
  {
    level: 'baseline',
    name: 'Seccomp',
    fields: 'securityContext.seccompProfile.type (pod, containers)',
    allowed: 'RuntimeDefault, Localhost, unset',
    check: paths(everywhere('seccompProfile.type', (v) => v === 'Unconfined'), () => 'an Unconfined seccomp profile lets every system call through'),
  },
  {
    level: 'baseline',
    name: 'Sysctls',
    fields: 'spec.securityContext.sysctls[*].name',
    allowed: [...SAFE_SYSCTLS].join(', '),
    check: paths(findPaths('spec.securityContext.sysctls[*].name', (v) => !SAFE_SYSCTLS.has(String(v))), (v) => `sysctl ${show(v)} is not one of the safe, namespaced ones`),
  },
  {
    level: 'restricted',
    name: 'Volume Types',
    fields: 'spec.volumes[*]',
    allowed: [...RESTRICTED_VOLUMES].join(', '),
    check: (pod) =>
      findPaths('spec.volumes[*].*')(pod)
        .filter((p) => p[3] !== 'name' && !RESTRICTED_VOLUMES.has(String(p[3])) && p[3] !== 'hostPath')
        .map((p) => ({path: p, why: `volume type ${p[3]} is refused`})),
  },
  {
    level: 'restricted',
    name: 'Privilege Escalation',
    fields: 'securityContext.allowPrivilegeEscalation (containers)',
    allowed: 'false',
    check: (pod) =>
      containerPaths(pod)
        .filter((c) => valueAt(pod, [...c, 'securityContext', 'allowPrivilegeEscalation']) !== false)
        .map((c) => ({path: [...c, 'securityContext', 'allowPrivilegeEscalation'], why: 'allowPrivilegeEscalation must be false'})),
  },
  {
    level: 'restricted',
    name: 'Running as Non-root',
    fields: 'securityContext.runAsNonRoot (pod, containers)',
    allowed: 'true (on the pod, or on every container)',
    check: (pod) => {
      const podLevel = valueAt(pod, ['spec', 'securityContext', 'runAsNonRoot'])
      const out = paths(everywhere('runAsNonRoot', (v) => v !== true), () => 'runAsNonRoot must be true')(pod)
      if (podLevel !== true) {
        for (const c of containerPaths(pod)) {
          if (valueAt(pod, [...c, 'securityContext', 'runAsNonRoot']) === undefined) out.push({path: [...c, 'securityContext', 'runAsNonRoot'], why: 'runAsNonRoot must be true, here or on the pod'})
        }
      }
      return out
    },
  },
  {
    level: 'restricted',
    name: 'Running as Non-root user',
    fields: 'securityContext.runAsUser (pod, containers)',
    allowed: 'non-zero, unset',
    check: paths(everywhere('runAsUser', (v) => v === 0), () => 'runAsUser 0 is root'),
  },
  {
    level: 'restricted',
    name: 'Seccomp',
    fields: 'securityContext.seccompProfile.type (pod, containers)',
    allowed: 'RuntimeDefault, Localhost (on the pod, or on every container)',
    check: (pod) => {
      const ok = (v: unknown) => v === 'RuntimeDefault' || v === 'Localhost'
      const out = paths(everywhere('seccompProfile.type', (v) => !ok(v) && v !== 'Unconfined'), () => 'the seccomp profile must be RuntimeDefault or Localhost')(pod)
      if (!ok(valueAt(pod, ['spec', 'securityContext', 'seccompProfile', 'type']))) {
        for (const c of containerPaths(pod)) {
          if (valueAt(pod, [...c, 'securityContext', 'seccompProfile', 'type']) === undefined) out.push({path: [...c, 'securityContext', 'seccompProfile', 'type'], why: 'a seccomp profile (RuntimeDefault or Localhost) must be set, here or on the pod'})
        }
      }
      return out
    },
  },
  {
    level: 'restricted',
    name: 'Capabilities',
    fields: 'securityContext.capabilities.drop, .add (containers)',
    allowed: 'drop includes ALL; add only NET_BIND_SERVICE',
    check: (pod) => [
      ...containerPaths(pod)
        .filter((c) => {
          const drop = valueAt(pod, [...c, 'securityContext', 'capabilities', 'drop'])
          return !(Array.isArray(drop) && drop.includes('ALL'))
        })
        .map((c) => ({path: [...c, 'securityContext', 'capabilities', 'drop'], why: 'capabilities.drop must include ALL'})),
      ...paths(inContainers('securityContext.capabilities.add[*]', (v) => v !== 'NET_BIND_SERVICE' && BASELINE_CAPABILITIES.has(String(v))), (v) => `capability ${show(v)} may not be added (only NET_BIND_SERVICE)`)(pod),
    ],
  },
]

const rank = (l: PodSecurityLevel): number => POD_SECURITY_LEVELS.indexOf(l)

/** A hostPath inside one of the allowed prefixes (compared by whole components, after normalizing). */
export function hostPathAllowed(p: string, prefixes: string[]): boolean {
  const norm = path.posix.normalize(p)
  return prefixes.some((pre) => {
    const base = path.posix.normalize(pre).replace(/\/+$/, '') || '/'
    return norm === base || norm.startsWith(base === '/' ? '/' : `${base}/`)
  })
}

export interface SecurityFinding {
  path: FieldPath
  /** The lowest level that refuses it ('baseline' or 'restricted'); 'local' for --allowed-host-paths. */
  level: 'baseline' | 'restricted' | 'local'
  control: string
  why: string
}

/** Everything in the pod that the restricted level (the strictest) refuses, with the local lists applied. */
export function podSecurityFindings(pod: Pod, allowedHostPaths: string[] = [], allowedHostPorts: Array<[number, number]> = []): SecurityFinding[] {
  let out: SecurityFinding[] = []
  for (const c of POD_SECURITY_CONTROLS) for (const f of c.check(pod)) out.push({path: f.path, level: c.level, control: c.name, why: f.why})
  const portListed = (v: unknown) => typeof v === 'number' && allowedHostPorts.some(([lo, hi]) => v >= lo && v <= hi)
  out = out.filter((f) => f.control !== 'Host Ports' || !portListed(valueAt(pod, f.path)))
  if (allowedHostPaths.length === 0) return out
  // With listed prefixes, hostPath is judged by them alone: inside one it is allowed at every
  // level, outside all of them it is refused at every level.
  const where = (h: FieldPath) => valueAt(pod, [...h, 'path'])
  const outside = findPaths('spec.volumes[*].hostPath')(pod).filter((h) => {
    const p = where(h)
    return !(typeof p === 'string' && hostPathAllowed(p, allowedHostPaths))
  })
  return [
    ...out.filter((f) => f.control !== 'HostPath Volumes'),
    ...outside.map((h) => ({path: [...h, 'path'], level: 'local' as const, control: 'HostPath Volumes', why: `host path ${show(where(h))} is outside --allowed-host-paths (${allowedHostPaths.join(', ')})`})),
  ]
}

/** The findings a policy turns into errors and warnings, with messages that name the flag that allows each. */
export function judgePod(pod: Pod, policy: PodSecurityPolicy): {errors: Array<{path: FieldPath; message: string}>; warnings: Array<{path: FieldPath; message: string}>} {
  const errors: Array<{path: FieldPath; message: string}> = []
  const warnings: Array<{path: FieldPath; message: string}> = []
  for (const f of podSecurityFindings(pod, policy.allowedHostPaths, policy.allowedHostPorts)) {
    if (f.level === 'local') {
      errors.push({path: f.path, message: `${f.why}; add its folder to --allowed-host-paths`})
      continue
    }
    const allowing = f.level === 'restricted' ? 'baseline' : 'privileged'
    const flag = policy.flag ?? '--pod-security'
    if (rank(policy.enforce) >= rank(f.level)) errors.push({path: f.path, message: `${f.why}: refused by ${flag}=${policy.enforce} (${f.control}); ${flag}=${allowing} allows it`})
    else if (policy.warn && rank(policy.warn) >= rank(f.level)) warnings.push({path: f.path, message: `${f.why}: would be refused by --pod-security=${policy.warn} (${f.control}, --pod-security-warn)`})
  }
  return {errors, warnings}
}

/** The README table (markdown) of what each level refuses. */
export function renderPodSecurityTable(): string {
  const rows = POD_SECURITY_CONTROLS.map((c) => `| ${c.level} | ${c.name} | ${c.fields} | ${c.allowed} |`)
  return ['| refused from | control | fields | allowed values |', '|---|---|---|---|', ...rows].join('\n') + '\n'
}
