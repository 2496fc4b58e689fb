// Planner tables: a healthy base pod and its running actual state, one mutation per case, the
// expected plan. Cases are named as sentences, as in the kubelet's computePodActions tests.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {plan, isNoop, describe, backoffFor, defaultBackoff, type PodActions, type PlanOptions} from '../../src/reconcile/plan.js'
import type {DesiredPod, DesiredContainer} from '../../src/model/desired.js'
import type {ActualContainer, ActualPod} from '../../src/model/actual.js'
import {Annotation} from '../../src/reconcile/labels.js'

const S = 1_000_000_000n
const NOW = 1_800_000_000n * S

function dc(name: string, hash: string, image = 'busybox:1.35', init = false): DesiredContainer {
  return {name, hash, init, spec: {name, image}}
}

function desired(mut?: (d: DesiredPod) => void): DesiredPod {
  const d: DesiredPod = {
    key: 'default/web',
    name: 'web',
    namespace: 'default',
    pod: {apiVersion: 'v1', kind: 'Pod', metadata: {name: 'web', namespace: 'default'}, spec: {containers: [{name: 'app', image: 'busybox:1.35'}, {name: 'side', image: 'busybox:1.35'}], hostNetwork: false}},
    sandboxHash: 'sb1',
    initContainers: [],
    containers: [dc('app', 'h-app'), dc('side', 'h-side')],
    restartPolicy: 'Always',
    terminationGracePeriodSeconds: 30,
    source: 'apply',
    origin: {file: 'web.yaml', doc: 0, line: 1, col: 1},
  }
  mut?.(d)
  return d
}

function ac(id: string, name: string, hash: string, extra: Partial<ActualContainer> = {}): ActualContainer {
  return {
    id,
    podSandboxId: 'sb-1',
    name,
    attempt: 0,
    state: 'RUNNING',
    createdAt: NOW - 100n * S,
    image: 'busybox:1.35',
    imageRef: 'sha256:x',
    labels: {},
    annotations: {[Annotation.containerSpec]: JSON.stringify({name, image: 'busybox:1.35'})},
    hash,
    ...extra,
  }
}

function actual(mut?: (a: ActualPod) => void): ActualPod {
  const a: ActualPod = {
    key: 'default/web',
    name: 'web',
    namespace: 'default',
    source: 'apply',
    sandboxes: [
      {
        id: 'sb-1',
        state: 'READY',
        createdAt: NOW - 200n * S,
        attempt: 0,
        uid: 'uid-1',
        labels: {},
        annotations: {[Annotation.podSpec]: JSON.stringify(desired().pod)},
        sandboxHash: 'sb1',
      },
    ],
    containers: [ac('c-app', 'app', 'h-app'), ac('c-side', 'side', 'h-side')],
  }
  mut?.(a)
  return a
}

const opts = (o: Partial<PlanOptions> = {}): PlanOptions => ({now: NOW, prune: () => false, ...o})

function one(d: DesiredPod, a: ActualPod | undefined, o?: Partial<PlanOptions>): PodActions {
  const out = plan([d], a ? [a] : [], opts(o))
  assert.equal(out.length, 1)
  return out[0]
}

const exited = (code: number, ranS: bigint, agoS: bigint, step = 0): Partial<ActualContainer> => ({
  state: 'EXITED',
  exitCode: code,
  startedAt: NOW - agoS * S - ranS * S,
  finishedAt: NOW - agoS * S,
  annotations: {[Annotation.backoffStep]: String(step)},
})

test('a running pod that matches its manifest needs nothing', () => {
  const p = one(desired(), actual())
  assert.equal(p.change, 'unchanged')
  assert.ok(isNoop(p), describe(p))
})

test('a new pod gets a sandbox and all its containers', () => {
  const p = one(desired(), undefined)
  assert.equal(p.change, 'created')
  assert.ok(p.createSandbox && !p.killPod)
  assert.deepEqual(p.startContainers.map((s) => [s.container.name, s.attempt]), [['app', 0], ['side', 0]])
})

