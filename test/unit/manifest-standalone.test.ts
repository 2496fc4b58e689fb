// What a standalone node ignores (a warning) and rejects (an error): every rule of the table fires
// where it should, and the README shows exactly this table.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {readFileSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {desiredStateFromTexts} from '../../src/manifest/index.js'
import {renderStandaloneTable, STANDALONE_RULES, standaloneFindings} from '../../src/manifest/standalone.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

const IGNORED = `apiVersion: v1
kind: Pod
metadata:
  name: web
  generateName: web-
  uid: 0b7c1a2e-0000-4000-8000-000000000000
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: web-1, uid: x}]
  annotations:
    seccomp.security.alpha.kubernetes.io/pod: runtime/default
spec:
  nodeName: node-1
  nodeSelector: {disktype: ssd}
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In, values: [b]}]}]}}}
  tolerations: [{key: a, operator: Exists}]
  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
  schedulingGates: [{name: example.com/gate}]
  schedulerName: my-scheduler
  priorityClassName: high
  readinessGates: [{conditionType: example.com/ready}]
  serviceAccountName: robot
  automountServiceAccountToken: true
  enableServiceLinks: true
  securityContext: {windowsOptions: {runAsUserName: admin}}
  containers: [{name: web, image: nginx}]
status:
  phase: Running
`

test('ignored fields: the pod is valid, each field gets a warning at its line', () => {
  const state = desiredStateFromTexts([{file: 'pod.yaml', text: IGNORED}])
  assert.equal(state.pods.length, 1)
  assert.deepEqual(
    state.diagnostics.map((d) => `${d.severity} ${d.line} ${d.path}`),
    [
      'warning 5 metadata.generateName',
      'warning 6 metadata.uid',
      'warning 7 metadata.ownerReferences',
      'warning 9 metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"]',
      'warning 11 spec.nodeName',
      'warning 12 spec.nodeSelector',
      'warning 13 spec.affinity',
      'warning 14 spec.tolerations',
      'warning 15 spec.topologySpreadConstraints',
      'warning 16 spec.schedulingGates',
      'warning 17 spec.schedulerName',
      'warning 18 spec.priorityClassName',
      'warning 19 spec.readinessGates',
      'warning 20 spec.serviceAccountName',
      'warning 21 spec.automountServiceAccountToken',
      'warning 22 spec.enableServiceLinks',
      'warning 23 spec.securityContext.windowsOptions',
      'warning 25 status',
    ],
  )
  for (const d of state.diagnostics) assert.match(d.message, /^ignored on a standalone node: /)
})

test('values that mean "not used" draw no warning', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  schedulerName: default-scheduler
  automountServiceAccountToken: false
  enableServiceLinks: false
  os: {name: linux}
  containers: [{name: web, image: nginx}]
`
  assert.deepEqual(desiredStateFromTexts([{file: 'pod.yaml', text}]).diagnostics, [])
})

test('rejected fields: an error each, and the pod is not run', () => {
  const text = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  os: {name: windows}
  resourceClaims: [{name: gpu, source: {resourceClaimName: gpu}}]
  ephemeralContainers: [{name: debug, image: busybox}]
  containers:
  - name: web
    image: nginx
    resources:
      claims: [{name: gpu}]
      limits: {nvidia.com/gpu: 1}
  volumes:
  - {name: a, persistentVolumeClaim: {claimName: data}}
  - {name: b, ephemeral: {volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce]}}}}
  - {name: c, nfs: {server: nas, path: /export}}
  - {name: d, csi: {driver: example.csi}}
  - name: e
    projected:
      sources:
      - serviceAccountToken: {path: token}
      - clusterTrustBundle: {name: roots, path: roots.pem}
`
  const state = desiredStateFromTexts([{file: 'pod.yaml', text}])
  assert.equal(state.pods.length, 0)
  assert.deepEqual(
    state.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.line} ${d.path}`),
    [
      '5 spec.os.name',
      '6 spec.resourceClaims',
      '7 spec.ephemeralContainers',
      '12 spec.containers[0].resources.claims',
      '13 spec.containers[0].resources.limits["nvidia.com/gpu"]',
      '15 spec.volumes[0].persistentVolumeClaim',
      '16 spec.volumes[1].ephemeral',
      '17 spec.volumes[2].nfs',
      '18 spec.volumes[3].csi',
      '22 spec.volumes[4].projected.sources[0].serviceAccountToken',
      '23 spec.volumes[4].projected.sources[1].clusterTrustBundle',
    ],
  )
  for (const d of state.diagnostics) assert.match(d.message, /^not supported on a standalone node: /)
})

test('every rule of the table fires on some pod (no dead rows)', () => {
  const values: Array<Record<string, unknown>> = [
    {
      metadata: {name: 'x', generateName: 'x-', uid: 'u', finalizers: ['f'], ownerReferences: [{}], annotations: {'container.seccomp.security.alpha.kubernetes.io/i': 'unconfined'}},
      status: {},
      spec: {
        nodeName: 'n', nodeSelector: {}, affinity: {}, tolerations: [], topologySpreadConstraints: [], schedulingGates: [], schedulerName: 's',
        priority: 1, overhead: {}, readinessGates: [], serviceAccount: 'a', automountServiceAccountToken: true, enableServiceLinks: true,
        securityContext: {windowsOptions: {}}, resourceClaims: [], ephemeralContainers: [], os: {name: 'windows'},
        hostUsers: false,
        initContainers: [{name: 'i', resources: {claims: [], requests: {'example.com/x': 1}, limits: {'ephemeral-storage': '1Gi'}}, resizePolicy: [], volumeDevices: []}],
        volumes: [
          {name: 'a', persistentVolumeClaim: {}}, {name: 'b', ephemeral: {}}, {name: 'c', vsphereVolume: {}},
          {name: 'd', projected: {sources: [{serviceAccountToken: {}}, {clusterTrustBundle: {}}]}},
          {name: 'e', emptyDir: {sizeLimit: '1Gi'}}, {name: 'f', emptyDir: {medium: 'HugePages-2Mi'}},
        ],
      },
    },
  ]
  for (const rule of STANDALONE_RULES) {
    assert.ok(values.some((v) => rule.find(v).length > 0), `rule for ${rule.field} fires`)
  }
  assert.ok(standaloneFindings(values[0]).length >= STANDALONE_RULES.length)
})

test('the README shows exactly the table the code implements', () => {
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8')
  const begin = '<!-- standalone-table:begin (generated from src/manifest/standalone.ts; a test checks it) -->\n'
  const end = '<!-- standalone-table:end -->'
  const i = readme.indexOf(begin)
  const j = readme.indexOf(end)
  assert.ok(i !== -1 && j > i, 'README.md has the standalone table between its markers')
  assert.equal(readme.slice(i + begin.length, j), renderStandaloneTable())
})
