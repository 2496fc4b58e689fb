// The pod-level cgroup limits and memory-backed volume sizes, as the kubelet computes them.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {Container, Pod} from 'kubernetes-types/core/v1.js'
import {podCgroupLimits, writePodCgroup} from '../../src/reconcile/pod-cgroup.js'
import {tmpfsSize} from '../../src/reconcile/volume-media.js'

const c = (name: string, limits?: Record<string, string>, requests?: Record<string, string>, restartPolicy?: string): Container =>
  ({name, image: 'x', resources: {limits, requests}, ...(restartPolicy ? {restartPolicy} : {})}) as Container
const pod = (containers: Container[], initContainers: Container[] = []): Pod => ({spec: {containers, initContainers}})
const Mi = 1024 * 1024

test('memory and CPU limits are the sums when every container has one; shares from the requests', () => {
  const l = podCgroupLimits(pod([c('a', {memory: '32Mi', cpu: '500m'}), c('b', {memory: '16Mi', cpu: '250m'}, {cpu: '100m'})]))
  assert.deepEqual(l, {memoryBytes: 48 * Mi, cpuQuotaUs: 75_000, cpuShares: Math.floor((600 * 1024) / 1000)})
})

test('one container without a limit: no pod limit (as Kubernetes), shares at least 2', () => {
  assert.deepEqual(podCgroupLimits(pod([c('a', {memory: '32Mi'}), c('b')])), {memoryBytes: undefined, cpuQuotaUs: undefined, cpuShares: 2})
})

test('init containers count as the largest of them; sidecars run beside the app containers', () => {
  const p = pod([c('app', {memory: '10Mi'})], [c('big-init', {memory: '100Mi'}), c('side', {memory: '20Mi'}, undefined, 'Always'), c('late-init', {memory: '50Mi'})])
  assert.equal(podCgroupLimits(p).memoryBytes, 100 * Mi)
  const q = pod([c('app', {memory: '90Mi'})], [c('side', {memory: '20Mi'}, undefined, 'Always'), c('late-init', {memory: '50Mi'})])
  assert.equal(podCgroupLimits(q).memoryBytes, 110 * Mi)
})

test('a memory volume is the smallest of its sizeLimit, the pod limit and the machine', () => {
  const v = {name: 'm', emptyDir: {medium: 'Memory', sizeLimit: '8Mi'}}
  assert.equal(tmpfsSize(pod([c('a', {memory: '32Mi'})]), v), 8 * Mi)
  assert.equal(tmpfsSize(pod([c('a', {memory: '4Mi'})]), v), 4 * Mi)
  assert.equal(tmpfsSize(pod([c('a')]), {name: 's', secret: {secretName: 'x'}}), os.totalmem())
})

test('limits land in the v1 controller folders and the v2 unified folder; a controller not mounted is skipped', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-cg-'))
  try {
    const v1 = path.join(root, 'v1')
    fs.mkdirSync(path.join(v1, 'memory/podrun/podX'), {recursive: true})
    fs.mkdirSync(path.join(v1, 'cpu/podrun/podX'), {recursive: true})
    await writePodCgroup(v1, '/podrun/podX', {memoryBytes: 48 * Mi, cpuQuotaUs: 75_000, cpuShares: 614})
    assert.equal(fs.readFileSync(path.join(v1, 'memory/podrun/podX/memory.limit_in_bytes'), 'utf8'), String(48 * Mi))
    assert.equal(fs.readFileSync(path.join(v1, 'cpu/podrun/podX/cpu.cfs_quota_us'), 'utf8'), '75000')
    assert.equal(fs.readFileSync(path.join(v1, 'cpu/podrun/podX/cpu.shares'), 'utf8'), '614')
    const v2 = path.join(root, 'v2')
    fs.mkdirSync(path.join(v2, 'podrun/podX'), {recursive: true})
    fs.writeFileSync(path.join(v2, 'cgroup.controllers'), 'cpu memory')
    await writePodCgroup(v2, '/podrun/podX', {cpuShares: 2})
    assert.equal(fs.readFileSync(path.join(v2, 'podrun/podX/memory.max'), 'utf8'), 'max')
    assert.equal(fs.readFileSync(path.join(v2, 'podrun/podX/cpu.max'), 'utf8'), 'max 100000')
    assert.equal(fs.readFileSync(path.join(v2, 'podrun/podX/cpu.weight'), 'utf8'), '1')
    await writePodCgroup(path.join(root, 'none'), '/podrun/podY', {cpuShares: 2})
  } finally {
    fs.rmSync(root, {recursive: true, force: true})
  }
})
