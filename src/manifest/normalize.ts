// From a valid manifest object to podrun's desired state: the defaults the API server would fill in
// (pkg/apis/core/v1/defaults.go), canonical quantities, the deprecated AppArmor annotations applied
// as fields (as Kubernetes 1.30 does), and the hashes of src/manifest/hash.ts.
import path from 'node:path'
import type {Container, Pod, PodSpec, Probe, LifecycleHandler, Volume} from 'kubernetes-types/core/v1.js'
import {objectKey, type DesiredContainer, type DesiredPod} from '../model/desired.js'
import {containerHash, contentHash, sandboxHash} from './hash.js'
import {defaultPullPolicy} from './image-ref.js'
import {canonicalQuantityText} from './quantity.js'
import {APPARMOR_ANNOTATION_PREFIX} from './semantic.js'
import type {DesiredConfigMap, DesiredSecret, ManifestObject} from './types.js'
import {STDIN_NAME} from './load.js'

export const DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
export const DEFAULT_FILE_MODE = 0o644

/** A deep copy of a JSON-like value (much faster than structuredClone for these). */
function clone<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clone) as T
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {}
    for (const k of Object.keys(v)) out[k] = clone((v as Record<string, unknown>)[k])
    return out as T
  }
  return v
}

/** The `source` label value for a file when the caller gives none: its absolute path. */
export function defaultSource(file: string): string {
  return file === STDIN_NAME ? STDIN_NAME : path.resolve(file)
}

/** The Pod with Kubernetes' defaults filled in (metadata reduced to what podrun uses, no status). */
export function normalizePod(obj: ManifestObject): Pod {
  const input = obj.value as Pod
  const meta = input.metadata ?? {}
  const pod: Pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: obj.name,
      namespace: obj.namespace,
      ...(meta.labels ? {labels: clone(meta.labels)} : {}),
      ...(meta.annotations ? {annotations: clone(meta.annotations)} : {}),
    },
    spec: clone(input.spec) as PodSpec,
  }
  const spec = pod.spec as PodSpec
  spec.restartPolicy ??= 'Always'
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
  spec.dnsPolicy ??= 'ClusterFirst'
  spec.securityContext ??= {}
  for (const v of spec.volumes ?? []) defaultVolume(v)
  const annotations = meta.annotations ?? {}
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    defaultContainer(c)
    const appArmor = annotations[APPARMOR_ANNOTATION_PREFIX + c.name]
    if (appArmor !== undefined && c.securityContext?.appArmorProfile === undefined && spec.securityContext.appArmorProfile === undefined) {
      c.securityContext = {...c.securityContext, appArmorProfile: appArmorProfileOf(appArmor)}
    }
  }
  if (spec.overhead) spec.overhead = canonicalMap(spec.overhead)
  return pod
}

function appArmorProfileOf(value: string): {type: string; localhostProfile?: string} {
  if (value === 'runtime/default') return {type: 'RuntimeDefault'}
  if (value === 'unconfined') return {type: 'Unconfined'}
  return {type: 'Localhost', localhostProfile: value.slice('localhost/'.length)}
}

function canonicalMap<T>(m: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {}
  for (const [k, v] of Object.entries(m)) out[k] = canonicalQuantityText(v) as T
  return out
}

function defaultVolume(v: Volume): void {
  if (v.configMap) v.configMap.defaultMode ??= DEFAULT_FILE_MODE
  if (v.secret) v.secret.defaultMode ??= DEFAULT_FILE_MODE
  if (v.downwardAPI) {
    v.downwardAPI.defaultMode ??= DEFAULT_FILE_MODE
    for (const item of v.downwardAPI.items ?? []) {
      if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1'
      if (item.resourceFieldRef?.divisor !== undefined) item.resourceFieldRef.divisor = canonicalQuantityText(item.resourceFieldRef.divisor) as string
    }
  }
  if (v.projected) {
    v.projected.defaultMode ??= DEFAULT_FILE_MODE
    for (const s of v.projected.sources ?? []) {
      for (const item of s.downwardAPI?.items ?? []) if (item.fieldRef) item.fieldRef.apiVersion ??= 'v1'
    }
  }
  if (v.hostPath) v.hostPath.type ??= ''
  if (v.emptyDir?.sizeLimit !== undefined) v.emptyDir.sizeLimit = canonicalQuantityText(v.emptyDir.sizeLimit) as string
}

