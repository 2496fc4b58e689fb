// The rules Kubernetes' own validation enforces that a JSON Schema cannot express (after
// pkg/apis/core/validation): names, uniqueness, ranges, enums, one handler per probe, mounts that
// name declared volumes, limits >= requests, safe paths, ... Rules read the object defensively:
// a field of the wrong type was already reported by the schema and is skipped here.
import type {ObjectReporter} from './diagnostics.js'
import {
  closest,
  configMapKey,
  dns1123Label,
  dns1123Subdomain,
  envVarName,
  ianaServiceName,
  ipAddress,
  labelValue,
  noBacksteps,
  qualifiedName,
  relativePath,
} from './k8s-names.js'
import {DEFINITIONS} from '../gen/schema/fields.js'
import {parseImageRef} from './image-ref.js'
import {compareQuantities, isNegative, parseQuantity, type Quantity} from './quantity.js'
import {isNodeResource} from './standalone.js'
import type {FieldPath} from './types.js'
import {isRecord} from './field-path.js'

type Rec = Record<string, unknown>
type Path = Array<string | number>

export const rec = (v: unknown): Rec | undefined => (isRecord(v) ? v : undefined)
export const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined)

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never']
export const PULL_POLICIES = ['Always', 'IfNotPresent', 'Never']
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP']
export const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None']
const TERMINATION_MESSAGE_POLICIES = ['File', 'FallbackToLogsOnError']
const HOST_PATH_TYPES = ['', 'DirectoryOrCreate', 'Directory', 'FileOrCreate', 'File', 'Socket', 'CharDevice', 'BlockDevice']
const MOUNT_PROPAGATIONS = ['None', 'HostToContainer', 'Bidirectional']
const RECURSIVE_READ_ONLY = ['Disabled', 'IfPossible', 'Enabled']
const PROFILE_TYPES = ['RuntimeDefault', 'Unconfined', 'Localhost']
const PROC_MOUNTS = ['Default', 'Unmasked']
const URI_SCHEMES = ['HTTP', 'HTTPS']
const RESIZE_RESOURCES = ['cpu', 'memory']
const RESIZE_RESTART = ['NotRequired', 'RestartContainer']
const ENV_FIELD_PATHS = [
  'metadata.name', 'metadata.namespace', 'metadata.uid', 'spec.nodeName', 'spec.serviceAccountName',
  'status.hostIP', 'status.hostIPs', 'status.podIP', 'status.podIPs',
]
const VOLUME_FIELD_PATHS = ['metadata.name', 'metadata.namespace', 'metadata.uid', 'metadata.labels', 'metadata.annotations']
/** One label or annotation, as a fieldRef may name it: metadata.labels['app']. */
const ONE_LABEL_FIELD_PATH = /^metadata\.(labels|annotations)\['[^']+'\]$/
const RESOURCE_FIELD_REFS = [
  'limits.cpu', 'limits.memory', 'limits.ephemeral-storage', 'requests.cpu', 'requests.memory', 'requests.ephemeral-storage',
]
const PROBE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'grpc']
const LIFECYCLE_HANDLERS = ['exec', 'httpGet', 'tcpSocket', 'sleep']
const VOLUME_SOURCES_NOT = new Set(['name'])
const MAX_ANNOTATIONS_BYTES = 256 * 1024
const MAX_CONFIG_BYTES = 1024 * 1024
export const APPARMOR_ANNOTATION_PREFIX = 'container.apparmor.security.beta.kubernetes.io/'

/** "must be one of ..." with a "did you mean" for a near miss. */
function enumCheck(r: ObjectReporter, path: FieldPath, value: unknown, allowed: readonly string[]): void {
  const v = str(value)
  if (v === undefined || allowed.includes(v)) return
  const near = closest(v, allowed.filter((a) => a !== ''))
  const choices = allowed.map((a) => JSON.stringify(a)).join(', ')
  r.error(path, `${JSON.stringify(v)} is not valid: must be one of ${choices}${near ? `; did you mean "${near}"?` : ''}`)
}

function rangeCheck(r: ObjectReporter, path: FieldPath, value: unknown, min: number, max: number, what = 'must be'): void {
  const v = int(value)
  if (v === undefined) return
  if (v < min || v > max) r.error(path, `${what} between ${min} and ${max}, got ${v}`)
}

function minCheck(r: ObjectReporter, path: FieldPath, value: unknown, min: number): void {
  const v = int(value)
  if (v !== undefined && v < min) r.error(path, `must be ${min === 0 ? 'zero or more' : `at least ${min}`}, got ${v}`)
}

function fileModeCheck(r: ObjectReporter, path: FieldPath, value: unknown): void {
  const v = int(value)
  if (v !== undefined && (v < 0 || v > 0o777)) {
    r.error(path, `must be a file mode between 0 and 0777 (octal; 511 decimal), got ${v}${v > 0o777 && v <= 777 ? ' (write octal modes with a leading 0, e.g. 0644, or in decimal, e.g. 420)' : ''}`)
  }
}

/**
 * Exactly one of `keys` must be set. When none is but the object has a field unknown to its schema
 * definition (a misspelt handler, or one newer than the schema), the schema error already says it.
 */
