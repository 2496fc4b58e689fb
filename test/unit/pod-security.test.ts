// The Pod Security Standards, control by control, as tables: a pod that each level accepts, and
// for each control a pod that breaks it, with the level that first refuses it; the flags' lists;
// the messages name the field and the flag that allows it; validate reports file, line and field.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {judgePod, podSecurityFindings, renderPodSecurityTable} from '../../src/manifest/pod-security.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {podSecurityPolicy} from '../../src/lib/pod-security-flags.js'

type Obj = Record<string, unknown>
const restrictedPod = (): Obj => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {name: 'p'},
  spec: {
    securityContext: {runAsNonRoot: true, seccompProfile: {type: 'RuntimeDefault'}},
    containers: [{name: 'c', image: 'busybox', ports: [{containerPort: 80}], securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL'], add: ['NET_BIND_SERVICE']}}}],
    volumes: [{name: 'v', emptyDir: {}}, {name: 's', secret: {secretName: 's'}}],
  },
})
const basicPod = (): Obj => ({apiVersion: 'v1', kind: 'Pod', metadata: {name: 'p'}, spec: {containers: [{name: 'c', image: 'busybox'}]}})
const set = (o: Obj, path: string, v: unknown): Obj => {
  const keys = path.split('.').map((k) => (/^\d+$/.test(k) ? Number(k) : k))
  let cur = o as Record<string | number, unknown>
  for (const k of keys.slice(0, -1)) cur = (cur[k] ??= typeof keys[keys.indexOf(k) + 1] === 'number' ? [] : {}) as Record<string | number, unknown>
  cur[keys[keys.length - 1]] = v
  return o
}
const controls = (pod: Obj) => podSecurityFindings(pod).map((f) => `${f.level}:${f.control}`)

describe('pod security levels', () => {
  it('a hardened pod passes restricted; a plain pod passes baseline and fails only restricted controls', () => {
    assert.deepEqual(controls(restrictedPod()), [])
    assert.deepEqual([...new Set(controls(basicPod()))].sort(), ['restricted:Capabilities', 'restricted:Privilege Escalation', 'restricted:Running as Non-root', 'restricted:Seccomp'])
  })

  const baseline: Array<[string, string, unknown]> = [
    ['HostProcess', 'spec.securityContext.windowsOptions.hostProcess', true],
    ['Host Namespaces', 'spec.hostNetwork', true],
    ['Host Namespaces', 'spec.hostPID', true],
    ['Host Namespaces', 'spec.hostIPC', true],
    ['Privileged Containers', 'spec.containers.0.securityContext.privileged', true],
    ['Capabilities', 'spec.containers.0.securityContext.capabilities.add', ['SYS_ADMIN']],
    ['HostPath Volumes', 'spec.volumes.2', {name: 'h', hostPath: {path: '/etc'}}],
    ['Host Ports', 'spec.containers.0.ports.0.hostPort', 8080],
    ['AppArmor', 'spec.securityContext.appArmorProfile', {type: 'Unconfined'}],
    ['AppArmor', 'metadata.annotations', {'container.apparmor.security.beta.kubernetes.io/c': 'unconfined'}],
    ['SELinux', 'spec.securityContext.seLinuxOptions', {type: 'spc_t'}],
    ['SELinux', 'spec.containers.0.securityContext.seLinuxOptions', {user: 'system_u'}],
    ['/proc Mount Type', 'spec.containers.0.securityContext.procMount', 'Unmasked'],
    ['Seccomp', 'spec.containers.0.securityContext.seccompProfile', {type: 'Unconfined'}],
    ['Sysctls', 'spec.securityContext.sysctls', [{name: 'kernel.msgmax', value: '1'}]],
  ]
  for (const [control, path, value] of baseline) {
    it(`baseline refuses ${control}: ${path}=${JSON.stringify(value)}`, () => {
      const found = controls(set(restrictedPod(), path, value))
      assert.ok(found.includes(`baseline:${control}`), found.join(', '))
    })
  }

  const allowedByBaseline: Array<[string, unknown]> = [
    ['spec.containers.0.securityContext.capabilities.add', ['NET_BIND_SERVICE', 'CHOWN']],
    ['spec.securityContext.sysctls', [{name: 'net.ipv4.ip_unprivileged_port_start', value: '0'}]],
    ['spec.securityContext.seLinuxOptions', {type: 'container_t', level: 's0:c1,c2'}],
    ['spec.securityContext.appArmorProfile', {type: 'Localhost', localhostProfile: 'p'}],
    ['spec.containers.0.securityContext.procMount', 'Default'],
    ['spec.hostNetwork', false],
  ]
  for (const [path, value] of allowedByBaseline) {
    it(`baseline allows ${path}=${JSON.stringify(value)}`, () => {
      assert.ok(!controls(set(basicPod(), path, value)).some((c) => c.startsWith('baseline:')))
    })
  }

  const restricted: Array<[string, string, unknown]> = [
    ['Volume Types', 'spec.volumes.2', {name: 'n', nfs: {server: 'x', path: '/'}}],
    ['Privilege Escalation', 'spec.containers.0.securityContext.allowPrivilegeEscalation', true],
    ['Running as Non-root', 'spec.securityContext.runAsNonRoot', false],
    ['Running as Non-root user', 'spec.containers.0.securityContext.runAsUser', 0],
    ['Seccomp', 'spec.securityContext.seccompProfile', {}],
    ['Capabilities', 'spec.containers.0.securityContext.capabilities.drop', ['NET_RAW']],
    ['Capabilities', 'spec.containers.0.securityContext.capabilities.add', ['CHOWN']],
  ]
  for (const [control, path, value] of restricted) {
    it(`restricted refuses ${control}: ${path}=${JSON.stringify(value)}`, () => {
      const found = controls(set(restrictedPod(), path, value))
      assert.ok(found.includes(`restricted:${control}`), found.join(', '))
      assert.ok(!found.some((c) => c.startsWith('baseline:')), found.join(', '))
    })
  }

  it('runAsNonRoot and seccomp may be set on every container instead of the pod', () => {
    const pod = restrictedPod()
    set(pod, 'spec.securityContext', {})
    set(pod, 'spec.containers.0.securityContext.runAsNonRoot', true)
    set(pod, 'spec.containers.0.securityContext.seccompProfile', {type: 'Localhost', localhostProfile: 'x.json'})
    assert.deepEqual(controls(pod), [])
    set(pod, 'spec.initContainers', [{name: 'i', image: 'busybox', securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ['ALL']}}}])
    assert.deepEqual(controls(pod).sort(), ['restricted:Running as Non-root', 'restricted:Seccomp'])
  })
})

