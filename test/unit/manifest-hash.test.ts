// The hashes the planner compares with what runs. Golden values pin them: if one of these changes,
// every workload restarts when podrun is upgraded, so a change here must be deliberate.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {canonicalJson, CONTAINER_FIELDS, SANDBOX_SPEC_FIELDS, shortHash} from '../../src/manifest/hash.js'
import type {DesiredPod} from '../../src/model/desired.js'

const WEB = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  initContainers:
  - name: migrate
    image: registry.example/migrate:2
    command: [migrate, up]
  containers:
  - name: web
    image: nginx
    ports:
    - containerPort: 80
      hostPort: 8080
    resources:
      limits: {cpu: 1, memory: 1Gi}
    livenessProbe:
      httpGet: {port: 80}
    volumeMounts:
    - {name: html, mountPath: /usr/share/nginx/html}
  - name: sidecar
    image: busybox:1.36
    command: [sleep, infinity]
  volumes:
  - name: html
    emptyDir: {}
`

function load(text: string): DesiredPod {
  const state = desiredStateFromTexts([{file: 'web.yaml', text}])
  assert.deepEqual(state.diagnostics.filter((d) => d.severity === 'error'), [])
  return state.pods[0]
}

const hashes = (p: DesiredPod) => ({
  sandbox: p.sandboxHash,
  ...Object.fromEntries([...p.initContainers, ...p.containers].map((c) => [c.name, c.hash])),
})

test('golden values: the hashes of a reference pod', () => {
  assert.deepEqual(hashes(load(WEB)), {
    sandbox: '619c4ba960549e17',
    migrate: 'b9fd41020b33a838',
    web: '3e6efc65dabdc605',
    sidecar: 'ae64e7973a2792fb',
  })
})

test('golden values: the hashed fields are these and no others', () => {
  assert.deepEqual([...SANDBOX_SPEC_FIELDS], [
    'hostNetwork', 'hostPID', 'hostIPC', 'hostUsers', 'shareProcessNamespace', 'hostname', 'subdomain',
    'setHostnameAsFQDN', 'dnsPolicy', 'dnsConfig', 'hostAliases', 'securityContext', 'runtimeClassName', 'os',
  ])
  assert.deepEqual([...CONTAINER_FIELDS], [
    'image', 'command', 'args', 'workingDir', 'ports', 'env', 'envFrom', 'resources', 'volumeMounts',
    'volumeDevices', 'securityContext', 'stdin', 'stdinOnce', 'tty', 'terminationMessagePath', 'restartPolicy',
  ])
  assert.equal(shortHash({b: [1, {d: null, c: 'x'}], a: {}}), '70f624b63c173acb')
})

test('canonical JSON: keys sorted; null, empty lists and empty mappings left out', () => {
  assert.equal(canonicalJson({b: 1, a: {z: [], y: {}, x: null, w: 0, v: false, u: ''}}), '{"a":{"u":"","v":false,"w":0},"b":1}')
})

test('the same pod with its keys reordered and its defaults written out hashes the same', () => {
  const reordered = `kind: Pod
apiVersion: v1
spec:
  volumes:
  - emptyDir: {}
    name: html
  restartPolicy: Always
  dnsPolicy: ClusterFirst
  terminationGracePeriodSeconds: 30
  containers:
  - volumeMounts:
    - {mountPath: /usr/share/nginx/html, name: html}
    livenessProbe:
      periodSeconds: 10
      httpGet: {port: 80, path: /, scheme: HTTP}
    resources:
      requests: {memory: 1024Mi, cpu: 1000m}
      limits: {memory: 1Gi, cpu: "1"}
    ports:
    - {hostPort: 8080, protocol: TCP, containerPort: 80}
    imagePullPolicy: Always
    image: nginx
    name: web
  - {name: sidecar, image: busybox:1.36, command: [sleep, infinity], imagePullPolicy: IfNotPresent}
  initContainers:
  - {command: [migrate, up], name: migrate, image: registry.example/migrate:2, terminationMessagePath: /dev/termination-log}
metadata:
  labels: {app: web}
  name: web
`
  assert.deepEqual(hashes(load(reordered)), hashes(load(WEB)))
})

test('what changes which hash', () => {
  const base = hashes(load(WEB))
  const diff = (text: string): string[] => {
    const h = hashes(load(text)) as Record<string, string>
    return Object.keys(base).filter((k) => h[k] !== (base as Record<string, string>)[k])
  }
  assert.deepEqual(diff(WEB.replace('image: nginx', 'image: nginx:1.27')), ['web'], 'an image replaces that container only')
  assert.deepEqual(diff(WEB.replace('hostPort: 8080', 'hostPort: 9090')), ['sandbox', 'web'], 'a host port is sandbox-level (and the container\'s port)')
  assert.deepEqual(diff(WEB.replace('spec:\n', 'spec:\n  hostNetwork: true\n').replace('hostPort: 8080', 'hostPort: 80')), ['sandbox', 'web'])
  assert.deepEqual(diff(WEB.replace('emptyDir: {}', 'emptyDir: {medium: Memory}')), ['web'], 'a volume replaces the containers that mount it')
  assert.deepEqual(diff(WEB.replace('httpGet: {port: 80}', 'httpGet: {port: 80, path: /healthz}')), [], 'probes restart nothing')
  assert.deepEqual(diff(WEB.replace('labels: {app: web}', 'labels: {app: web, tier: front}')), [], 'labels restart nothing')
  assert.deepEqual(diff(WEB.replace('    command: [sleep, infinity]', '    command: [sleep, infinity]\n    imagePullPolicy: Always')), [], 'pull policy restarts nothing')
  assert.deepEqual(diff(WEB.replace('command: [migrate, up]', 'command: [migrate, down]')), ['migrate'])
  assert.deepEqual(diff(WEB.replace('spec:\n', 'spec:\n  securityContext: {runAsUser: 1000}\n')), ['sandbox'])
})