function exactlyOne(r: ObjectReporter, path: FieldPath, o: Rec, keys: readonly string[], what: string, definition: string): string | undefined {
  const present = keys.filter((k) => o[k] !== undefined)
  if (present.length === 0) {
    const known = DEFINITIONS[definition]
    if (known && Object.keys(o).some((k) => !(k in known))) return undefined
    r.error(path, `${what}: set one of ${keys.join(', ')}`, 'key')
    return undefined
  }
  if (present.length > 1) {
    r.error([...path, present[1]], `${what}: only one may be set, found ${present.join(' and ')}`, 'key')
    return undefined
  }
  return present[0]
}

function checkName(r: ObjectReporter, path: FieldPath, value: unknown, check: (v: string) => string | undefined, what: string): void {
  const v = str(value)
  if (v === undefined) return
  const problem = check(v)
  if (problem) r.error(path, `${what} ${JSON.stringify(v)} ${problem}`)
}

function checkProfile(r: ObjectReporter, path: FieldPath, value: unknown, what: 'seccomp' | 'AppArmor'): void {
  const p = rec(value)
  if (!p) return
  enumCheck(r, [...path, 'type'], p.type, PROFILE_TYPES)
  if (p.type === 'Localhost' && !str(p.localhostProfile)) {
    r.error(path, `a Localhost ${what} profile needs localhostProfile`, 'key')
  } else if (p.type !== 'Localhost' && p.localhostProfile !== undefined) {
    r.error([...path, 'localhostProfile'], `localhostProfile may only be set when type is Localhost`, 'key')
  }
  if (what === 'seccomp' && typeof p.localhostProfile === 'string') {
    const problem = noBacksteps(p.localhostProfile)
    if (problem) r.error([...path, 'localhostProfile'], `localhostProfile ${problem}`)
  }
}

function checkUserIds(r: ObjectReporter, path: FieldPath, sc: Rec): void {
  for (const f of ['runAsUser', 'runAsGroup', 'fsGroup']) minCheck(r, [...path, f], sc[f], 0)
  list(sc.supplementalGroups).forEach((g, i) => minCheck(r, [...path, 'supplementalGroups', i], g, 0))
}

/** Metadata shared by every kind: name, namespace, labels, annotations. */
export function checkMetadata(r: ObjectReporter, nameRule: 'label' | 'subdomain'): void {
  const meta = rec(r.object.value.metadata)
  const kind = r.object.kind
  if (!meta && r.object.value.metadata !== undefined) return // not a mapping: the schema says so
  if (!meta || meta.name === undefined) {
    const generate = meta && str(meta.generateName)
    r.error(
      ['metadata', 'name'],
      generate !== undefined
        ? `missing metadata.name: podrun needs a fixed name (generateName would need an API server to pick one)`
        : `missing metadata.name: every ${kind} needs a name`,
      'key',
    )
  } else checkName(r, ['metadata', 'name'], meta.name, nameRule === 'label' ? dns1123Label : dns1123Subdomain, `${kind} name`)
  if (!meta) return
  checkName(r, ['metadata', 'namespace'], meta.namespace, dns1123Label, 'namespace')
  const labels = rec(meta.labels)
  if (labels) {
    for (const [k, v] of Object.entries(labels)) {
      const keyProblem = qualifiedName(k)
      if (keyProblem) r.error(['metadata', 'labels', k], `label key ${JSON.stringify(k)}: ${keyProblem}`, 'key')
      checkName(r, ['metadata', 'labels', k], v, labelValue, 'label value')
    }
  }
  const annotations = rec(meta.annotations)
  if (annotations) {
    let size = 0
    for (const [k, v] of Object.entries(annotations)) {
      size += k.length + (typeof v === 'string' ? Buffer.byteLength(v) : 0)
      const keyProblem = qualifiedName(k)
      if (keyProblem) r.error(['metadata', 'annotations', k], `annotation key ${JSON.stringify(k)}: ${keyProblem}`, 'key')
    }
    if (size > MAX_ANNOTATIONS_BYTES) r.error(['metadata', 'annotations'], `annotations total ${size} bytes; the limit is ${MAX_ANNOTATIONS_BYTES}`, 'key')
  }
}

/** All Pod rules. */
export function checkPod(r: ObjectReporter): void {
  checkMetadata(r, 'label')
  const pod = r.object.value
  const spec = rec(pod.spec)
  if (!spec) {
    if (pod.spec === undefined) r.error(['spec'], 'missing required field "spec"', 'key')
    return
  }
  new PodRules(r, spec, rec(rec(pod.metadata)?.annotations) ?? {}).run()
}

class PodRules {
  private readonly volumes = new Map<string, number>()
  private readonly containerNames = new Map<string, Path>()
  private readonly hostPorts = new Map<string, Path>()

  constructor(
    private readonly r: ObjectReporter,
    private readonly spec: Rec,
    private readonly annotations: Rec,
  ) {}