describe('judging a pod by the flags', () => {
  const privileged = () => set(basicPod(), 'spec.containers.0.securityContext.privileged', true)
  it('enforce refuses with the flag that allows it; warn only warns; privileged refuses nothing', () => {
    const b = judgePod(privileged(), podSecurityPolicy({'pod-security': 'baseline'}))
    assert.equal(b.errors.length, 1)
    assert.match(b.errors[0].message, /privileged container .*: refused by --pod-security=baseline \(Privileged Containers\); --pod-security=privileged allows it/)
    const p = judgePod(privileged(), podSecurityPolicy({'pod-security': 'privileged', 'pod-security-warn': 'baseline'}))
    assert.deepEqual(p.errors, [])
    assert.match(p.warnings[0].message, /would be refused by --pod-security=baseline/)
    assert.deepEqual(judgePod(privileged(), podSecurityPolicy({'pod-security': 'privileged'})), {errors: [], warnings: []})
    const r = judgePod(basicPod(), podSecurityPolicy({'pod-security': 'restricted'}))
    assert.ok(r.errors.every((e) => /--pod-security=baseline allows it/.test(e.message)) && r.errors.length >= 4)
  })

  it('--allowed-host-paths: inside a prefix allowed at any level, outside refused at every level; --allowed-host-ports is the known list', () => {
    const withHost = (p: string) => set(basicPod(), 'spec.volumes', [{name: 'h', hostPath: {path: p}}])
    const policy = (level: string) => podSecurityPolicy({'pod-security': level, 'allowed-host-paths': '/var/lib/app,/srv/data/'})
    assert.deepEqual(judgePod(withHost('/var/lib/app/cache'), policy('baseline')).errors, [])
    assert.deepEqual(judgePod(withHost('/srv/data'), policy('baseline')).errors, [])
    for (const bad of ['/var/lib/apple', '/var/lib/app/../../../etc', '/etc']) {
      const e = judgePod(withHost(bad), policy('privileged')).errors
      assert.equal(e.length, 1, bad)
      assert.match(e[0].message, /outside --allowed-host-paths .*; add its folder to --allowed-host-paths/)
    }
    const port = set(basicPod(), 'spec.containers.0.ports', [{containerPort: 80, hostPort: 8080}, {containerPort: 81, hostPort: 9001}])
    const e = judgePod(port, podSecurityPolicy({'pod-security': 'baseline', 'allowed-host-ports': '8000-8100'})).errors
    assert.deepEqual(e.map((x) => x.path.join('.')), ['spec.containers.0.ports.1.hostPort'])
    assert.throws(() => podSecurityPolicy({'allowed-host-paths': 'relative/dir'}), /not an absolute path/)
    assert.throws(() => podSecurityPolicy({'allowed-host-ports': '70000'}), /not a port/)
  })

  it('validation reports file, line and field', () => {
    const text = `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  hostPID: true
  containers:
    - name: c
      image: busybox
`
    const s = desiredStateFromTexts([{file: 'pod.yaml', text}], {podSecurity: podSecurityPolicy({'pod-security': 'baseline'})})
    const d = s.diagnostics.find((x) => x.severity === 'error')!
    assert.deepEqual([d.file, d.line, d.path], ['pod.yaml', 5, 'spec.hostPID'])
    assert.match(d.message, /--pod-security=privileged allows it/)
    assert.equal(s.pods.length, 0)
  })

  it('the README table lists every control with its level', () => {
    const t = renderPodSecurityTable()
    assert.match(t, /^\| baseline \| Host Namespaces \| spec\.hostNetwork, spec\.hostPID, spec\.hostIPC \| false, unset \|$/m)
    assert.match(t, /^\| restricted \| Capabilities \| .* \| drop includes ALL; add only NET_BIND_SERVICE \|$/m)
  })
})

describe('the README', () => {
  it('shows exactly the table the code implements', async () => {
    const {readFileSync} = await import('node:fs')
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    const begin = '<!-- pod-security-table:begin (generated from src/manifest/pod-security.ts; a test checks it) -->\n'
    const i = readme.indexOf(begin)
    const j = readme.indexOf('<!-- pod-security-table:end -->')
    assert.ok(i !== -1 && j > i, 'README.md has the pod security table between its markers')
    assert.equal(readme.slice(i + begin.length, j), renderPodSecurityTable())
  })
})