test('a changed container image replaces only that container and keeps the sandbox', () => {
  const d = desired((d) => {
    d.containers[0] = {...dc('app', 'h-app-2', 'busybox:v2'), spec: {name: 'app', image: 'busybox:v2'}}
    d.pod.spec!.containers[0] = d.containers[0].spec
  })
  const p = one(d, actual())
  assert.equal(p.change, 'configured')
  assert.ok(!p.createSandbox && !p.killPod)
  assert.equal(p.sandboxId, 'sb-1')
  assert.deepEqual(p.killContainers.map((k) => k.id), ['c-app'])
  assert.deepEqual(p.startContainers.map((s) => [s.container.name, s.attempt]), [['app', 1]])
  assert.deepEqual(p.changes, [{path: 'containers[app].image', from: 'busybox:1.35', to: 'busybox:v2', sandbox: false, effect: 'container'}])
  assert.ok(!p.recordSpec)
})

test('a changed pod-level config (hostPort) recreates the whole pod', () => {
  const d = desired((d) => {
    d.sandboxHash = 'sb2'
    d.pod.spec!.hostNetwork = true
  })
  const p = one(d, actual())
  assert.equal(p.change, 'configured')
  assert.ok(p.killPod && p.createSandbox)
  assert.equal(p.sandboxAttempt, 1)
  assert.deepEqual(p.startContainers.map((s) => [s.container.name, s.attempt]), [['app', 1], ['side', 1]])
  assert.deepEqual(p.changes.map((c) => c.path), ['hostNetwork'])
})

test('a recreated pod lists every change, each with what it takes', () => {
  const d = desired((d) => {
    d.sandboxHash = 'sb2'
    d.pod.spec!.hostNetwork = true
    d.pod.metadata!.labels = {tier: 'web'}
    d.containers[0] = {...dc('app', 'h-app-2', 'busybox:v2'), spec: {name: 'app', image: 'busybox:v2'}}
    d.pod.spec!.containers[0] = d.containers[0].spec
  })
  const p = one(d, actual())
  assert.ok(p.killPod && p.createSandbox)
  assert.deepEqual(
    p.changes.map((c) => [c.path, c.effect]),
    [['metadata.labels', 'none'], ['containers[app].image', 'container'], ['hostNetwork', 'pod']],
  )
})

test('an edit that restarts nothing (labels, a probe, restartPolicy) is kept as the pod record, nothing stops', () => {
  const d = desired((d) => {
    d.pod.metadata!.labels = {tier: 'web'}
    d.pod.spec!.restartPolicy = 'OnFailure'
    d.restartPolicy = 'OnFailure'
    const probe = {exec: {command: ['true']}, periodSeconds: 5}
    d.containers[0] = {...d.containers[0], spec: {...d.containers[0].spec, readinessProbe: probe}}
    d.pod.spec!.containers[0] = d.containers[0].spec
  })
  const p = one(d, actual())
  assert.equal(p.change, 'configured')
  assert.ok(p.recordSpec && !isNoop(p))
  assert.equal(p.killContainers.length + p.startContainers.length, 0)
  assert.deepEqual(
    p.changes.map((c) => [c.path, c.effect]),
    [['metadata.labels', 'none'], ['containers[app].readinessProbe', 'none'], ['restartPolicy', 'none']],
  )
  // Once recorded for this sandbox and these container hashes, the pod is up to date.
  const recorded = actual((a) => (a.record = {sandboxId: 'sb-1', hashes: {app: 'h-app', side: 'h-side'}, pod: d.pod}))
  const again = one(d, recorded)
  assert.equal(again.change, 'unchanged')
  assert.ok(isNoop(again))
  // A record of another sandbox (the pod was made again since) counts for nothing.
  const stale = actual((a) => (a.record = {sandboxId: 'sb-0', hashes: {app: 'h-app', side: 'h-side'}, pod: d.pod}))
  assert.ok(one(d, stale).recordSpec)
})