  run(): void {
    const {r, spec} = this
    enumCheck(r, ['spec', 'restartPolicy'], spec.restartPolicy, RESTART_POLICIES)
    enumCheck(r, ['spec', 'dnsPolicy'], spec.dnsPolicy, DNS_POLICIES)
    checkName(r, ['spec', 'hostname'], spec.hostname, dns1123Label, 'hostname')
    checkName(r, ['spec', 'subdomain'], spec.subdomain, dns1123Label, 'subdomain')
    minCheck(r, ['spec', 'terminationGracePeriodSeconds'], spec.terminationGracePeriodSeconds, 0)
    minCheck(r, ['spec', 'activeDeadlineSeconds'], spec.activeDeadlineSeconds, 1)
    if (spec.shareProcessNamespace === true && spec.hostPID === true) {
      r.error(['spec', 'shareProcessNamespace'], 'shareProcessNamespace and hostPID cannot both be true', 'key')
    }
    this.checkDns()
    this.checkHostAliases()
    this.checkPodSecurityContext()
    this.checkVolumes()

    // (A missing spec.containers is the schema's "missing required field".)
    if (Array.isArray(spec.containers) && spec.containers.length === 0) {
      r.error(['spec', 'containers'], 'a pod needs at least one container in spec.containers', 'key')
    }
    list(spec.initContainers).forEach((c, i) => this.checkContainer(c, ['spec', 'initContainers', i], true))
    list(spec.containers).forEach((c, i) => this.checkContainer(c, ['spec', 'containers', i], false))
    this.checkAppArmorAnnotations()
  }

  private checkDns(): void {
    const {r, spec} = this
    const dnsConfig = rec(spec.dnsConfig)
    if (spec.dnsPolicy === 'None' && list(dnsConfig?.nameservers).length === 0) {
      r.error(['spec', 'dnsPolicy'], 'dnsPolicy None needs spec.dnsConfig with at least one nameserver')
    }
    if (!dnsConfig) return
    const nameservers = list(dnsConfig.nameservers)
    if (nameservers.length > 3) r.error(['spec', 'dnsConfig', 'nameservers'], `at most 3 nameservers, got ${nameservers.length}`, 'key')
    nameservers.forEach((ns, i) => {
      if (typeof ns === 'string' && !ipAddress(ns)) r.error(['spec', 'dnsConfig', 'nameservers', i], `${JSON.stringify(ns)} is not an IP address`)
    })
    const searches = list(dnsConfig.searches)
    if (searches.length > 32) r.error(['spec', 'dnsConfig', 'searches'], `at most 32 search domains, got ${searches.length}`, 'key')
    searches.forEach((s, i) => {
      if (typeof s === 'string') {
        const problem = dns1123Subdomain(s.replace(/\.$/, ''))
        if (problem) r.error(['spec', 'dnsConfig', 'searches', i], `search domain ${JSON.stringify(s)} ${problem}`)
      }
    })
    list(dnsConfig.options).forEach((o, i) => {
      const opt = rec(o)
      if (opt && !str(opt.name)) r.error(['spec', 'dnsConfig', 'options', i], 'a DNS option needs a name', 'key')
    })
  }

  private checkHostAliases(): void {
    list(this.spec.hostAliases).forEach((a, i) => {
      const alias = rec(a)
      if (!alias) return
      const ip = str(alias.ip)
      if (ip === undefined) this.r.error(['spec', 'hostAliases', i], 'a host alias needs an ip', 'key')
      else if (!ipAddress(ip)) this.r.error(['spec', 'hostAliases', i, 'ip'], `${JSON.stringify(ip)} is not an IP address`)
      list(alias.hostnames).forEach((h, j) => checkName(this.r, ['spec', 'hostAliases', i, 'hostnames', j], h, dns1123Subdomain, 'hostname'))
    })
  }

  private checkPodSecurityContext(): void {
    const sc = rec(this.spec.securityContext)
    if (!sc) return
    const base = ['spec', 'securityContext']
    checkUserIds(this.r, base, sc)
    checkProfile(this.r, [...base, 'seccompProfile'], sc.seccompProfile, 'seccomp')
    checkProfile(this.r, [...base, 'appArmorProfile'], sc.appArmorProfile, 'AppArmor')
    enumCheck(this.r, [...base, 'fsGroupChangePolicy'], sc.fsGroupChangePolicy, ['OnRootMismatch', 'Always'])
    const seen = new Set<string>()
    list(sc.sysctls).forEach((s, i) => {
      const sysctl = rec(s)
      const name = str(sysctl?.name)
      if (name === undefined) return
      if (!/^([a-z0-9]([-_a-z0-9]*[a-z0-9])?[./])*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 253) {
        this.r.error([...base, 'sysctls', i, 'name'], `${JSON.stringify(name)} is not a valid sysctl name (e.g. net.ipv4.ip_local_port_range)`)
      }
      if (seen.has(name)) this.r.error([...base, 'sysctls', i, 'name'], `sysctl ${JSON.stringify(name)} is set twice`)
      seen.add(name)
    })
  }

