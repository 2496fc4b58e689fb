// Normalization: the defaults the API server fills in, so the desired state says what will run.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {defaultPullPolicy} from '../../src/manifest/image-ref.js'

function load(text: string) {
  const state = desiredStateFromTexts([{file: 'pod.yaml', text}], {source: () => 'test'})
  assert.deepEqual(state.diagnostics.filter((d) => d.severity === 'error'), [])
  return state
}

test('pod-level defaults', () => {
  const p = load('apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec: {containers: [{name: web, image: nginx:1.27}]}\n').pods[0]
  assert.equal(p.key, 'default/web')
  assert.equal(p.namespace, 'default')
  assert.equal(p.restartPolicy, 'Always')
  assert.equal(p.terminationGracePeriodSeconds, 30)
  assert.equal(p.source, 'test')
  assert.deepEqual(p.pod.metadata, {name: 'web', namespace: 'default'})
  const spec = p.pod.spec!
  assert.equal(spec.dnsPolicy, 'ClusterFirst')
  assert.deepEqual(spec.securityContext, {})
  assert.deepEqual(p.containers[0].spec, {
    name: 'web',
    image: 'nginx:1.27',
    imagePullPolicy: 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
  })
  assert.equal(p.containers[0].init, false)
})

test('imagePullPolicy from the tag, as Kubernetes does', () => {
  assert.equal(defaultPullPolicy('nginx'), 'Always')
  assert.equal(defaultPullPolicy('nginx:latest'), 'Always')
  assert.equal(defaultPullPolicy('registry.example:5000/team/nginx'), 'Always')
  assert.equal(defaultPullPolicy('nginx:1.27'), 'IfNotPresent')
  assert.equal(defaultPullPolicy('registry.example:5000/nginx:1.27'), 'IfNotPresent')
  assert.equal(defaultPullPolicy(`nginx@sha256:${'a'.repeat(64)}`), 'IfNotPresent')
})

test('container defaults: ports, probes, env fieldRef, requests from limits, canonical quantities', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  containers:
  - name: web
    image: nginx
    imagePullPolicy: Never
    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
    env:
    - name: POD
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      limits: {cpu: 1500m, memory: 1.5Gi}
      requests: {cpu: 0.5}
    readinessProbe:
      httpGet: {port: 80}
    lifecycle:
      preStop: {httpGet: {port: 80, path: /quit}}
`
  const p = load(text).pods[0]
  assert.equal(p.key, 'shop/web')
  assert.equal(p.restartPolicy, 'OnFailure')
  assert.equal(p.terminationGracePeriodSeconds, 5)
  const c = p.containers[0].spec
  assert.equal(c.imagePullPolicy, 'Never')
  assert.deepEqual(c.ports, [{containerPort: 80, protocol: 'TCP'}, {containerPort: 53, protocol: 'UDP'}])
  assert.deepEqual(c.env![0].valueFrom!.fieldRef, {fieldPath: 'metadata.name', apiVersion: 'v1'})
  assert.deepEqual(c.resources, {limits: {cpu: '1500m', memory: '1536Mi'}, requests: {cpu: '500m', memory: '1536Mi'}})
  assert.deepEqual(c.readinessProbe, {httpGet: {port: 80, path: '/', scheme: 'HTTP'}, timeoutSeconds: 1, periodSeconds: 10, successThreshold: 1, failureThreshold: 3})
  assert.deepEqual(c.lifecycle!.preStop!.httpGet, {port: 80, path: '/quit', scheme: 'HTTP'})
})

test('volume defaults: file modes, hostPath type, sizes', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers: [{name: web, image: nginx}]
  volumes:
  - {name: a, configMap: {name: conf, defaultMode: 0400}}
  - {name: b, secret: {secretName: creds}}
  - {name: c, hostPath: {path: /srv}}
  - {name: d, emptyDir: {sizeLimit: 1024Mi}}
  - {name: e, downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
`
  const volumes = load(text).pods[0].pod.spec!.volumes!
  assert.deepEqual(volumes[0].configMap, {name: 'conf', defaultMode: 0o400})
  assert.deepEqual(volumes[1].secret, {secretName: 'creds', defaultMode: 0o644})
  assert.deepEqual(volumes[2].hostPath, {path: '/srv', type: ''})
  assert.deepEqual(volumes[3].emptyDir, {sizeLimit: '1Gi'})
  assert.deepEqual(volumes[4].downwardAPI, {defaultMode: 0o644, items: [{path: 'name', fieldRef: {fieldPath: 'metadata.name', apiVersion: 'v1'}}]})
})

test('init containers and sidecars keep their order and kind', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  initContainers:
  - {name: setup, image: busybox:1.36}
  - {name: proxy, image: envoy:1, restartPolicy: Always}
  containers: [{name: web, image: nginx}]
`
  const p = load(text).pods[0]
  assert.deepEqual(p.initContainers.map((c) => [c.name, c.init, c.spec.restartPolicy ?? null]), [['setup', true, null], ['proxy', true, 'Always']])
})

test('the deprecated AppArmor annotation becomes appArmorProfile (as Kubernetes 1.30 does), with a warning', () => {
  const text = `apiVersion: v1
kind: Pod
metadata:
  name: web
  annotations:
    container.apparmor.security.beta.kubernetes.io/web: localhost/deny-write
    container.apparmor.security.beta.kubernetes.io/side: runtime/default
spec:
  containers:
  - {name: web, image: nginx}
  - {name: side, image: busybox, securityContext: {appArmorProfile: {type: Unconfined}}}
`
  const state = load(text)
  const [web, side] = state.pods[0].containers
  assert.deepEqual(web.spec.securityContext, {appArmorProfile: {type: 'Localhost', localhostProfile: 'deny-write'}})
  assert.deepEqual(side.spec.securityContext, {appArmorProfile: {type: 'Unconfined'}}, 'the field wins over the annotation')
  assert.equal(state.diagnostics.filter((d) => /AppArmor annotation is deprecated/.test(d.message)).length, 2)
})

test('ConfigMaps and Secrets: data, stringData merged as base64, content hashes', () => {
  const text = `apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {a: "1"}
binaryData: {b: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: shop}
type: kubernetes.io/basic-auth
data: {username: YWRtaW4=, password: b2xk}
stringData: {password: new}
`
  const state = load(text)
  const [cm] = state.configMaps
  assert.equal(cm.key, 'default/conf')
  assert.deepEqual([cm.data, cm.binaryData, cm.immutable], [{a: '1'}, {b: 'AAEC'}, false])
  assert.match(cm.hash, /^[0-9a-f]{16}$/)
  const [secret] = state.secrets
  assert.equal(secret.key, 'shop/creds')
  assert.equal(secret.type, 'kubernetes.io/basic-auth')
  assert.deepEqual(secret.data, {username: 'YWRtaW4=', password: Buffer.from('new').toString('base64')})
})