test('a container replaced after the record was kept is shown as its own annotation says', () => {
  const d = desired((d) => (d.pod.metadata!.labels = {tier: 'web'}))
  const a = actual((a) => {
    a.record = {sandboxId: 'sb-1', hashes: {app: 'h-app-old', side: 'h-side'}, pod: {...d.pod, spec: {...d.pod.spec!, containers: [{name: 'app', image: 'busybox:old'}, {name: 'side', image: 'busybox:1.35'}]}}}
  })
  const p = one(d, a)
  assert.equal(p.change, 'unchanged', JSON.stringify(p.changes))
})

test('activeDeadlineSeconds: a pod active longer is stopped for good; before that, its sync wakes at the deadline', () => {
  const d = desired((d) => (d.pod.spec!.activeDeadlineSeconds = 250))
  const early = one(d, actual((a) => (a.record = {sandboxId: 'sb-1', hashes: {app: 'h-app', side: 'h-side'}, pod: d.pod})))
  assert.ok(isNoop(early))
  assert.equal(early.requeueAfterMs, 50_000)
  const late = one(desired((d) => (d.pod.spec!.activeDeadlineSeconds = 100)), actual((a) => (a.containers[1].state = 'EXITED')))
  assert.deepEqual(late.killContainers.map((k) => [k.id, k.reason]), [['c-app', 'DeadlineExceeded']])
  assert.equal(late.startContainers.length, 0, 'the exited container is not restarted')
  assert.match(late.reason, /DeadlineExceeded/)
  // Its sandbox gone (a reboot): not made again.
  const gone = one(desired((d) => (d.pod.spec!.activeDeadlineSeconds = 100)), actual((a) => (a.sandboxes[0].state = 'NOTREADY')))
  assert.ok(!gone.createSandbox && !gone.killPod)
})

test('a sandbox that is not ready is recreated', () => {
  const p = one(desired(), actual((a) => (a.sandboxes[0].state = 'NOTREADY')))
  assert.ok(p.killPod && p.createSandbox)
})

test('after a power cut (sandbox NOTREADY, containers EXITED): brought back unless the pod had finished', () => {
  const cut = (codes: number[]) => (a: ActualPod) => {
    a.sandboxes[0].state = 'NOTREADY'
    a.containers.forEach((c, i) => Object.assign(c, exited(codes[i], 100n, 5n)))
  }
  const policy = (r: DesiredPod['restartPolicy']) => desired((d) => (d.restartPolicy = r))
  const cases: Array<[DesiredPod['restartPolicy'], number[], boolean]> = [
    ['Always', [0, 0], true],
    ['Always', [255, 255], true],
    ['OnFailure', [255, 0], true],
    ['OnFailure', [0, 0], false],
    ['Never', [0, 0], false],
    ['Never', [255, 1], false],
  ]
  for (const [r, codes, again] of cases) {
    const p = one(policy(r), actual(cut(codes)))
    assert.equal(p.createSandbox, again, `${r} ${codes}: ${describe(p)}`)
    if (!again) assert.ok(isNoop(p), `${r} ${codes}: nothing to do: ${describe(p)}`)
  }
  // A Never pod whose container still runs in a dead sandbox: the container is stopped, no new sandbox.
  const p = one(policy('Never'), actual((a) => (a.sandboxes[0].state = 'NOTREADY')))
  assert.equal(p.createSandbox, false)
  assert.deepEqual(p.killContainers.map((k) => k.id), ['c-app', 'c-side'])
})

test('a missing container is started in the existing sandbox', () => {
  const p = one(desired(), actual((a) => (a.containers = [a.containers[0]])))
  assert.equal(p.sandboxId, 'sb-1')
  assert.deepEqual(p.startContainers.map((s) => s.container.name), ['side'])
  assert.equal(p.change, 'unchanged')
})

test('a container created but never started is started, not recreated', () => {
  const p = one(desired(), actual((a) => (a.containers[1].state = 'CREATED')))
  assert.deepEqual(p.startExisting.map((s) => s.id), ['c-side'])
  assert.equal(p.startContainers.length, 0)
})

test('a container removed from the spec is stopped and removed', () => {
  const d = desired((d) => (d.containers = [d.containers[0]]))
  const p = one(d, actual())
  assert.deepEqual(p.killContainers, [{id: 'c-side', name: 'side', reason: 'removed from the spec', remove: true}])
})

