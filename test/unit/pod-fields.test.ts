// Honest validation: whatever `validate` accepts, `apply` runs. Every field of every API definition
// reachable from Pod is either named by a standalone rule (ignored with a warning, or rejected:
// src/manifest/standalone.ts, the README's table) or set in the kitchen-sink manifest
// (test/support/kitchen-sink.ts), which must validate without a diagnostic and go through the
// executor's builders (volumes, subPath binds, sandbox and container configs, /etc/hosts, pull
// credentials, cgroup limits). The end-to-end tests apply the same manifest to the real runtime.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import yaml from 'js-yaml'
import {DEFINITIONS} from '../../src/gen/schema/fields.js'
import {standaloneFindings} from '../../src/manifest/standalone.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {dataLookup} from '../../src/reconcile/data.js'
import {prepareVolumes, podDir, removePodDir} from '../../src/reconcile/volumes.js'
import {bindSubPaths} from '../../src/reconcile/subpath.js'
import {buildContainerConfig, subPathMounts, type ContainerContext} from '../../src/reconcile/container-config.js'
import {buildSandboxConfig, parseResolvConf} from '../../src/reconcile/sandbox-config.js'
import {writeHostsFile} from '../../src/reconcile/etc-hosts.js'
import {pullCredentials} from '../../src/reconcile/pull-secrets.js'
import {podCgroupLimits} from '../../src/reconcile/pod-cgroup.js'
import {SecurityProfile_ProfileType} from '../../src/gen/runtime/v1/api.js'
import {kitchenSink} from '../support/kitchen-sink.js'

type Seg = string | number

/** "[]X" a list of X, "{}X" a map of X, else X (a definition, or "" for a scalar). */
const parseType = (t: string): {wrap: '' | '[]' | '{}'; def: string} => {
  const m = /^(\[\]|\{\})?(.*)$/.exec(t)!
  return {wrap: (m[1] ?? '') as '' | '[]' | '{}', def: m[2]}
}

function setAt(obj: Record<Seg, unknown>, at: Seg[], value: unknown): void {
  let o: Record<Seg, unknown> = obj
  for (let i = 0; i < at.length - 1; i++) {
    o[at[i]] ??= typeof at[i + 1] === 'number' ? [] : {}
    o = o[at[i]] as Record<Seg, unknown>
  }
  o[at[at.length - 1]] = value
}

/** Whether a standalone rule names the field at `at` when it holds some value of type `t`. */
function coveredByRule(at: Seg[], t: string): boolean {
  const {wrap, def} = parseType(t)
  const one = DEFINITIONS[def] ? {} : 'x'
  const pod: Record<Seg, unknown> = {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'p'}, spec: {containers: [{name: 'c', image: 'i'}]}}
  setAt(pod, at, wrap === '[]' ? [one] : wrap === '{}' ? {k: one} : one)
  return standaloneFindings(pod).some((f) => f.path.length <= at.length && f.path.every((s, i) => s === at[i]))
}

/** The definition fields a Pod may hold that no standalone rule names: "Container.image", ... */
function acceptedFields(): Set<string> {
  const out = new Set<string>()
  const visited = new Set<string>()
  const walk = (def: string, at: Seg[]): void => {
    if (visited.has(def)) return
    visited.add(def)
    for (const [field, t] of Object.entries(DEFINITIONS[def])) {
      const here = [...at, field]
      if (coveredByRule(here, t)) continue
      out.add(`${def}.${field}`)
      const {wrap, def: inner} = parseType(t)
      if (DEFINITIONS[inner]) walk(inner, wrap === '[]' ? [...here, 0] : wrap === '{}' ? [...here, 'k'] : here)
    }
  }
  walk('Pod', [])
  return out
}

/** The definition fields a manifest object sets. */
function fieldsSet(value: unknown, def: string, out = new Set<string>()): Set<string> {
  if (typeof value !== 'object' || value === null) return out
  for (const [field, v] of Object.entries(value as Record<string, unknown>)) {
    const t = DEFINITIONS[def]?.[field]
    if (t === undefined || v === undefined || v === null) continue
    out.add(`${def}.${field}`)
    const {wrap, def: inner} = parseType(t)
    if (!DEFINITIONS[inner]) continue
    const items = wrap === '[]' ? (v as unknown[]) : wrap === '{}' ? Object.values(v as object) : [v]
    for (const item of items) fieldsSet(item, inner, out)
  }
  return out
}

const opts = {namespace: 'sink-ns', image: 'registry.test/podrun/busybox:1.35', hostDir: '/tmp/podrun-sink-host', hostPort: 18999, registry: 'registry.test'}