function defaultContainer(c: Container): void {
  c.imagePullPolicy ??= defaultPullPolicy(c.image ?? '')
  c.terminationMessagePath ??= '/dev/termination-log'
  c.terminationMessagePolicy ??= 'File'
  for (const p of c.ports ?? []) p.protocol ??= 'TCP'
  for (const e of c.env ?? []) {
    if (e.valueFrom?.fieldRef) e.valueFrom.fieldRef.apiVersion ??= 'v1'
    const divisor = e.valueFrom?.resourceFieldRef?.divisor
    if (divisor !== undefined && e.valueFrom?.resourceFieldRef) e.valueFrom.resourceFieldRef.divisor = canonicalQuantityText(divisor) as string
  }
  if (c.resources) {
    const limits = c.resources.limits ? canonicalMap(c.resources.limits) : undefined
    const requests = c.resources.requests ? canonicalMap(c.resources.requests) : undefined
    // A limit without a request means a request of the same amount.
    const filled = {...limits, ...requests}
    if (limits) c.resources.limits = limits
    if (Object.keys(filled).length > 0) c.resources.requests = filled
  }
  for (const probe of [c.livenessProbe, c.readinessProbe, c.startupProbe]) if (probe) defaultProbe(probe)
  if (c.lifecycle?.postStart) defaultHandler(c.lifecycle.postStart)
  if (c.lifecycle?.preStop) defaultHandler(c.lifecycle.preStop)
}

function defaultProbe(p: Probe): void {
  p.timeoutSeconds ??= 1
  p.periodSeconds ??= 10
  p.successThreshold ??= 1
  p.failureThreshold ??= 3
  defaultHandler(p)
}

function defaultHandler(h: LifecycleHandler | Probe): void {
  if (h.httpGet) {
    h.httpGet.path ??= '/'
    h.httpGet.scheme ??= 'HTTP'
  }
}

/** The desired state of one valid Pod. */
export function desiredPod(obj: ManifestObject, source: string): DesiredPod {
  const pod = normalizePod(obj)
  const spec = pod.spec as PodSpec
  const toDesired = (init: boolean) => (c: Container): DesiredContainer => ({name: c.name, spec: c, hash: containerHash(c, pod), init})
  return {
    key: objectKey(obj.namespace, obj.name),
    name: obj.name,
    namespace: obj.namespace,
    pod,
    sandboxHash: sandboxHash(pod),
    initContainers: (spec.initContainers ?? []).map(toDesired(true)),
    containers: spec.containers.map(toDesired(false)),
    restartPolicy: spec.restartPolicy as DesiredPod['restartPolicy'],
    terminationGracePeriodSeconds: spec.terminationGracePeriodSeconds as number,
    source,
    origin: obj.origin,
  }
}

export function desiredConfigMap(obj: ManifestObject): DesiredConfigMap {
  const v = obj.value as {data?: Record<string, string>; binaryData?: Record<string, string>; immutable?: boolean}
  const data = clone(v.data ?? {})
  const binaryData = clone(v.binaryData ?? {})
  return {
    key: objectKey(obj.namespace, obj.name),
    name: obj.name,
    namespace: obj.namespace,
    data,
    binaryData,
    immutable: v.immutable === true,
    hash: contentHash({data, binaryData}),
    origin: obj.origin,
  }
}

export function desiredSecret(obj: ManifestObject): DesiredSecret {
  const v = obj.value as {data?: Record<string, string>; stringData?: Record<string, string>; type?: string; immutable?: boolean}
  const data: Record<string, string> = {}
  for (const [k, x] of Object.entries(v.data ?? {})) data[k] = x.replace(/[\r\n]/g, '')
  for (const [k, x] of Object.entries(v.stringData ?? {})) data[k] = Buffer.from(x, 'utf8').toString('base64')
  const type = v.type ?? 'Opaque'
  return {
    key: objectKey(obj.namespace, obj.name),
    name: obj.name,
    namespace: obj.namespace,
    type,
    data,
    immutable: v.immutable === true,
    hash: contentHash({type, data}),
    origin: obj.origin,
  }
}