test('a pod no longer desired is pruned only when in the prune scope', () => {
  assert.equal(plan([], [actual()], opts()).length, 0)
  const out = plan([], [actual()], opts({prune: (p) => p.source === 'apply'}))
  assert.equal(out.length, 1)
  assert.equal(out[0].change, 'pruned')
  assert.ok(out[0].killPod)
})

test('restartPolicy Always restarts a container that exited 0, at once the first time', () => {
  const p = one(desired(), actual((a) => Object.assign(a.containers[0], exited(0, 5n, 1n))))
  assert.deepEqual(p.startContainers.map((s) => [s.container.name, s.attempt, s.backoffStep]), [['app', 1, 1]])
})

test('restartPolicy OnFailure does not restart a container that exited 0', () => {
  const d = desired((d) => (d.restartPolicy = 'OnFailure'))
  const p = one(d, actual((a) => Object.assign(a.containers[0], exited(0, 5n, 1n))))
  assert.ok(isNoop(p))
})

test('restartPolicy OnFailure restarts a container that exited 1', () => {
  const d = desired((d) => (d.restartPolicy = 'OnFailure'))
  const p = one(d, actual((a) => Object.assign(a.containers[0], exited(1, 5n, 1n))))
  assert.equal(p.startContainers.length, 1)
})

test('restartPolicy Never leaves an exited container alone', () => {
  const d = desired((d) => (d.restartPolicy = 'Never'))
  const p = one(d, actual((a) => Object.assign(a.containers[0], exited(1, 5n, 1n))))
  assert.ok(isNoop(p))
})

test('a crash-looping container waits out its back-off and the plan asks to come back then', () => {
  // Started at step 2 (it had crashed twice): the next restart waits 20 s; 5 s have passed.
  const p = one(desired(), actual((a) => Object.assign(a.containers[0], exited(1, 2n, 5n, 2), {attempt: 2})))
  assert.equal(p.startContainers.length, 0)
  assert.equal(p.waiting[0].reason, 'CrashLoopBackOff')
  assert.equal(p.requeueAfterMs, 15_000)
})

test('once the back-off has passed the container restarts with the next step', () => {
  const p = one(desired(), actual((a) => Object.assign(a.containers[0], exited(1, 2n, 21n, 2), {attempt: 2})))
  assert.deepEqual(p.startContainers.map((s) => [s.attempt, s.backoffStep]), [[3, 3]])
})

test('back-off doubles from the initial delay up to the cap', () => {
  const delays = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(
    (step) => backoffFor({...ac('x', 'x', 'h'), ...exited(1, 1n, 0n, step)}, defaultBackoff).delayMs / 1000,
  )
  assert.deepEqual(delays, [0, 10, 20, 40, 80, 160, 300, 300, 300])
})

test('a container that ran longer than the reset period starts its back-off over', () => {
  const b = backoffFor({...ac('x', 'x', 'h'), ...exited(1, 700n, 0n, 6)}, defaultBackoff)
  assert.deepEqual(b, {step: 0, delayMs: 0})
})

test('old exited containers beyond the one kept for logs are removed', () => {
  const a = actual((a) => {
    a.containers = [
      ac('c-app-2', 'app', 'h-app', {attempt: 2}),
      ac('c-app-1', 'app', 'h-app', {...exited(1, 1n, 50n), attempt: 1}),
      ac('c-app-0', 'app', 'h-app', {...exited(1, 1n, 90n), attempt: 0}),
      ac('c-side', 'side', 'h-side'),
    ]
  })
  const p = one(desired(), a)
  assert.deepEqual(p.removeContainers, ['c-app-0'])
})

test('dead sandboxes other than the current one are removed', () => {
  const a = actual((a) => {
    a.sandboxes.push({...a.sandboxes[0], id: 'sb-0', state: 'NOTREADY', createdAt: NOW - 900n * S})
  })
  const p = one(desired(), a)
  assert.deepEqual(p.removeSandboxes, ['sb-0'])
})