  private checkVolumes(): void {
    const {r} = this
    list(this.spec.volumes).forEach((v, i) => {
      const vol = rec(v)
      if (!vol) return
      const path: Path = ['spec', 'volumes', i]
      const name = str(vol.name)
      if (name !== undefined) {
        checkName(r, [...path, 'name'], name, dns1123Label, 'volume name')
        const first = this.volumes.get(name)
        if (first !== undefined) r.error([...path, 'name'], `volume name ${JSON.stringify(name)} is already used by spec.volumes[${first}]`)
        else this.volumes.set(name, i)
      }
      const sources = Object.keys(vol).filter((k) => !VOLUME_SOURCES_NOT.has(k))
      if (sources.length === 0) {
        r.error(path, 'a volume needs a source: one of emptyDir, hostPath, configMap, secret, downwardAPI, projected', 'value')
      } else if (sources.length > 1) {
        r.error([...path, sources[1]], `a volume has exactly one source, found ${sources.join(' and ')}`, 'key')
      }
      const hostPath = rec(vol.hostPath)
      if (hostPath) {
        const p = str(hostPath.path)
        if (p !== undefined) {
          if (!p.startsWith('/')) r.error([...path, 'hostPath', 'path'], `hostPath.path must be an absolute path, got ${JSON.stringify(p)}`)
          const problem = noBacksteps(p)
          if (problem) r.error([...path, 'hostPath', 'path'], `hostPath.path ${problem}`)
        }
        enumCheck(r, [...path, 'hostPath', 'type'], hostPath.type, HOST_PATH_TYPES)
      }
      const emptyDir = rec(vol.emptyDir)
      if (emptyDir) {
        const medium = str(emptyDir.medium)
        if (medium !== undefined && !['', 'Memory', 'HugePages'].includes(medium) && !/^HugePages-/.test(medium)) {
          r.error([...path, 'emptyDir', 'medium'], `${JSON.stringify(medium)} is not valid: must be "", "Memory" or "HugePages"`)
        }
        this.quantity([...path, 'emptyDir', 'sizeLimit'], emptyDir.sizeLimit)
      }
      const configMap = rec(vol.configMap)
      if (configMap) {
        if (!str(configMap.name)) r.error([...path, 'configMap'], 'a configMap volume needs the ConfigMap\'s name', 'key')
        fileModeCheck(r, [...path, 'configMap', 'defaultMode'], configMap.defaultMode)
        this.checkKeyToPaths([...path, 'configMap', 'items'], configMap.items)
      }
      const secret = rec(vol.secret)
      if (secret) {
        if (!str(secret.secretName)) r.error([...path, 'secret'], 'a secret volume needs secretName', 'key')
        fileModeCheck(r, [...path, 'secret', 'defaultMode'], secret.defaultMode)
        this.checkKeyToPaths([...path, 'secret', 'items'], secret.items)
      }
      const downwardAPI = rec(vol.downwardAPI)
      if (downwardAPI) {
        fileModeCheck(r, [...path, 'downwardAPI', 'defaultMode'], downwardAPI.defaultMode)
        this.checkDownwardApiItems([...path, 'downwardAPI', 'items'], downwardAPI.items, new Map())
      }
      const projected = rec(vol.projected)
      if (projected) this.checkProjected([...path, 'projected'], projected)
    })
  }

  private checkKeyToPaths(path: Path, items: unknown, seen = new Map<string, Path>()): void {
    list(items).forEach((it, i) => {
      const item = rec(it)
      if (!item) return
      const p: Path = [...path, i]
      checkName(this.r, [...p, 'key'], item.key, configMapKey, 'key')
      this.checkItemPath([...p, 'path'], item.path, seen)
      fileModeCheck(this.r, [...p, 'mode'], item.mode)
    })
  }

  private checkItemPath(path: Path, value: unknown, seen: Map<string, Path>): void {
    const v = str(value)
    if (v === undefined) return
    const problem = relativePath(v)
    if (problem) {
      this.r.error(path, `path ${JSON.stringify(v)} ${problem}`)
      return
    }
    const normalized = v.replace(/\/+$/, '')
    if (seen.has(normalized)) this.r.error(path, `path ${JSON.stringify(v)} is also written by another item of this volume`)
    seen.set(normalized, path)
  }

  private checkDownwardApiItems(path: Path, items: unknown, seen: Map<string, Path>): void {
    list(items).forEach((it, i) => {
      const item = rec(it)
      if (!item) return
      const p: Path = [...path, i]
      this.checkItemPath([...p, 'path'], item.path, seen)
      fileModeCheck(this.r, [...p, 'mode'], item.mode)
      const source = exactlyOne(this.r, p, item, ['fieldRef', 'resourceFieldRef'], 'a downwardAPI item takes its value from one place', 'DownwardAPIVolumeFile')
      if (source === 'fieldRef') {
        const fieldPath = str(rec(item.fieldRef)?.fieldPath)
        if (fieldPath !== undefined && !VOLUME_FIELD_PATHS.includes(fieldPath) && !ONE_LABEL_FIELD_PATH.test(fieldPath)) {
          this.r.error([...p, 'fieldRef', 'fieldPath'], `${JSON.stringify(fieldPath)} is not supported in a volume: use one of ${VOLUME_FIELD_PATHS.join(', ')}, metadata.labels['<key>'], metadata.annotations['<key>']`)
        }
      } else if (source === 'resourceFieldRef') {
        const ref = rec(item.resourceFieldRef) ?? {}
        if (!str(ref.containerName)) this.r.error([...p, 'resourceFieldRef'], 'resourceFieldRef in a volume needs containerName', 'key')
        this.checkResourceFieldRef([...p, 'resourceFieldRef'], ref)
      }
    })
  }

  private checkResourceFieldRef(path: Path, ref: Rec): void {
    const resource = str(ref.resource)
    if (resource !== undefined && !RESOURCE_FIELD_REFS.includes(resource) && !/^(limits|requests)\.hugepages-/.test(resource)) {
      this.r.error([...path, 'resource'], `${JSON.stringify(resource)} is not supported: use one of ${RESOURCE_FIELD_REFS.join(', ')}`)
    }
    const containerName = str(ref.containerName)
    if (containerName !== undefined && containerName !== '') {
      const all = [...list(this.spec.containers), ...list(this.spec.initContainers)].map((c) => str(rec(c)?.name))
      if (!all.includes(containerName)) this.r.error([...path, 'containerName'], `no container named ${JSON.stringify(containerName)} in this pod`)
    }
    if (ref.divisor !== undefined) this.quantity([...path, 'divisor'], ref.divisor)
  }

