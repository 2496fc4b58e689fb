// Pod rules on valid manifests: what Kubernetes accepts must pass without a word (the invalid side
// is the table in manifest-invalid.test.ts).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {desiredStateFromTexts} from '../../src/manifest/index.js'

function diagnostics(...texts: string[]): string[] {
  const state = desiredStateFromTexts(texts.map((text, i) => ({file: `f${i}.yaml`, text})))
  return state.diagnostics.map((d) => `${d.severity} ${d.file}:${d.line}: ${d.path}: ${d.message}`)
}

const FULL = `apiVersion: v1
kind: Pod
metadata:
  name: shop-web
  namespace: shop
  labels: {app.kubernetes.io/name: web, tier: ""}
  annotations: {example.com/owner: team-a}
spec:
  hostname: web-0
  subdomain: shop
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 10
  activeDeadlineSeconds: 3600
  dnsPolicy: None
  dnsConfig:
    nameservers: [10.0.0.10, "fd00::10"]
    searches: [shop.svc.example.]
    options: [{name: ndots, value: "2"}]
  hostAliases: [{ip: 127.0.0.1, hostnames: [db.local]}]
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    fsGroup: 2000
    supplementalGroups: [3000]
    seccompProfile: {type: RuntimeDefault}
    sysctls: [{name: net.ipv4.ip_local_port_range, value: "1024 65000"}]
  imagePullSecrets: [{name: registry}]
  initContainers:
  - name: migrate
    image: registry.example:5000/shop/migrate@sha256:${'0123456789abcdef'.repeat(4)}
    command: [migrate, up]
    envFrom: [{configMapRef: {name: settings}, prefix: APP_}]
  - name: proxy
    image: envoyproxy/envoy:v1.31.0
    restartPolicy: Always
    ports: [{name: admin, containerPort: 9901}]
    startupProbe: {httpGet: {port: admin, path: /ready}, failureThreshold: 30}
    readinessProbe: {grpc: {port: 9901}}
  containers:
  - name: web
    image: nginx:1.27
    imagePullPolicy: IfNotPresent
    workingDir: /srv
    ports:
    - {name: http, containerPort: 80, hostPort: 8080}
    - {name: dns, containerPort: 53, hostPort: 8080, protocol: UDP}
    - {containerPort: 443, hostPort: 0}
    env:
    - {name: MODE, value: production}
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: TEAM, valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}}
    - {name: CPU, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 1m}}}
    - {name: PASSWORD, valueFrom: {secretKeyRef: {name: db, key: password}}}
    - {name: OPTIONAL, valueFrom: {configMapKeyRef: {name: absent, key: x, optional: true}}}
    resources:
      limits: {cpu: "2", memory: 1Gi, ephemeral-storage: 2Gi, hugepages-2Mi: 64Mi}
      requests: {cpu: 250m, memory: 512Mi, hugepages-2Mi: 64Mi}
    livenessProbe: {httpGet: {port: http, path: /healthz, httpHeaders: [{name: X-Probe, value: "1"}]}, successThreshold: 1}
    readinessProbe: {tcpSocket: {port: "80"}, periodSeconds: 5}
    lifecycle:
      preStop: {sleep: {seconds: 5}}
      postStart: {exec: {command: [touch, /tmp/started]}}
    securityContext:
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}
      seccompProfile: {type: Localhost, localhostProfile: profiles/web.json}
    volumeMounts:
    - {name: cache, mountPath: /var/cache/nginx}
    - {name: conf, mountPath: /etc/nginx/conf.d, readOnly: true}
    - {name: certs, mountPath: /etc/ssl/private, readOnly: true, recursiveReadOnly: IfPossible}
    - {name: host-logs, mountPath: /var/log/nginx, subPath: shop}
    - {name: info, mountPath: /etc/podinfo}
    - {name: all, mountPath: /etc/all}
    stdin: true
    tty: true
  volumes:
  - {name: cache, emptyDir: {medium: Memory, sizeLimit: 64Mi}}
  - name: conf
    configMap:
      name: settings
      defaultMode: 0644
      items: [{key: default.conf, path: default.conf, mode: 0400}]
  - {name: certs, secret: {secretName: tls, optional: true}}
  - {name: host-logs, hostPath: {path: /var/log/shop, type: DirectoryOrCreate}}
  - name: info
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: mem, resourceFieldRef: {containerName: web, resource: limits.memory, divisor: 1Mi}}
  - name: all
    projected:
      sources:
      - configMap: {name: settings, items: [{key: default.conf, path: conf/default.conf}]}
      - secret: {name: db, items: [{key: password, path: secret/password}]}
      - downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}
`

const SETTINGS = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, namespace: shop}
data:
  default.conf: "server { listen 80; }"
  LEVEL: info
`

const DB = `apiVersion: v1
kind: Secret
metadata: {name: db, namespace: shop}
type: Opaque
data:
  password: c2VjcmV0
`

test('a pod that uses most of the API validates, with only the warnings it deserves', () => {
  assert.deepEqual(diagnostics(FULL, SETTINGS, DB), [
    'warning f0.yaml:27: spec.imagePullSecrets[0].name: image pull secret Secret shop/registry is not among the manifests given; images will be pulled without these credentials',
    'warning f0.yaml:56: spec.containers[0].resources.limits.ephemeral-storage: ignored on a standalone node: not enforced: podrun has no eviction manager (the container is not evicted when it writes more)',
  ])
})

test('the same pod without its ConfigMap and Secret: each reference is an error, optional ones are not', () => {
  const out = diagnostics(FULL).filter((d) => d.startsWith('error'))
  assert.equal(out.length, 5)
  for (const d of out) assert.match(d, /(ConfigMap shop\/settings|Secret shop\/db) is not among the manifests given/)
})

test('host ports may repeat across protocols and host IPs', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: dns}
spec:
  containers:
  - name: a
    image: coredns/coredns:1.11.1
    ports:
    - {containerPort: 53, hostPort: 53, protocol: UDP}
    - {containerPort: 53, hostPort: 53, protocol: TCP}
  - name: b
    image: coredns/coredns:1.11.1
    ports:
    - {containerPort: 54, hostPort: 53, protocol: UDP, hostIP: 127.0.0.2}
`
  assert.deepEqual(diagnostics(text), [])
})

test('limits equal to requests, and a request without a limit, are fine', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: a
    image: nginx
    resources: {requests: {cpu: 1, memory: 1Gi}, limits: {cpu: 1000m, memory: 1024Mi}}
  - name: b
    image: nginx
    resources: {requests: {memory: 10Gi}}
`
  assert.deepEqual(diagnostics(text), [])
})

test('rules that need both sides: allowPrivilegeEscalation with privileged, shareProcessNamespace with hostPID', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  hostPID: true
  shareProcessNamespace: true
  containers:
  - name: a
    image: nginx
    securityContext: {privileged: true, allowPrivilegeEscalation: false}
`
  assert.deepEqual(diagnostics(text), [
    'error f0.yaml:6: spec.shareProcessNamespace: shareProcessNamespace and hostPID cannot both be true',
    'error f0.yaml:10: spec.containers[0].securityContext.allowPrivilegeEscalation: cannot be false when privileged is true',
  ])
})