test('init containers run one at a time before app containers', () => {
  const d = desired((d) => (d.initContainers = [dc('init-a', 'h-ia', 'busybox:1.35', true), dc('init-b', 'h-ib', 'busybox:1.35', true)]))
  const fresh = one(d, undefined)
  assert.deepEqual(fresh.startContainers.map((s) => s.container.name), ['init-a'])
  const a = actual((a) => (a.containers = [ac('c-ia', 'init-a', 'h-ia', exited(0, 1n, 1n))]))
  const next = one(d, a)
  assert.deepEqual(next.startContainers.map((s) => s.container.name), ['init-b'])
  const a2 = actual((a) => (a.containers = [ac('c-ia', 'init-a', 'h-ia', exited(0, 1n, 1n)), ac('c-ib', 'init-b', 'h-ib', exited(0, 1n, 1n))]))
  const apps = one(d, a2)
  assert.deepEqual(apps.startContainers.map((s) => s.container.name), ['app', 'side'])
})

test('a failed init container is retried unless restartPolicy is Never', () => {
  const d = desired((d) => (d.initContainers = [dc('init-a', 'h-ia', 'busybox:1.35', true)]))
  const a = actual((a) => (a.containers = [ac('c-ia', 'init-a', 'h-ia', exited(1, 1n, 1n))]))
  assert.equal(one(d, a).startContainers.length, 1)
  d.restartPolicy = 'Never'
  const never = one(d, a)
  assert.equal(never.startContainers.length, 0)
})

test('one pod per desired entry, in order, and prunable leftovers after them', () => {
  const d2 = desired((d) => {
    d.key = 'default/api'
    d.name = 'api'
  })
  const stray = actual((a) => {
    a.key = 'default/old'
    a.name = 'old'
  })
  const out = plan([desired(), d2], [actual(), stray], opts({prune: () => true}))
  assert.deepEqual(out.map((p) => [p.name, p.change]), [['web', 'unchanged'], ['api', 'created'], ['old', 'pruned']])
})

// ---- crash-loop back-off over time, with a fake clock: what a daemon's passes decide ----

/** Runs a crash loop: each started container runs `ranS` seconds and exits with `code`; a pass every second. */
function simulate(policy: DesiredPod['restartPolicy'], code: number, ranS: bigint, seconds: number, backoff = defaultBackoff): bigint[] {
  const d = desired((d) => {
    d.restartPolicy = policy
    d.containers = [d.containers[0]]
  })
  let c: ActualContainer = ac('c0', 'app', 'h-app', {...exited(code, ranS, 0n, 0), startedAt: NOW - ranS * S, finishedAt: NOW})
  const starts: bigint[] = []
  for (let t = 0n; t <= BigInt(seconds); t++) {
    const now = NOW + t * S
    const a = actual((a) => (a.containers = [c]))
    const p = one(d, a, {now, backoff})
    const s = p.startContainers[0]
    if (!s) continue
    starts.push(t)
    // The new container runs ranS seconds, then exits again.
    c = ac(`c${s.attempt}`, 'app', 'h-app', {
      attempt: s.attempt,
      state: 'EXITED',
      exitCode: code,
      startedAt: now,
      finishedAt: now + ranS * S,
      annotations: {[Annotation.backoffStep]: String(s.backoffStep)},
    })
    t += ranS
  }
  return starts
}

test('a crash loop under Always restarts at once, then after 10 s, 20 s, 40 s... capped at 5 min (fake clock)', () => {
  // Exits after 1 s each time; restarts at t=0, then the gap after each exit doubles.
  const starts = simulate('Always', 1, 1n, 1300)
  const gaps = starts.slice(1).map((t, i) => Number(t - starts[i]) - 1) // minus the 1 s it ran
  assert.deepEqual(gaps.slice(0, 8), [10, 20, 40, 80, 160, 300, 300, 300])
})

