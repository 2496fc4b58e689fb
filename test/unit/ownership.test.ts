// Who may change, prune or leave a pod: the daemon's rules, as a table.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {applyPrune, daemonScope, type DaemonScope} from '../../src/reconcile/ownership.js'

const dir = '/etc/podrun/manifests'
const owns = (s: string) => s === 'apply' || s.startsWith(`${dir}/`)
const broken = new Set([`${dir}/broken.yaml`])
const frozen = (s: string) => s === 'apply' || broken.has(s)

describe('daemonScope', () => {
  const cases: Array<[string, {source: string} | undefined, {source: string} | undefined, DaemonScope]> = [
    ['nothing anywhere', undefined, undefined, {kind: 'none'}],
    ['a manifest, nothing running', {source: `${dir}/a.yaml`}, undefined, {kind: 'sync', mayPrune: false}],
    ['a manifest and its pod', {source: `${dir}/a.yaml`}, {source: `${dir}/a.yaml`}, {kind: 'sync', mayPrune: true}],
    ['a pod moved to another file of the folder', {source: `${dir}/b.yaml`}, {source: `${dir}/a.yaml`}, {kind: 'sync', mayPrune: true}],
    ['the folder names a pod of apply', {source: `${dir}/a.yaml`}, {source: 'apply'}, {kind: 'conflict', owner: 'apply'}],
    ['the folder names a pod of another folder', {source: `${dir}/a.yaml`}, {source: '/srv/other/a.yaml'}, {kind: 'conflict', owner: '/srv/other/a.yaml'}],
    ['a pod without a source label', {source: `${dir}/a.yaml`}, {source: ''}, {kind: 'conflict', owner: '(no source label)'}],
    ['the daemon\'s pod, its file removed', undefined, {source: `${dir}/a.yaml`}, {kind: 'sync', mayPrune: true}],
    ['the daemon\'s pod, its file broken since before start', undefined, {source: `${dir}/broken.yaml`}, {kind: 'sync', mayPrune: false}],
    ['a pod of apply, no record: supervised, never pruned', undefined, {source: 'apply'}, {kind: 'sync', mayPrune: false}],
    ['an applied pod and its record', {source: 'apply'}, {source: 'apply'}, {kind: 'sync', mayPrune: false}],
    ['an applied pod not running yet', {source: 'apply'}, undefined, {kind: 'sync', mayPrune: false}],
    ['apply\'s record of a pod the folder runs', {source: 'apply'}, {source: `${dir}/a.yaml`}, {kind: 'conflict', owner: `${dir}/a.yaml`}],
    ['a pod of another folder, no manifest here', undefined, {source: '/srv/other/a.yaml'}, {kind: 'none'}],
  ]
  for (const [name, d, a, want] of cases) it(name, () => assert.deepEqual(daemonScope(d, a, {owns, frozen}), want))
})

describe('applyPrune', () => {
  it('prunes only apply\'s pods, only in the namespaces the manifests speak of, only when asked', () => {
    const p = applyPrune([{namespace: 'web'}], true)
    assert.equal(p({source: 'apply', namespace: 'web'}), true)
    assert.equal(p({source: 'apply', namespace: 'db'}), false)
    assert.equal(p({source: `${dir}/a.yaml`, namespace: 'web'}), false)
    assert.equal(applyPrune([{namespace: 'web'}], false)({source: 'apply', namespace: 'web'}), false)
  })
})
