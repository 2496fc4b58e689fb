// The downward API values for env and volume files, as the kubelet gives them.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import os from 'node:os'
import type {Pod} from 'kubernetes-types/core/v1.js'
import {fieldValue, resourceValue} from '../../src/reconcile/downward.js'

const pod: Pod = {
  metadata: {name: 'web', namespace: 'edge', labels: {b: '2', a: 'say "hi"'}, annotations: {'x.io/k': 'v'}},
  spec: {serviceAccountName: 'sa', containers: [{name: 'app', resources: {limits: {cpu: '1500m'}, requests: {memory: '64Mi'}}}]},
}
const node = {nodeName: 'n1', podIP: '10.1.2.3', hostIP: '192.0.2.1'}

test('fields: names, one label or annotation, every label as key="value" lines sorted, node facts for env only', () => {
  assert.equal(fieldValue(pod, 'u-1', 'metadata.uid', node), 'u-1')
  assert.equal(fieldValue(pod, 'u-1', "metadata.annotations['x.io/k']", undefined), 'v')
  assert.equal(fieldValue(pod, 'u-1', "metadata.labels['missing']", undefined), '')
  assert.equal(fieldValue(pod, 'u-1', 'metadata.labels', undefined), 'a="say \\"hi\\""\nb="2"')
  assert.equal(fieldValue(pod, 'u-1', 'status.podIPs', node), '10.1.2.3')
  assert.equal(fieldValue(pod, 'u-1', 'spec.serviceAccountName', undefined), 'sa')
  assert.throws(() => fieldValue(pod, 'u-1', 'status.podIP', undefined), /not available here/)
})

test('resources: rounded up in units of the divisor; a limit not set is what the node has', () => {
  const c = pod.spec!.containers[0]
  assert.equal(resourceValue(c, 'limits.cpu'), '2')
  assert.equal(resourceValue(c, 'limits.cpu', '1m'), '1500')
  assert.equal(resourceValue(c, 'requests.memory', '1Mi'), '64')
  assert.equal(resourceValue(c, 'requests.cpu'), '0')
  assert.equal(resourceValue(c, 'limits.memory'), String(os.totalmem()))
})
