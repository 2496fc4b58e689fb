// The CRI configs podrun builds from a desired pod: sandbox (DNS, ports, cgroup parent by QoS,
// namespaces, labels) and container (env with $(VAR) expansion and references, resources, mounts,
// labels, log path). Pure functions, checked field by field.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {Pod} from 'kubernetes-types/core/v1.js'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {buildSandboxConfig, cgroupParent, dnsConfig, parseResolvConf, qosClass} from '../../src/reconcile/sandbox-config.js'
import {appArmorViolation, buildContainerConfig, expand, hugepageLimits, subPathMounts, type ContainerContext} from '../../src/reconcile/container-config.js'
import {dataLookup} from '../../src/reconcile/data.js'
import {NamespaceMode, Protocol, SecurityProfile_ProfileType} from '../../src/gen/runtime/v1/api.js'

const host = parseResolvConf('# comment\nnameserver 192.0.2.53\nsearch example.test\noptions ndots:2 edns0\n')

function load(text: string) {
  const st = desiredStateFromTexts([{file: 'pod.yaml', text}])
  assert.deepEqual(st.diagnostics.filter((d) => d.severity === 'error'), [])
  return st
}

const POD = `apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {greeting: hello, mode: fast}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
data: {token: czNjcjN0}
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  hostname: front
  dnsConfig:
    nameservers: [198.51.100.1]
    options: [{name: ndots, value: "5"}]
  containers:
    - name: app
      image: registry.test/app:1.0
      command: ["sh", "-c", "echo $(GREETING) $$HOME"]
      args: ["$(MISSING)"]
      env:
        - {name: GREETING, valueFrom: {configMapKeyRef: {name: cfg, key: greeting}}}
        - {name: TOKEN, valueFrom: {secretKeyRef: {name: creds, key: token}}}
        - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
        - {name: MSG, value: "$(GREETING) from $(POD)"}
        - {name: MEM, valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}}
      envFrom:
        - {configMapRef: {name: cfg}, prefix: CFG_}
      ports:
        - {containerPort: 8080, hostPort: 18080, hostIP: 127.0.0.1}
        - {containerPort: 53, hostPort: 1053, protocol: UDP}
      resources:
        requests: {cpu: 250m, memory: 64Mi}
        limits: {cpu: 500m, memory: 128Mi}
      volumeMounts:
        - {name: data, mountPath: /data, subPath: app}
  volumes:
    - {name: data, emptyDir: {}}
`

const ctx = (st: ReturnType<typeof load>): ContainerContext => ({
  uid: 'uid-1',
  attempt: 2,
  backoffStep: 0,
  volumePaths: new Map([['data', '/var/lib/podrun/pods/uid-1/volumes/empty-dir/data']]),
  subPaths: new Map([[0, '/var/lib/podrun/pods/uid-1/volume-subpaths/data/app/0']]),
  data: dataLookup(st.configMaps, st.secrets),
  podIP: '10.0.0.5',
  hostIP: '192.0.2.10',
  nodeName: 'node-a',
})

test('the sandbox config carries metadata, hostname, DNS, host ports, cgroup parent and labels', () => {
  const st = load(POD)
  const d = st.pods[0]
  const sb = buildSandboxConfig(d, {uid: 'uid-1', attempt: 1, logRoot: '/var/log/podrun/pods', hostDns: host, cgroupRoot: '/podrun'})
  assert.deepEqual(sb.metadata, {name: 'web', namespace: 'default', uid: 'uid-1', attempt: 1})
  assert.equal(sb.hostname, 'front')
  assert.equal(sb.logDirectory, '/var/log/podrun/pods/default_web_uid-1')
  assert.deepEqual(sb.dnsConfig, {servers: ['192.0.2.53', '198.51.100.1'], searches: ['example.test'], options: ['ndots:5', 'edns0']})
  assert.deepEqual(sb.portMappings, [
    {protocol: Protocol.TCP, containerPort: 8080, hostPort: 18080, hostIp: '127.0.0.1'},
    {protocol: Protocol.UDP, containerPort: 53, hostPort: 1053, hostIp: ''},
  ])
  assert.equal(sb.linux?.cgroupParent, '/podrun/burstable/poduid-1')
  const nso = sb.linux?.securityContext?.namespaceOptions
  assert.deepEqual([nso?.network, nso?.pid, nso?.ipc], [NamespaceMode.POD, NamespaceMode.CONTAINER, NamespaceMode.POD])
  assert.equal(sb.labels['io.kubernetes.pod.name'], 'web')
  assert.equal(sb.labels['podrun.io/managed-by'], 'podrun')
  assert.equal(sb.labels['podrun.io/sandbox-hash'], d.sandboxHash)
  assert.equal(sb.labels.app, 'web')
  assert.equal(JSON.parse(sb.annotations['podrun.io/pod']).metadata.name, 'web')
})