test('a container that ran longer than the reset period restarts at once, whatever its step (fake clock)', () => {
  const d = desired((d) => (d.containers = [d.containers[0]]))
  // Started at step 6 (5 min back-off), ran 11 minutes, exited 1 s ago.
  const a = actual((a) => (a.containers = [ac('c-app', 'app', 'h-app', {...exited(1, 660n, 1n, 6), attempt: 6})]))
  const p = one(d, a)
  assert.deepEqual(p.startContainers.map((s) => [s.attempt, s.backoffStep]), [[7, 1]])
  assert.equal(p.waiting.length, 0)
})

test('a short back-off policy (daemon flags) is honoured, and the requeue lands when it ends', () => {
  const b = {initialMs: 1000, maxMs: 4000, resetMs: 60_000}
  const starts = simulate('Always', 1, 0n, 30, b)
  assert.deepEqual(starts.slice(0, 6).map(Number), [0, 1, 3, 7, 11, 15])
  const p = one(desired(), actual((a) => Object.assign(a.containers[0], exited(1, 0n, 0n, 3), {attempt: 3})), {backoff: b})
  assert.equal(p.requeueAfterMs, 4000)
})

test('OnFailure: a failing container backs off like Always; a successful one is never restarted (fake clock)', () => {
  assert.deepEqual(simulate('OnFailure', 1, 1n, 40).map(Number), [0, 11, 32])
  assert.deepEqual(simulate('OnFailure', 0, 1n, 40), [])
})

test('Never: nothing restarts, whatever the exit code (fake clock)', () => {
  assert.deepEqual(simulate('Never', 1, 1n, 60), [])
  assert.deepEqual(simulate('Never', 0, 1n, 60), [])
})

test('Always restarts a container that completed (exit 0), with the same back-off', () => {
  assert.deepEqual(simulate('Always', 0, 1n, 40).map(Number), [0, 11, 32])
})

test('native sidecars: started in order, kept running, restarted whatever the policy; the app waits only for them to start', () => {
  const sidecar = (name: string, hash: string): DesiredContainer => ({name, hash, init: true, spec: {name, image: 'busybox:1.35', restartPolicy: 'Always'}})
  const withInits = desired((d) => {
    d.restartPolicy = 'Never'
    d.initContainers = [dc('setup', 'h-setup', 'busybox:1.35', true), sidecar('proxy', 'h-proxy'), sidecar('logs', 'h-logs')]
    d.containers = [dc('app', 'h-app')]
  })
  const setupDone = ac('c-setup', 'setup', 'h-setup', exited(0, 1n, 50n))
  const proxy = ac('c-proxy', 'proxy', 'h-proxy')
  const logs = ac('c-logs', 'logs', 'h-logs')
  const at = (containers: ActualContainer[]) => one(withInits, actual((a) => (a.containers = containers)))
  // After setup succeeded: the first sidecar starts, nothing else.
  assert.deepEqual(at([setupDone]).startContainers.map((s) => s.container.name), ['proxy'])
  // A running sidecar lets the next one start, and then the app.
  assert.deepEqual(at([setupDone, proxy]).startContainers.map((s) => s.container.name), ['logs'])
  assert.deepEqual(at([setupDone, proxy, logs]).startContainers.map((s) => s.container.name), ['app'])
  // A sidecar whose startup probe has not passed holds the next one back.
  const held = one(withInits, actual((a) => (a.containers = [setupDone, proxy])), {started: (id) => id !== 'c-proxy'})
  assert.deepEqual(held.startContainers, [])
  // Once the app runs, a sidecar that exited is restarted (with back-off), though the pod is Never.
  const app = ac('c-app', 'app', 'h-app')
  const crashed = ac('c-logs', 'logs', 'h-logs', exited(1, 100n, 1n))
  assert.deepEqual(at([setupDone, proxy, crashed, app]).startContainers.map((s) => [s.container.name, s.backoffStep]), [['logs', 1]])
  // The app has finished for good (Never): the sidecars are stopped, not restarted.
  const done = at([setupDone, proxy, crashed, ac('c-app', 'app', 'h-app', exited(0, 10n, 1n))])
  assert.deepEqual(done.startContainers, [])
  assert.deepEqual(done.killContainers.map((k) => k.name), ['proxy'])
  assert.match(done.reason, /the pod has finished: stopping sidecar proxy/)
})
