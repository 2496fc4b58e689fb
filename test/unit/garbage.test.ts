// What garbage collection removes, as tables of runtime states: only podrun's things, never what
// runs, the newest instance and one dead one kept per container, sandboxes of gone pods, logs and
// links of what is gone, and images by use, threshold, age and last use.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {Container, Image, PodSandbox} from '../../src/gen/runtime/v1/api.js'
import {type GarbageInput, GONE, normalizeImageRef, planGarbage} from '../../src/reconcile/garbage.js'

const ours = (ns: string, name: string, uid: string) => ({'podrun.podrun.io': 'x', 'podrun.io/managed-by': 'podrun', 'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name, 'io.kubernetes.pod.uid': uid, 'podrun.io/source': 'apply'})
let t = 1n
const sandbox = (id: string, uid: string, state: 'READY' | 'NOTREADY', o: {name?: string; labels?: Record<string, string>} = {}) =>
  PodSandbox.fromPartial({id, state: state === 'READY' ? 0 : 1, createdAt: t++, metadata: {name: o.name ?? 'web', namespace: 'default', uid, attempt: 0}, labels: o.labels ?? ours('default', o.name ?? 'web', uid)})
const container = (id: string, sb: string, name: string, attempt: number, state: 'RUNNING' | 'EXITED', o: {image?: string; labels?: Record<string, string>; pod?: string; uid?: string} = {}) =>
  Container.fromPartial({
    id,
    podSandboxId: sb,
    state: state === 'RUNNING' ? 1 : 2,
    createdAt: t++,
    metadata: {name, attempt},
    image: {image: o.image ?? 'sha256:busy'},
    imageRef: o.image ?? 'sha256:busy',
    labels: o.labels ?? {...ours('default', o.pod ?? 'web', o.uid ?? 'u1'), 'io.kubernetes.container.name': name},
  })
const image = (id: string, tag: string, size = 1000, pinned = false) => Image.fromPartial({id, repoTags: [tag], size: BigInt(size), pinned})

function input(o: Partial<GarbageInput>): GarbageInput {
  return {sandboxes: [], containers: [], images: [], logDirs: [], links: [], podExists: () => true, wantedImages: new Set(), imagePolicy: {mode: 'none'}, now: 1_000_000, ...o}
}

describe('garbage: containers and sandboxes', () => {
  it('keeps the newest instance and one dead one per container; removes older dead ones; never a running one', () => {
    const p = planGarbage(input({
      sandboxes: [sandbox('s1', 'u1', 'READY')],
      containers: [container('c0', 's1', 'app', 0, 'EXITED'), container('c1', 's1', 'app', 1, 'EXITED'), container('c2', 's1', 'app', 2, 'EXITED'), container('c3', 's1', 'app', 3, 'RUNNING'), container('d0', 's1', 'side', 0, 'RUNNING')],
    }))
    assert.deepEqual(p.containers.map((c) => c.id).sort(), ['c0', 'c1'])
    assert.deepEqual(p.sandboxes, [])
  })

  it('an older sandbox that holds nothing running goes, with its containers; a ready one stays', () => {
    const p = planGarbage(input({
      sandboxes: [sandbox('old', 'u1', 'NOTREADY'), sandbox('new', 'u1', 'READY')],
      containers: [container('x', 'old', 'app', 0, 'EXITED'), container('y', 'new', 'app', 0, 'RUNNING')],
    }))
    assert.deepEqual(p.sandboxes.map((s) => s.id), ['old'])
    assert.deepEqual(p.containers.map((c) => c.id), ['x'])
  })

  it('an older sandbox still running something is left (its pod sync stops it first)', () => {
    const p = planGarbage(input({sandboxes: [sandbox('old', 'u1', 'NOTREADY'), sandbox('new', 'u1', 'READY')], containers: [container('x', 'old', 'app', 0, 'RUNNING')]}))
    assert.deepEqual(p.sandboxes, [])
  })

  it('a stopped pod nobody wants any more goes whole; a stopped pod that exists stays', () => {
    const sandboxes = [sandbox('s1', 'u1', 'NOTREADY')]
    const containers = [container('c', 's1', 'app', 0, 'EXITED')]
    const gone = planGarbage(input({sandboxes, containers, podExists: () => false}))
    assert.deepEqual(gone.sandboxes, [{id: 's1', pod: 'default/web', why: GONE}])
    assert.deepEqual(gone.containers.map((c) => c.id), ['c'])
    assert.deepEqual(planGarbage(input({sandboxes, containers, podExists: () => true})).sandboxes, [])
    // A ready sandbox is never removed, wanted or not.
    assert.deepEqual(planGarbage(input({sandboxes: [sandbox('s2', 'u2', 'READY')], podExists: () => false})).sandboxes, [])
  })

  it('touches nothing that is not podrun\'s', () => {
    const foreign = {'io.kubernetes.pod.name': 'k', 'io.kubernetes.pod.namespace': 'kube-system', 'io.kubernetes.pod.uid': 'k1'}
    const p = planGarbage(input({
      sandboxes: [sandbox('k1', 'k1', 'NOTREADY', {labels: foreign}), sandbox('k2', 'k1', 'NOTREADY', {labels: foreign})],
      containers: [container('a', 'k1', 'x', 0, 'EXITED', {labels: foreign}), container('b', 'k1', 'x', 1, 'EXITED', {labels: foreign}), container('c', 'k1', 'x', 2, 'EXITED', {labels: foreign})],
      podExists: () => false,
    }))
    assert.deepEqual([...p.containers, ...p.sandboxes], [])
  })

  it('an exited container whose sandbox is gone goes', () => {
    const p = planGarbage(input({containers: [container('orphan', 'nosuch', 'app', 0, 'EXITED'), container('live', 'nosuch', 'app', 1, 'RUNNING')]}))
    assert.deepEqual(p.containers.map((c) => c.id), ['orphan'])
  })
})

describe('garbage: logs and links', () => {
  const dir = (name: string, files: string[], mtimeMs = 0) => ({name, files, mtimeMs})
  it('a log folder of a pod the runtime no longer has goes once it is a minute old, unless the pod still exists (between sandboxes); files of gone containers go', () => {
    const p = planGarbage(input({
      sandboxes: [sandbox('s1', 'u1', 'READY')],
      containers: [container('c3', 's1', 'app', 3, 'RUNNING'), container('c2', 's1', 'app', 2, 'EXITED')],
      logDirs: [
        dir('default_web_u1', ['app/0.log', 'app/1.log.20261203-101010.gz', 'app/2.log', 'app/3.log', 'app/3.log.20261203-101010', 'notes.txt']),
        dir('default_old_u9', ['app/0.log'], 0),
        dir('default_fresh_u8', ['app/0.log'], 999_000),
        dir('default_web_u0', ['app/0.log'], 0),
        dir('not a pod folder', [], 0),
      ],
      podExists: (p) => p.name === 'web',
    }))
    assert.deepEqual(p.logs.map((l) => l.path), ['default_web_u1/app/0.log', 'default_web_u1/app/1.log.20261203-101010.gz', 'default_old_u9'])
  })

  it('links of containers that are gone, or whose file is gone, go; other names are left', () => {
    const id = (c: string) => c.repeat(64)
    const p = planGarbage(input({
      sandboxes: [sandbox('s1', 'u1', 'READY')],
      containers: [container(id('a'), 's1', 'app', 0, 'RUNNING')],
      links: [
        {name: `web_default_app-${id('a')}.log`, targetExists: true},
        {name: `web_default_app-${id('b')}.log`, targetExists: false},
        {name: `web_default_app-${id('a')}.log.bak`, targetExists: false},
        {name: 'syslog', targetExists: false},
      ],
    }))
    assert.deepEqual(p.links.map((l) => l.name), [`web_default_app-${id('b')}.log`])
  })
})

describe('garbage: images', () => {
  const images = [image('sha256:busy', '127.0.0.1:5055/podrun/busybox:1.35', 5000), image('sha256:old', 'registry.local/old:1', 3000), image('sha256:big', 'registry.local/big:1', 9000), image('sha256:pin', 'registry.local/pin:1', 100, true), image('sha256:want', 'docker.io/library/nginx:latest', 700)]
  const sandboxes = [sandbox('s1', 'u1', 'READY')]
  const containers = [container('c', 's1', 'app', 0, 'RUNNING', {image: 'sha256:busy'})]
  const base = {sandboxes, containers, images, wantedImages: new Set(['nginx'])}

  it('--images: every image no container uses, none pinned, none a known pod names', () => {
    const p = planGarbage(input({...base, imagePolicy: {mode: 'all'}}))
    assert.deepEqual(p.images.map((i) => i.id), ['sha256:old', 'sha256:big'])
  })

  it('threshold: nothing below the high mark; past it, least recently used first, down to the low mark; none too young', () => {
    const GB = 1e9
    const under = planGarbage(input({...base, imagePolicy: {mode: 'threshold', highPercent: 85, lowPercent: 80, usage: {capacityBytes: 100 * GB, availableBytes: 20 * GB}}}))
    assert.deepEqual(under.images, [])
    // 90% used: 10 GB to free down to 80%... of which the images hold little: all old enough go, in LRU order.
    const lastUsed = new Map([['sha256:old', 500], ['sha256:big', 100]])
    const over = planGarbage(input({...base, imagePolicy: {mode: 'threshold', highPercent: 85, lowPercent: 80, usage: {capacityBytes: 100 * GB, availableBytes: 10 * GB}, lastUsed}}))
    assert.deepEqual(over.images.map((i) => i.id), ['sha256:big', 'sha256:old'])
    assert.match(over.images[0].why, /90% full \(--image-gc-high-threshold 85\)/)
    // Only as much as needed: 86% used with 10 KB of capacity per percent... the first image is enough.
    const some = planGarbage(input({...base, imagePolicy: {mode: 'threshold', highPercent: 85, lowPercent: 80, usage: {capacityBytes: 100_000, availableBytes: 14_000}, lastUsed}}))
    assert.deepEqual(some.images.map((i) => i.id), ['sha256:big'])
    const young = planGarbage(input({...base, imagePolicy: {mode: 'threshold', usage: {capacityBytes: 100, availableBytes: 1}, minAgeMs: 120_000, firstSeen: new Map([['sha256:old', 990_000], ['sha256:big', 0]])}}))
    assert.deepEqual(young.images.map((i) => i.id), ['sha256:big'])
  })

  it('image references are compared in full', () => {
    assert.equal(normalizeImageRef('nginx'), 'docker.io/library/nginx:latest')
    assert.equal(normalizeImageRef('me/app:2'), 'docker.io/me/app:2')
    assert.equal(normalizeImageRef('127.0.0.1:5055/podrun/busybox'), '127.0.0.1:5055/podrun/busybox:latest')
    assert.equal(normalizeImageRef('localhost/x@sha256:abc'), 'localhost/x@sha256:abc')
  })
})