test('QoS class and cgroup parent follow requests and limits', () => {
  const pod = (res: object): Pod => ({spec: {containers: [{name: 'a', resources: res}]}}) as Pod
  assert.equal(qosClass(pod({})), 'BestEffort')
  assert.equal(qosClass(pod({limits: {cpu: '1', memory: '1Gi'}})), 'Guaranteed')
  assert.equal(qosClass(pod({requests: {cpu: '1000m', memory: '1Gi'}, limits: {cpu: '1', memory: '1024Mi'}})), 'Guaranteed')
  assert.equal(qosClass(pod({requests: {cpu: '1'}})), 'Burstable')
  assert.equal(cgroupParent(pod({limits: {cpu: '1', memory: '1Gi'}}), 'u', '/podrun'), '/podrun/podu')
  assert.equal(cgroupParent(pod({}), 'u', '/podrun'), '/podrun/besteffort/podu')
})

test('dnsPolicy None uses only dnsConfig; host network pods get the host namespaces', () => {
  const none = {spec: {dnsPolicy: 'None', dnsConfig: {nameservers: ['203.0.113.1']}, containers: []}} as Pod
  assert.deepEqual(dnsConfig(none, host), {servers: ['203.0.113.1'], searches: [], options: []})
  const st = load(`apiVersion: v1
kind: Pod
metadata: {name: hn}
spec:
  hostNetwork: true
  hostPID: true
  containers: [{name: a, image: busybox:1.35, ports: [{containerPort: 80, hostPort: 80}]}]
`)
  const sb = buildSandboxConfig(st.pods[0], {uid: 'u', attempt: 0, logRoot: '/l', hostDns: host, cgroupRoot: '/podrun'})
  assert.equal(sb.hostname, '')
  assert.deepEqual(sb.portMappings, [])
  assert.equal(sb.linux?.securityContext?.namespaceOptions?.network, NamespaceMode.NODE)
  assert.equal(sb.linux?.securityContext?.namespaceOptions?.pid, NamespaceMode.NODE)
})

test('env resolves references in order and expands $(VAR) as Kubernetes does', () => {
  const st = load(POD)
  const d = st.pods[0]
  const cc = buildContainerConfig(d, d.containers[0], ctx(st))
  const env = Object.fromEntries(cc.envs.map((e) => [e.key, e.value.toString('utf8')]))
  assert.equal(env.CFG_greeting, 'hello')
  assert.equal(env.CFG_mode, 'fast')
  assert.equal(env.GREETING, 'hello')
  assert.equal(env.TOKEN, 's3cr3t')
  assert.equal(env.POD, 'web')
  assert.equal(env.MSG, 'hello from web')
  assert.equal(env.MEM, '128')
  assert.deepEqual(cc.command, ['sh', '-c', 'echo hello $HOME'])
  assert.deepEqual(cc.args, ['$(MISSING)'])
  assert.equal(expand('$$(X) $(X)', new Map([['X', 'y']])), '$(X) y')
})

test('the container config carries resources, mounts, labels and the log path', () => {
  const st = load(POD)
  const d = st.pods[0]
  const cc = buildContainerConfig(d, d.containers[0], ctx(st))
  assert.deepEqual(cc.metadata, {name: 'app', attempt: 2})
  assert.equal(cc.logPath, 'app/2.log')
  assert.equal(cc.image?.image, 'registry.test/app:1.0')
  const r = cc.linux?.resources
  assert.equal(r?.cpuShares, 256n)
  assert.equal(r?.cpuPeriod, 100000n)
  assert.equal(r?.cpuQuota, 50000n)
  assert.equal(r?.memoryLimitInBytes, 134217728n)
  assert.equal(cc.mounts[0].containerPath, '/data')
  // A subPath reaches the runtime only as the bind mount subpath.ts made, never as volume + subPath.
  assert.equal(cc.mounts[0].hostPath, '/var/lib/podrun/pods/uid-1/volume-subpaths/data/app/0')
  assert.throws(() => buildContainerConfig(d, d.containers[0], {...ctx(st), subPaths: undefined}), /volumeMounts\[0\]: subPath was not prepared/)
  assert.equal(cc.labels['io.kubernetes.container.name'], 'app')
  assert.equal(cc.labels['podrun.io/container-hash'], d.containers[0].hash)
  assert.equal(cc.annotations['io.kubernetes.container.restartCount'], '2')
  assert.ok(cc.linux?.securityContext?.maskedPaths.includes('/proc/kcore'))
})

test('subPath mounts: subPath as written, subPathExpr expanded with the container env, ".." refused after expansion', () => {
  const st = load(POD)
  const d = st.pods[0]
  assert.deepEqual(subPathMounts(d, d.containers[0].spec, ctx(st)), [{index: 0, volume: 'data', volumePath: '/var/lib/podrun/pods/uid-1/volumes/empty-dir/data', subPath: 'app'}])
  const spec = {...d.containers[0].spec, volumeMounts: [{name: 'data', mountPath: '/a'}, {name: 'data', mountPath: '/b', subPathExpr: 'logs/$(POD)'}]}
  assert.deepEqual(subPathMounts(d, spec, ctx(st)), [{index: 1, volume: 'data', volumePath: '/var/lib/podrun/pods/uid-1/volumes/empty-dir/data', subPath: 'logs/web'}])
  const up = {...spec, env: [{name: 'X', value: '../..'}], volumeMounts: [{name: 'data', mountPath: '/b', subPathExpr: '$(X)/etc'}]}
  assert.throws(() => subPathMounts(d, up, ctx(st)), /must be a relative path without "\.\."/)
})