test('every field validation accepts without a warning is set in the kitchen-sink manifest', () => {
  const accepted = acceptedFields()
  assert.ok(accepted.size > 150, `walked ${accepted.size} fields`)
  const pods = (yaml.loadAll(kitchenSink(opts)) as Array<{kind: string}>).filter((o) => o.kind === 'Pod')
  const set = new Set<string>()
  for (const p of pods) fieldsSet(p, 'Pod', set)
  const missing = [...accepted].filter((f) => !set.has(f)).sort()
  assert.ok(set.size >= accepted.size, `${set.size} fields set for ${accepted.size} accepted`)
  assert.deepEqual(missing, [], 'fields validation accepts that the kitchen sink does not exercise: set them there, and make the executor handle them (or name them in src/manifest/standalone.ts)')
})

test('the kitchen sink validates without a diagnostic', () => {
  const st = desiredStateFromTexts([{file: 'sink.yaml', text: kitchenSink(opts)}])
  assert.deepEqual(st.diagnostics.map((d) => `${d.severity} ${d.line}: ${d.path}: ${d.message}`), [])
  assert.equal(st.pods.length, 1)
})

test('the executor turns every field of the kitchen sink into runtime config', {skip: process.getuid?.() !== 0 ? 'needs root (tmpfs and bind mounts)' : false}, async () => {
  const st = desiredStateFromTexts([{file: 'sink.yaml', text: kitchenSink(opts)}])
  const d = st.pods[0]
  const data = dataLookup(st.configMaps, st.secrets)
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-sink-'))
  const hostDir = path.join(root, 'host')
  const pod = {...d.pod, spec: {...d.pod.spec!, volumes: d.pod.spec!.volumes!.map((v) => (v.hostPath ? {...v, hostPath: {...v.hostPath, path: hostDir}} : v))}}
  const uid = 'sink-uid'
  try {
    const sandbox = buildSandboxConfig({...d, pod}, {uid, attempt: 0, logRoot: path.join(root, 'logs'), hostDns: parseResolvConf(''), cgroupRoot: '/podrun'})
    assert.equal(sandbox.hostname, 'sink-host')
    assert.deepEqual(sandbox.dnsConfig?.servers, ['127.0.0.1'])
    assert.equal(sandbox.portMappings[0].hostIp, '127.0.0.1')
    assert.equal(sandbox.linux?.sysctls['net.ipv4.ip_unprivileged_port_start'], '0')
    const volumePaths = await prepareVolumes(pod, uid, root, data)
    const hostsFile = await writeHostsFile(podDir(root, uid), pod, '10.1.2.3')
    assert.match(fs.readFileSync(hostsFile, 'utf8'), /^10\.9\.9\.9\tsink\.local\tsink-alias$/m)
    for (const dc of [...d.initContainers, ...d.containers]) {
      const ctx: ContainerContext = {uid, attempt: 0, backoffStep: 0, volumePaths, data, podIP: '10.1.2.3', hostIP: '192.0.2.1', nodeName: 'node', hostsFile, recursiveReadOnly: true}
      ctx.subPaths = await bindSubPaths(podDir(root, uid), dc.name, subPathMounts({...d, pod}, dc.spec, ctx))
      const cc = buildContainerConfig({...d, pod}, dc, ctx)
      if (dc.name !== 'app') continue
      const env = Object.fromEntries(cc.envs.map((e) => [e.key, Buffer.from(e.value).toString()]))
      assert.deepEqual([env.PLAIN, env.POD_NAME, env.LEVEL, env.TOKEN, env.MEM_MI, env.CM_level, env.SEC_token], ['plain', 'sink', 'debug', 's3cret', '64', 'debug', 's3cret'])
      const sc = cc.linux!.securityContext!
      assert.equal(sc.seccomp?.profileType, SecurityProfile_ProfileType.Localhost)
      assert.ok(sc.seccomp?.localhostRef.endsWith('/seccomp/podrun-sink.json'))
      assert.equal(sc.apparmor?.localhostRef, 'podrun-sink')
      assert.equal(sc.selinuxOptions?.type, 'container_t')
      assert.deepEqual(sc.capabilities?.dropCapabilities, ['ALL'])
      assert.ok(sc.readonlyRootfs && sc.noNewPrivs)
      assert.deepEqual(sc.supplementalGroups, [4000n, 2000n])
      const byPath = new Map(cc.mounts.map((m) => [m.containerPath, m]))
      assert.equal(byPath.get('/cfg')?.recursiveReadOnly, true)
      assert.equal(byPath.get('/host')?.propagation, 1)
      assert.ok(byPath.get('/data/mine')?.hostPath.includes('volume-subpaths'))
      assert.ok(byPath.has('/dev/termination-log') === false, 'no termination log was made for this config')
    }
    assert.deepEqual(pullCredentials(pod, 'registry.test/podrun/busybox:1.35', data).map((a) => a.username), ['sink'])
    // Not every container declares a memory limit: no pod-level limit, as Kubernetes.
    assert.deepEqual(podCgroupLimits(pod), {memoryBytes: undefined, cpuQuotaUs: undefined, cpuShares: Math.floor((100 * 1024) / 1000)})
  } finally {
    await removePodDir(root, uid)
    fs.rmSync(root, {recursive: true, force: true})
  }
})