  private checkProjected(path: Path, projected: Rec): void {
    fileModeCheck(this.r, [...path, 'defaultMode'], projected.defaultMode)
    const seen = new Map<string, Path>()
    list(projected.sources).forEach((s, i) => {
      const source = rec(s)
      if (!source) return
      const p: Path = [...path, 'sources', i]
      const kind = exactlyOne(this.r, p, source, ['secret', 'configMap', 'downwardAPI', 'serviceAccountToken', 'clusterTrustBundle'], 'a projected source needs a type', 'VolumeProjection')
      if (kind === 'secret' || kind === 'configMap') {
        const ref = rec(source[kind]) ?? {}
        if (!str(ref.name)) this.r.error([...p, kind], `a projected ${kind} needs a name`, 'key')
        this.checkKeyToPaths([...p, kind, 'items'], ref.items, seen)
      } else if (kind === 'downwardAPI') {
        this.checkDownwardApiItems([...p, 'downwardAPI', 'items'], rec(source.downwardAPI)?.items, seen)
      }
    })
  }

  private quantity(path: Path, value: unknown): Quantity | undefined {
    if (value === undefined || (typeof value !== 'string' && typeof value !== 'number')) return undefined
    const q = parseQuantity(value)
    if (typeof q === 'string') {
      this.r.error(path, q.startsWith('"') ? q : `${JSON.stringify(value)} ${q}`)
      return undefined
    }
    if (isNegative(q)) {
      this.r.error(path, `must not be negative, got ${JSON.stringify(value)}`)
      return undefined
    }
    return q
  }

