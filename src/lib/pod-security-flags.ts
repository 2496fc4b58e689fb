// The pod security flags, the same for apply, diff, validate and the daemon: the level enforced
// (baseline by default: a root daemon on a device should not run a privileged pod because a file
// said so), a level that only warns, and the host paths and ports allowed at every level.
import path from 'node:path'
import {Flags} from '@oclif/core'
import {POD_SECURITY_LEVELS, type PodSecurityLevel, type PodSecurityPolicy} from '../manifest/pod-security.js'
import {ExitCode, PodrunError} from './errors.js'

export const DEFAULT_POD_SECURITY: PodSecurityLevel = 'baseline'

export const podSecurityFlags = {
  'pod-security': Flags.string({
    summary: 'Pod Security Standard enforced: privileged (anything), baseline (no host namespaces, privileged containers, hostPath, host ports, added capabilities...), restricted (baseline, and non-root, no privilege escalation, capabilities dropped, seccomp set).',
    options: [...POD_SECURITY_LEVELS],
    default: DEFAULT_POD_SECURITY,
  }),
  'pod-security-warn': Flags.string({summary: 'A stricter level that only warns.', options: [...POD_SECURITY_LEVELS]}),
  'allowed-host-paths': Flags.string({summary: 'Comma-separated absolute folders where hostPath volumes are allowed at any level; outside them hostPath is refused at every level.'}),
  'allowed-host-ports': Flags.string({summary: 'Comma-separated host ports or ranges (8080,9000-9010) allowed at any level.'}),
}

const usage = (message: string): PodrunError => new PodrunError(message, {reason: 'Usage', exitCode: ExitCode.invalid})

export function podSecurityPolicy(flags: {'pod-security'?: string; 'pod-security-warn'?: string; 'allowed-host-paths'?: string; 'allowed-host-ports'?: string}): PodSecurityPolicy {
  const list = (v: string | undefined) => (v ?? '').split(',').map((x) => x.trim()).filter(Boolean)
  const allowedHostPaths = list(flags['allowed-host-paths']).map((p) => {
    if (!path.isAbsolute(p)) throw usage(`--allowed-host-paths: ${JSON.stringify(p)} is not an absolute path`)
    return path.posix.normalize(p)
  })
  const allowedHostPorts = list(flags['allowed-host-ports']).map((r): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(r)
    const lo = Number(m?.[1])
    const hi = Number(m?.[2] ?? m?.[1])
    if (!m || lo < 1 || hi > 65535 || lo > hi) throw usage(`--allowed-host-ports: ${JSON.stringify(r)} is not a port (1-65535) or a range of them (8000-8010)`)
    return [lo, hi]
  })
  return {
    enforce: (flags['pod-security'] ?? DEFAULT_POD_SECURITY) as PodSecurityLevel,
    warn: flags['pod-security-warn'] as PodSecurityLevel | undefined,
    allowedHostPaths,
    allowedHostPorts,
  }
}
