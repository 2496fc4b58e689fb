// Stable hashes of desired state, so the planner can tell what changed by comparing them with the
// hash labels on what runs. The hashed fields are named HERE and nowhere else; golden-value tests
// (test/unit/manifest-hash.test.ts) pin the results, because a change in what is hashed restarts
// every workload on upgrade.
//
// Sandbox hash: what the pod sandbox is created with; a change means a new sandbox (and new IP),
// hence every container too:
//   Linux namespaces (hostNetwork, hostPID, hostIPC, hostUsers, shareProcessNamespace), hostname,
//   subdomain, setHostnameAsFQDN, DNS (dnsPolicy, dnsConfig), hostAliases (the pod's /etc/hosts),
//   the pod-level securityContext (user/group ids, sysctls, seccomp, SELinux... go to the sandbox),
//   runtimeClassName, os, and the port mappings: every container port that has a hostPort
//   (containerPort, hostPort, protocol, hostIP), from init and app containers.
//
// Container hash: the container's own spec that goes into its CRI config, so a change means
// replacing that container only:
//   image, command, args, workingDir, ports, env, envFrom, resources, volumeMounts, volumeDevices,
//   securityContext, stdin, stdinOnce, tty, terminationMessagePath, restartPolicy (sidecar or not),
//   and the definitions of the volumes it mounts (looked up by name in spec.volumes).
// Volumes are not in the sandbox hash: a sandbox holds no mounts, so a volume change replaces the
// containers that mount that volume and nothing else.
// Not hashed (changing them restarts nothing): name (the identity), imagePullPolicy, probes,
// lifecycle hooks, terminationMessagePolicy, resizePolicy; labels, annotations, restartPolicy and
// terminationGracePeriodSeconds of the pod; the content of referenced ConfigMaps and Secrets (each
// has its own content hash).
//
// Canonical form: JSON with keys sorted, null and absent fields left out, and empty lists and
// mappings left out (the API treats `[]` and `{}` like absent fields). Values are hashed after
// normalization (defaults filled, quantities canonical), so `cpu: 1` and `cpu: "1000m"` agree, and
// the order of keys in the YAML never matters. Hash: sha256 of the canonical JSON, first 16 hex digits.
import {createHash} from 'node:crypto'
import type {Container, Pod, PodSpec} from 'kubernetes-types/core/v1.js'
import {compareText} from '../lib/compare.js'

export const SANDBOX_SPEC_FIELDS = [
  'hostNetwork',
  'hostPID',
  'hostIPC',
  'hostUsers',
  'shareProcessNamespace',
  'hostname',
  'subdomain',
  'setHostnameAsFQDN',
  'dnsPolicy',
  'dnsConfig',
  'hostAliases',
  'securityContext',
  'runtimeClassName',
  'os',
] as const satisfies ReadonlyArray<keyof PodSpec>

export const CONTAINER_FIELDS = [
  'image',
  'command',
  'args',
  'workingDir',
  'ports',
  'env',
  'envFrom',
  'resources',
  'volumeMounts',
  'volumeDevices',
  'securityContext',
  'stdin',
  'stdinOnce',
  'tty',
  'terminationMessagePath',
  'restartPolicy',
] as const satisfies ReadonlyArray<keyof Container>

/** Sorted keys; null, undefined, empty lists and empty mappings left out. */
export function canonicalJson(value: unknown): string {
  return canonical(value) ?? 'null'
}

/** The canonical JSON text of a value, or undefined when it is left out. */
function canonical(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined
    let out = '['
    for (let i = 0; i < value.length; i++) out += (i > 0 ? ',' : '') + (canonical(value[i]) ?? 'null')
    return out + ']'
  }
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>
    let out = ''
    for (const key of Object.keys(record).sort()) {
      const c = canonical(record[key])
      if (c === undefined) continue
      out += (out === '' ? '{' : ',') + JSON.stringify(key) + ':' + c
    }
    return out === '' ? undefined : out + '}'
  }
  return JSON.stringify(value)
}

function isEmpty(value: unknown): boolean {
  return value === undefined || (Array.isArray(value) && value.length === 0)
}

export function shortHash(value: unknown): string {
  const json = canonicalJson(value)
  return createHash('sha256').update(json).digest('hex').slice(0, 16)
}

function pick<T extends object>(obj: T, fields: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of fields) {
    const v = (obj as Record<string, unknown>)[f]
    if (!isEmpty(v)) out[f] = v
  }
  return out
}

/** What the sandbox hash covers, as a value (exported for tests and for `--explain`-style output). */
export function sandboxHashInput(pod: Pod): Record<string, unknown> {
  const spec = pod.spec ?? ({containers: []} as PodSpec)
  const portMappings: Array<Record<string, unknown>> = []
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const p of c.ports ?? []) {
      if (p.hostPort === undefined || p.hostPort === 0) continue
      portMappings.push({containerPort: p.containerPort, hostPort: p.hostPort, protocol: p.protocol ?? 'TCP', hostIP: p.hostIP})
    }
  }
  return {...pick(spec, SANDBOX_SPEC_FIELDS), portMappings}
}

export function sandboxHash(pod: Pod): string {
  return shortHash(sandboxHashInput(pod))
}

/** What a container's hash covers. */
export function containerHashInput(container: Container, pod: Pod): Record<string, unknown> {
  const mounted = new Set<string>([
    ...(container.volumeMounts ?? []).map((m) => m.name),
    ...(container.volumeDevices ?? []).map((d) => d.name),
  ])
  const volumes = (pod.spec?.volumes ?? []).filter((v) => mounted.has(v.name)).sort((a, b) => compareText(a.name, b.name))
  return {...pick(container, CONTAINER_FIELDS), volumes}
}

export function containerHash(container: Container, pod: Pod): string {
  return shortHash(containerHashInput(container, pod))
}

/** Content hash of a ConfigMap's or Secret's data. */
export function contentHash(content: Record<string, unknown>): string {
  return shortHash(content)
}