test('a missing referenced key is an error naming it', () => {
  const st = load(POD)
  const d = st.pods[0]
  const broken = ctx(st)
  broken.data = () => ({})
  assert.throws(() => buildContainerConfig(d, d.containers[0], broken), /key "greeting" of ConfigMap "cfg" not found|ConfigMap "cfg" not found/)
})

test('AppArmor, SELinux and procMount reach the runtime; fsGroup joins the supplemental groups', () => {
  const st = load(`apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  securityContext:
    fsGroup: 2000
    supplementalGroups: [3000]
    seLinuxOptions: {level: "s0:c1,c2"}
    appArmorProfile: {type: RuntimeDefault}
  containers:
    - name: a
      image: busybox:1.36
      securityContext:
        procMount: Unmasked
        appArmorProfile: {type: Localhost, localhostProfile: podrun-test}
        seLinuxOptions: {type: spc_t}
    - name: b
      image: busybox:1.36
`)
  const d = st.pods[0]
  const c0 = {...ctx(st), volumePaths: new Map(), subPaths: new Map()}
  const a = buildContainerConfig(d, d.containers[0], c0).linux!.securityContext!
  assert.deepEqual(a.apparmor, {profileType: SecurityProfile_ProfileType.Localhost, localhostRef: 'podrun-test'})
  assert.deepEqual(a.selinuxOptions, {user: '', role: '', type: 'spc_t', level: ''})
  assert.deepEqual([a.maskedPaths, a.readonlyPaths], [[], []])
  assert.deepEqual(a.supplementalGroups, [3000n, 2000n])
  const b = buildContainerConfig(d, d.containers[1], c0).linux!.securityContext!
  assert.deepEqual(b.apparmor, {profileType: SecurityProfile_ProfileType.RuntimeDefault, localhostRef: ''})
  assert.equal(b.selinuxOptions?.level, 's0:c1,c2')
  assert.ok(b.maskedPaths.includes('/proc/kcore'))
  const sb = buildSandboxConfig(d, {uid: 'u', attempt: 0, logRoot: '/tmp/logs', hostDns: host, cgroupRoot: '/podrun'}).linux!.securityContext!
  assert.equal(sb.selinuxOptions?.level, 's0:c1,c2')
  assert.deepEqual(sb.supplementalGroups, [3000n, 2000n])
  // A host without AppArmor refuses a profile, as the kubelet does; Unconfined needs none.
  assert.match(appArmorViolation(d, d.containers[0].spec, false) ?? '', /^Cannot enforce AppArmor: AppArmor is not enabled on the host \(container a asks for profile localhost\/podrun-test\)/)
  assert.equal(appArmorViolation(d, d.containers[0].spec, true), undefined)
})

test('recursiveReadOnly: Enabled needs the runtime, IfPossible uses it when there; huge pages limited as the kubelet does', () => {
  const st = load(`apiVersion: v1
kind: Pod
metadata: {name: rro}
spec:
  containers:
    - name: a
      image: busybox:1.36
      volumeMounts:
        - {name: data, mountPath: /strict, readOnly: true, recursiveReadOnly: Enabled}
        - {name: data, mountPath: /maybe, readOnly: true, recursiveReadOnly: IfPossible}
  volumes: [{name: data, emptyDir: {}}]
`)
  const d = st.pods[0]
  const base = {...ctx(st), volumePaths: new Map([['data', '/x']]), subPaths: new Map()}
  assert.throws(() => buildContainerConfig(d, d.containers[0], {...base, recursiveReadOnly: false}), /recursiveReadOnly: Enabled, but the runtime handler does not support/)
  const ok = buildContainerConfig(d, d.containers[0], {...base, recursiveReadOnly: true})
  assert.deepEqual(ok.mounts.filter((m) => m.containerPath !== '/etc/hosts').map((m) => [m.containerPath, m.readonly, m.recursiveReadOnly]), [['/strict', true, true], ['/maybe', true, true]])
  assert.deepEqual(hugepageLimits({'hugepages-2Mi': '4Mi', cpu: '1'}, ['2MB', '1GB']), [{pageSize: '2MB', limit: 4n * 1024n * 1024n}, {pageSize: '1GB', limit: 0n}])
  assert.deepEqual(hugepageLimits({}, []), [])
  assert.throws(() => hugepageLimits({'hugepages-1Gi': '1Gi'}, ['2MB']), /cannot limit huge pages of 1GB/)
})