  private checkContainer(value: unknown, path: Path, init: boolean): void {
    const c = rec(value)
    if (!c) return
    const {r} = this
    const name = str(c.name)
    if (name !== undefined) {
      checkName(r, [...path, 'name'], name, dns1123Label, 'container name')
      const first = this.containerNames.get(name)
      if (first) {
        r.error([...path, 'name'], `container name ${JSON.stringify(name)} is already used by ${formatContainerPath(first)}; names must be unique across initContainers and containers`)
      } else this.containerNames.set(name, path)
    }
    if (c.image === undefined) r.error([...path, 'image'], 'missing required field "image"', 'key')
    else if (typeof c.image === 'string') {
      const ref = parseImageRef(c.image)
      if (typeof ref === 'string') r.error([...path, 'image'], ref.startsWith('"') ? ref : `image ${ref}`)
    }
    enumCheck(r, [...path, 'imagePullPolicy'], c.imagePullPolicy, PULL_POLICIES)
    enumCheck(r, [...path, 'terminationMessagePolicy'], c.terminationMessagePolicy, TERMINATION_MESSAGE_POLICIES)
    const sidecar = init && c.restartPolicy === 'Always'
    if (c.restartPolicy !== undefined) {
      if (!init) r.error([...path, 'restartPolicy'], 'restartPolicy may only be set on init containers (to "Always", making a sidecar)', 'key')
      else enumCheck(r, [...path, 'restartPolicy'], c.restartPolicy, ['Always'])
    }
    this.checkPorts(c, path)
    this.checkEnv(c, path)
    this.checkResources(c, path)
    this.checkMounts(c, path)
    this.checkContainerSecurityContext(c, path)
    for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
      if (c[probe] === undefined) continue
      if (init && !sidecar) {
        r.error([...path, probe], `init containers cannot have a ${probe} (only sidecars, with restartPolicy: Always, can)`, 'key')
        continue
      }
      this.checkProbe([...path, probe], rec(c[probe]), c, probe)
    }
    const lifecycle = rec(c.lifecycle)
    if (lifecycle) {
      if (init && !sidecar) r.error([...path, 'lifecycle'], 'init containers cannot have lifecycle hooks (only sidecars, with restartPolicy: Always, can)', 'key')
      else {
        for (const hook of ['postStart', 'preStop']) {
          const h = rec(lifecycle[hook])
          if (!h) continue
          const hp: Path = [...path, 'lifecycle', hook]
          const kind = exactlyOne(r, hp, h, LIFECYCLE_HANDLERS, `a ${hook} hook has one handler`, 'LifecycleHandler')
          if (kind) this.checkHandler(hp, kind, rec(h[kind]) ?? {}, c)
        }
      }
    }
    list(c.resizePolicy).forEach((p, i) => {
      const policy = rec(p)
      if (!policy) return
      enumCheck(r, [...path, 'resizePolicy', i, 'resourceName'], policy.resourceName, RESIZE_RESOURCES)
      enumCheck(r, [...path, 'resizePolicy', i, 'restartPolicy'], policy.restartPolicy, RESIZE_RESTART)
    })
  }

  private checkPorts(c: Rec, path: Path): void {
    const {r} = this
    const names = new Map<string, number>()
    list(c.ports).forEach((p, i) => {
      const port = rec(p)
      if (!port) return
      const pp: Path = [...path, 'ports', i]
      rangeCheck(r, [...pp, 'containerPort'], port.containerPort, 1, 65535, 'containerPort must be')
      if (port.hostPort !== undefined && port.hostPort !== 0) rangeCheck(r, [...pp, 'hostPort'], port.hostPort, 1, 65535, 'hostPort must be')
      enumCheck(r, [...pp, 'protocol'], port.protocol, PROTOCOLS)
      const name = str(port.name)
      if (name !== undefined) {
        checkName(r, [...pp, 'name'], name, ianaServiceName, 'port name')
        if (names.has(name)) r.error([...pp, 'name'], `port name ${JSON.stringify(name)} is already used by ports[${names.get(name)}] of this container`)
        else names.set(name, i)
      }
      const hostIP = str(port.hostIP)
      if (hostIP !== undefined && !ipAddress(hostIP)) r.error([...pp, 'hostIP'], `${JSON.stringify(hostIP)} is not an IP address`)
      const hostPort = int(port.hostPort)
      if (hostPort !== undefined && hostPort > 0 && hostPort <= 65535) {
        if (this.spec.hostNetwork === true && port.containerPort !== hostPort) {
          r.error([...pp, 'hostPort'], `with hostNetwork, hostPort must equal containerPort (${String(port.containerPort)})`)
        }
        const protocol = str(port.protocol) ?? 'TCP'
        const key = `${protocol}/${hostIP ?? ''}/${hostPort}`
        const first = this.hostPorts.get(key)
        if (first) r.error([...pp, 'hostPort'], `hostPort ${hostPort}/${protocol}${hostIP ? ` on ${hostIP}` : ''} is already used by ${formatContainerPath(first)}`)
        else this.hostPorts.set(key, pp)
      }
    })
  }

  private checkEnv(c: Rec, path: Path): void {
    const {r} = this
    list(c.env).forEach((e, i) => {
      const env = rec(e)
      if (!env) return
      const ep: Path = [...path, 'env', i]
      checkName(r, [...ep, 'name'], env.name, envVarName, 'environment variable name')
      if (env.valueFrom === undefined) return
      if (env.value !== undefined && env.value !== '') {
        r.error([...ep, 'valueFrom'], 'set either value or valueFrom, not both', 'key')
        return
      }
      const from = rec(env.valueFrom)
      if (!from) return
      const vp: Path = [...ep, 'valueFrom']
      const kind = exactlyOne(r, vp, from, ['fieldRef', 'resourceFieldRef', 'configMapKeyRef', 'secretKeyRef'], 'valueFrom takes its value from one place', 'EnvVarSource')
      const ref = kind ? rec(from[kind]) ?? {} : {}
      if (kind === 'fieldRef') {
        const fieldPath = str(ref.fieldPath)
        if (fieldPath !== undefined && !ENV_FIELD_PATHS.includes(fieldPath) && !ONE_LABEL_FIELD_PATH.test(fieldPath)) {
          r.error([...vp, 'fieldRef', 'fieldPath'], `${JSON.stringify(fieldPath)} is not supported: use one of ${ENV_FIELD_PATHS.join(', ')}, metadata.labels['<key>'], metadata.annotations['<key>']`)
        }
        const apiVersion = str(ref.apiVersion)
        if (apiVersion !== undefined && apiVersion !== 'v1') r.error([...vp, 'fieldRef', 'apiVersion'], `fieldRef apiVersion must be "v1", got ${JSON.stringify(apiVersion)}`)
      } else if (kind === 'resourceFieldRef') {
        this.checkResourceFieldRef([...vp, 'resourceFieldRef'], ref)
      } else if (kind === 'configMapKeyRef' || kind === 'secretKeyRef') {
        if (!str(ref.name)) r.error([...vp, kind], `${kind} needs the name of the ${kind === 'configMapKeyRef' ? 'ConfigMap' : 'Secret'}`, 'key')
        checkName(r, [...vp, kind, 'key'], ref.key, configMapKey, 'key')
      }
    })
    list(c.envFrom).forEach((e, i) => {
      const from = rec(e)
      if (!from) return
      const fp: Path = [...path, 'envFrom', i]
      const kind = exactlyOne(r, fp, from, ['configMapRef', 'secretRef'], 'envFrom takes variables from one place', 'EnvFromSource')
      if (kind && !str(rec(from[kind])?.name)) r.error([...fp, kind], `${kind} needs a name`, 'key')
      const prefix = str(from.prefix)
      if (prefix !== undefined && prefix !== '') checkName(r, [...fp, 'prefix'], prefix, envVarName, 'prefix')
    })
  }

  private checkResources(c: Rec, path: Path): void {
    const resources = rec(c.resources)
    if (!resources) return
    const rp: Path = [...path, 'resources']
    const parsed: Record<'limits' | 'requests', Map<string, Quantity>> = {limits: new Map(), requests: new Map()}
    for (const kind of ['limits', 'requests'] as const) {
      const m = rec(resources[kind])
      if (!m) continue
      for (const [name, value] of Object.entries(m)) {
        const qp: Path = [...rp, kind, name]
        if (!isNodeResource(name)) {
          const problem = qualifiedName(name)
          if (problem || !name.includes('/')) {
            this.r.error(qp, `resource name ${JSON.stringify(name)} is not valid: use cpu, memory, ephemeral-storage, hugepages-<size>, or a domain-prefixed name`, 'key')
            continue
          }
        }
        const q = this.quantity(qp, value)
        if (q) parsed[kind].set(name, q)
      }
    }
    for (const [name, request] of parsed.requests) {
      const limit = parsed.limits.get(name)
      if (limit && compareQuantities(request, limit) > 0) {
        const req = rec(resources.requests)?.[name]
        const lim = rec(resources.limits)?.[name]
        this.r.error([...rp, 'requests', name], `request ${String(req)} is more than the limit ${String(lim)}: requests.${name} must be less than or equal to limits.${name}`)
      }
    }
  }

  private checkMounts(c: Rec, path: Path): void {
    const {r} = this
    const mountPaths = new Map<string, number>()
    list(c.volumeMounts).forEach((m, i) => {
      const mount = rec(m)
      if (!mount) return
      const mp: Path = [...path, 'volumeMounts', i]
      const name = str(mount.name)
      if (name !== undefined && !this.volumes.has(name)) {
        const declared = [...this.volumes.keys()]
        const near = closest(name, declared)
        r.error(
          [...mp, 'name'],
          `no volume named ${JSON.stringify(name)} in spec.volumes` +
            (near ? `; did you mean ${JSON.stringify(near)}?` : declared.length > 0 ? ` (declared: ${declared.join(', ')})` : ' (the pod declares no volumes)'),
        )
      }
      const mountPath = str(mount.mountPath)
      if (mountPath !== undefined) {
        if (mountPath === '') r.error([...mp, 'mountPath'], 'mountPath must not be empty')
        else if (mountPaths.has(mountPath)) r.error([...mp, 'mountPath'], `mountPath ${JSON.stringify(mountPath)} is already used by volumeMounts[${mountPaths.get(mountPath)}]`)
        else mountPaths.set(mountPath, i)
      }
      const subPath = str(mount.subPath)
      if (subPath !== undefined && subPath !== '') {
        checkName(r, [...mp, 'subPath'], subPath, relativePath, 'subPath')
        if (mount.subPathExpr !== undefined && mount.subPathExpr !== '') r.error([...mp, 'subPathExpr'], 'set either subPath or subPathExpr, not both', 'key')
      }
      const subPathExpr = str(mount.subPathExpr)
      if (subPathExpr !== undefined && subPathExpr !== '') checkName(r, [...mp, 'subPathExpr'], subPathExpr, relativePath, 'subPathExpr')
      enumCheck(r, [...mp, 'mountPropagation'], mount.mountPropagation, MOUNT_PROPAGATIONS)
      if (mount.mountPropagation === 'Bidirectional' && rec(c.securityContext)?.privileged !== true) {
        r.error([...mp, 'mountPropagation'], 'Bidirectional mount propagation needs a privileged container')
      }
      enumCheck(r, [...mp, 'recursiveReadOnly'], mount.recursiveReadOnly, RECURSIVE_READ_ONLY)
      if ((mount.recursiveReadOnly === 'Enabled' || mount.recursiveReadOnly === 'IfPossible') && mount.readOnly !== true) {
        r.error([...mp, 'recursiveReadOnly'], 'recursiveReadOnly needs readOnly: true')
      }
    })
    list(c.volumeDevices).forEach((d, i) => {
      const dev = rec(d)
      const name = str(dev?.name)
      if (name !== undefined && !this.volumes.has(name)) r.error([...path, 'volumeDevices', i, 'name'], `no volume named ${JSON.stringify(name)} in spec.volumes`)
      const devicePath = str(dev?.devicePath)
      if (devicePath !== undefined && mountPaths.has(devicePath)) r.error([...path, 'volumeDevices', i, 'devicePath'], `devicePath ${JSON.stringify(devicePath)} is also a mountPath`)
    })
  }

  private checkContainerSecurityContext(c: Rec, path: Path): void {
    const sc = rec(c.securityContext)
    if (!sc) return
    const sp: Path = [...path, 'securityContext']
    checkUserIds(this.r, sp, sc)
    if (sc.privileged === true && sc.allowPrivilegeEscalation === false) {
      this.r.error([...sp, 'allowPrivilegeEscalation'], 'cannot be false when privileged is true')
    }
    enumCheck(this.r, [...sp, 'procMount'], sc.procMount, PROC_MOUNTS)
    checkProfile(this.r, [...sp, 'seccompProfile'], sc.seccompProfile, 'seccomp')
    checkProfile(this.r, [...sp, 'appArmorProfile'], sc.appArmorProfile, 'AppArmor')
  }

  private checkProbe(path: Path, probe: Rec | undefined, c: Rec, which: string): void {
    if (!probe) return
    const {r} = this
    const kind = exactlyOne(r, path, probe, PROBE_HANDLERS, 'a probe has one handler', 'Probe')
    if (kind) this.checkHandler(path, kind, rec(probe[kind]) ?? {}, c)
    for (const f of ['initialDelaySeconds', 'timeoutSeconds', 'periodSeconds', 'failureThreshold']) minCheck(r, [...path, f], probe[f], 0)
    minCheck(r, [...path, 'successThreshold'], probe.successThreshold, 0)
    if ((which === 'livenessProbe' || which === 'startupProbe') && probe.successThreshold !== undefined && probe.successThreshold !== 1) {
      r.error([...path, 'successThreshold'], `must be 1 for a ${which}`)
    }
    if (probe.terminationGracePeriodSeconds !== undefined) {
      if (which === 'readinessProbe') r.error([...path, 'terminationGracePeriodSeconds'], 'is not allowed on a readinessProbe', 'key')
      else minCheck(r, [...path, 'terminationGracePeriodSeconds'], probe.terminationGracePeriodSeconds, 1)
    }
  }

  private checkHandler(path: Path, kind: string, h: Rec, c: Rec): void {
    const hp: Path = [...path, kind]
    if (kind === 'exec' && list(h.command).length === 0) this.r.error(hp, 'exec needs a command', 'key')
    if (kind === 'httpGet' || kind === 'tcpSocket') {
      this.checkHandlerPort([...hp, 'port'], h.port, c)
      if (kind === 'httpGet') enumCheck(this.r, [...hp, 'scheme'], h.scheme, URI_SCHEMES)
    }
    if (kind === 'grpc') rangeCheck(this.r, [...hp, 'port'], h.port, 1, 65535, 'port must be')
    if (kind === 'sleep') minCheck(this.r, [...hp, 'seconds'], h.seconds, 0)
  }

  private checkHandlerPort(path: Path, port: unknown, c: Rec): void {
    if (typeof port === 'number') {
      rangeCheck(this.r, path, port, 1, 65535, 'port must be')
      return
    }
    if (typeof port !== 'string') return
    if (/^\d+$/.test(port)) {
      rangeCheck(this.r, path, Number(port), 1, 65535, 'port must be')
      return
    }
    const problem = ianaServiceName(port)
    if (problem) {
      this.r.error(path, `port name ${JSON.stringify(port)} ${problem}`)
      return
    }
    const names = list(c.ports).map((p) => str(rec(p)?.name)).filter((n): n is string => n !== undefined)
    if (!names.includes(port)) {
      this.r.error(path, `no port named ${JSON.stringify(port)} in this container's ports${names.length > 0 ? ` (named ports: ${names.join(', ')})` : ''}`)
    }
  }

  /** The AppArmor beta annotations (converted into appArmorProfile by normalization) must name a container and a profile. */
  private checkAppArmorAnnotations(): void {
    for (const [key, value] of Object.entries(this.annotations)) {
      if (!key.startsWith(APPARMOR_ANNOTATION_PREFIX)) continue
      const path: Path = ['metadata', 'annotations', key]
      const container = key.slice(APPARMOR_ANNOTATION_PREFIX.length)
      if (!this.containerNames.has(container)) {
        this.r.error(path, `AppArmor annotation names container ${JSON.stringify(container)}, which this pod does not have`, 'key')
        continue
      }
      const v = str(value)
      if (v === undefined) continue
      if (v !== 'runtime/default' && v !== 'unconfined' && !/^localhost\/.+/.test(v)) {
        this.r.error(path, `AppArmor annotation value ${JSON.stringify(v)} is not valid: use runtime/default, unconfined or localhost/<profile>`)
        continue
      }
      this.r.warning(path, 'the AppArmor annotation is deprecated; podrun applies it as securityContext.appArmorProfile (as Kubernetes 1.30 does): set that field instead')
    }
  }
}

function formatContainerPath(path: FieldPath): string {
  return `${String(path[1])}[${String(path[2])}]${path.length > 3 ? '.' + path.slice(3).join('.') : ''}`
}

/** ConfigMap rules: keys, no key in both data and binaryData, base64 binaryData, size. */
export function checkConfigMap(r: ObjectReporter): void {
  checkMetadata(r, 'subdomain')
  const cm = r.object.value
  const data = rec(cm.data) ?? {}
  const binaryData = rec(cm.binaryData) ?? {}
  let size = 0
  for (const [k, v] of Object.entries(data)) {
    const problem = configMapKey(k)
    if (problem) r.error(['data', k], `key ${JSON.stringify(k)} ${problem}`, 'key')
    if (typeof v === 'string') size += Buffer.byteLength(v) + k.length
  }
  for (const [k, v] of Object.entries(binaryData)) {
    const problem = configMapKey(k)
    if (problem) r.error(['binaryData', k], `key ${JSON.stringify(k)} ${problem}`, 'key')
    if (k in data) r.error(['binaryData', k], `key ${JSON.stringify(k)} is in both data and binaryData`, 'key')
    if (typeof v === 'string') {
      if (!isBase64(v)) r.error(['binaryData', k], 'binaryData values must be base64')
      size += Math.floor((v.length * 3) / 4) + k.length
    }
  }
  if (size > MAX_CONFIG_BYTES) r.error([], `ConfigMap holds ${size} bytes; the limit is ${MAX_CONFIG_BYTES} (1 MiB)`, 'key')
}

/** Secret rules: keys, base64 data, size. */
export function checkSecret(r: ObjectReporter): void {
  checkMetadata(r, 'subdomain')
  const secret = r.object.value
  let size = 0
  for (const field of ['data', 'stringData'] as const) {
    for (const [k, v] of Object.entries(rec(secret[field]) ?? {})) {
      const problem = configMapKey(k)
      if (problem) r.error([field, k], `key ${JSON.stringify(k)} ${problem}`, 'key')
      if (typeof v !== 'string') continue
      if (field === 'data') {
        if (!isBase64(v)) r.error([field, k], 'Secret data values must be base64 (use stringData for plain text)')
        size += Math.floor((v.length * 3) / 4)
      } else size += Buffer.byteLength(v)
    }
  }
  if (size > MAX_CONFIG_BYTES) r.error([], `Secret holds ${size} bytes; the limit is ${MAX_CONFIG_BYTES} (1 MiB)`, 'key')
}

export function isBase64(v: string): boolean {
  const s = v.replace(/[\r\n]/g, '')
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s)
}
