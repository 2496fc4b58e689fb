// The daemon's local API and metrics: endpoints and status codes, the Prometheus text format, the
// socket's permissions, loopback-only TCP, and the client side that `podrun get pods` uses.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import type {Pod} from 'kubernetes-types/core/v1.js'
import {ApiServer, type ApiSource} from '../../src/daemon/api.js'
import {fetchDaemonPods} from '../../src/daemon/client.js'
import {annotatePod, daemonExtras, MANIFEST_CONDITION, podFromDaemon} from '../../src/daemon/pod-status.js'
import {deleteRefusal} from '../../src/reconcile/ownership.js'
import {statusReason} from '../../src/reconcile/status.js'
import {DaemonMetrics, Histogram} from '../../src/daemon/metrics.js'
import {parseListen} from '../../src/daemon/options.js'
import type {DaemonPodInfo, DaemonStatus} from '../../src/daemon/view.js'
import {EventRing} from '../../src/daemon/view.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-api-'))
after(() => fs.rmSync(root, {recursive: true, force: true}))

function get(at: {socketPath: string} | {port: number}, p: string, method = 'GET'): Promise<{code: number; type: string; body: string}> {
  return new Promise((resolve, reject) => {
    const req = http.request({...at, host: '127.0.0.1', path: p, method}, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({code: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString()}))
    })
    req.on('error', reject)
    req.end()
  })
}

const status: DaemonStatus = {
  pid: 1,
  version: '0.1.0',
  manifestDir: '/etc/podrun/manifests',
  startedAt: '2026-01-01T00:00:00.000Z',
  runtime: {up: true, endpoint: 'unix:///run/containerd/containerd.sock', since: '2026-01-01T00:00:00.000Z', events: 'relisting'},
  ready: true,
  manifestErrors: {'/etc/podrun/manifests/web.yaml': ['/etc/podrun/manifests/web.yaml:3:1: YAML syntax error']},
  backoff: {initialMs: 1000, maxMs: 8000, resetMs: 60000},
}

const web: DaemonPodInfo = {
  key: 'default/web',
  name: 'web',
  namespace: 'default',
  source: '/etc/podrun/manifests/web.yaml',
  phase: 'Running',
  ready: true,
  status: 'Running',
  restarts: 0,
  waiting: {side: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"', until: '2026-01-01T00:00:10.000Z'}, main: {reason: 'CrashLoopBackOff', message: 'back-off 2s'}},
  manifestError: '/etc/podrun/manifests/web.yaml:3:1: YAML syntax error',
  manifestErrors: ['/etc/podrun/manifests/web.yaml:3:1: YAML syntax error'],
  frozen: true,
  events: [],
}

function source(over: Partial<ApiSource> = {}): ApiSource {
  return {
    healthy: () => ({ok: true}),
    ready: () => ({ok: false, reason: 'runtime unavailable: connection refused'}),
    metrics: () => 'podrun_up 1\n',
    pods: () => [web],
    status: () => status,
    ...over,
  }
}

describe('daemon API', () => {
  const socketPath = path.join(root, 'podrun.sock')
  const api = new ApiServer(source(), {socketPath, listen: {host: '127.0.0.1', port: 0}})
  after(() => api.close())

  it('listens on a socket only root can use, and on loopback TCP', async () => {
    await api.start()
    assert.equal(fs.statSync(socketPath).mode & 0o777, 0o600)
    assert.ok(api.port && api.port > 0)
    assert.equal((await get({port: api.port}, '/healthz')).code, 200)
  })

  it('answers /healthz 200 and /readyz 503 with the reason', async () => {
    const h = await get({socketPath}, '/healthz')
    assert.deepEqual([h.code, h.body], [200, 'ok\n'])
    const r = await get({socketPath}, '/readyz')
    assert.deepEqual([r.code, r.body], [503, 'runtime unavailable: connection refused\n'])
  })

  it('serves metrics as Prometheus text', async () => {
    const m = await get({socketPath}, '/metrics')
    assert.equal(m.code, 200)
    assert.match(m.type, /^text\/plain; version=0\.0\.4/)
    assert.equal(m.body, 'podrun_up 1\n')
  })

  it('serves the pods and one pod as JSON; 404 for an unknown one', async () => {
    const list = JSON.parse((await get({socketPath}, '/api/v1/pods')).body)
    assert.equal(list.kind, 'DaemonPodList')
    assert.deepEqual(list.pods, [web])
    assert.deepEqual(list.daemon, status)
    const one = await get({socketPath}, '/api/v1/pods/default/web')
    assert.deepEqual(JSON.parse(one.body), web)
    assert.equal((await get({socketPath}, '/api/v1/pods/default/nope')).code, 404)
    assert.equal((await get({socketPath}, '/api/v1/pods/%ZZ/x')).code, 400)
    assert.deepEqual(JSON.parse((await get({socketPath}, '/api/v1/status')).body), status)
  })

  it('is read-only and says what exists', async () => {
    assert.equal((await get({socketPath}, '/api/v1/pods', 'POST')).code, 405)
    const nf = await get({socketPath}, '/nothing')
    assert.equal(nf.code, 404)
    assert.match(nf.body, /\/healthz/)
  })

  it('is what `get pods` reads; no daemon means undefined, quickly', async () => {
    const list = await fetchDaemonPods(socketPath)
    assert.equal(list?.pods[0].key, 'default/web')
    const t0 = Date.now()
    assert.equal(await fetchDaemonPods(path.join(root, 'missing.sock')), undefined)
    assert.ok(Date.now() - t0 < 500)
  })

  it('removes its socket on close', async () => {
    const p = path.join(root, 'other.sock')
    const a = new ApiServer(source(), {socketPath: p})
    await a.start()
    await a.close()
    assert.ok(!fs.existsSync(p))
  })
})

describe('merging the daemon view into get pods', () => {
  it('passes image pull reasons and the daemon\'s back-off, not its crash-loop reasons (podFromRuntime computes those)', () => {
    const e = daemonExtras({kind: 'DaemonPodList', daemon: status, pods: [web]}, web)
    assert.deepEqual(e.backoff, status.backoff)
    assert.deepEqual(e.waiting, {side: {reason: 'ImagePullBackOff', message: 'Back-off pulling image "x"'}})
  })

  it('shows a broken manifest as a condition and the pod\'s message', () => {
    const pod: Pod = {status: {phase: 'Running', conditions: [{type: 'Ready', status: 'True'}]}}
    annotatePod(pod, web)
    assert.deepEqual(pod.status?.conditions?.map((c) => [c.type, c.status, c.reason]), [
      ['Ready', 'True', undefined],
      [MANIFEST_CONDITION, 'False', 'ManifestInvalid'],
    ])
    assert.match(pod.status?.message ?? '', /^manifest invalid, running the last good version: .*web\.yaml:3:1: YAML syntax error$/)
  })

  it('leaves a pod alone when the daemon does not know it', () => {
    const pod: Pod = {status: {phase: 'Running'}}
    annotatePod(pod, undefined)
    assert.deepEqual(pod, {status: {phase: 'Running'}})
  })

  it('a pod the runtime does not have is Pending, its containers being created, with the daemon\'s last error', () => {
    const info: DaemonPodInfo = {
      key: 'default/nosb', name: 'nosb', namespace: 'default', source: '/m/nosb.yaml', phase: 'Pending', ready: false, status: 'ContainerCreating', restarts: 0,
      waiting: {}, events: [], lastError: {time: '2026-01-01T00:00:00Z', reason: 'Error', message: 'RunPodSandbox: no runtime for "x" is configured'},
      absent: {initContainers: [], containers: [{name: 'a', image: 'img:1'}, {name: 'b', image: 'img:2'}]},
    }
    const pod = podFromDaemon(info, 'node1')!
    annotatePod(pod, info)
    assert.equal(pod.status?.phase, 'Pending')
    assert.equal(statusReason(pod), 'ContainerCreating')
    assert.deepEqual(pod.status?.containerStatuses?.map((c) => [c.name, c.image, c.ready]), [['a', 'img:1', false], ['b', 'img:2', false]])
    assert.equal(pod.spec?.nodeName, 'node1')
    assert.match(pod.status?.message ?? '', /no runtime for "x"/)
    // Behind init containers (kubectl: Init:0/1), and with a pull failure the daemon knows.
    const init = podFromDaemon({...info, waiting: {}, absent: {initContainers: [{name: 'i', image: 'img:0'}], containers: [{name: 'a', image: 'img:1'}]}}, 'n')!
    assert.equal(statusReason(init), 'Init:ContainerCreating')
    const pull = podFromDaemon({...info, waiting: {a: {reason: 'ErrImagePull', message: 'not found'}}}, 'n')!
    assert.equal(statusReason(pull), 'ErrImagePull')
    assert.equal(pull.status?.containerStatuses?.[0].state?.waiting?.reason, 'ErrImagePull')
    // Nothing for pods the runtime has, or that belong to someone else.
    assert.equal(podFromDaemon({...info, absent: undefined}, 'n'), undefined)
    assert.equal(podFromDaemon({...info, conflict: 'apply'}, 'n'), undefined)
  })
})

describe('podrun delete and a daemon\'s pods', () => {
  it('refuses pods whose source is a manifest file, naming it; others may go', () => {
    assert.match(deleteRefusal({key: 'default/web', source: '/etc/podrun/manifests/web.yaml'}) ?? '', /run by a podrun daemon from \/etc\/podrun\/manifests\/web\.yaml: remove that file/)
    assert.match(deleteRefusal({key: 'default/web', source: 'https://config.example/gw.yaml'}) ?? '', /run by a podrun daemon from https:\/\/config\.example\/gw\.yaml: remove it from the manifests served there/)
    assert.equal(deleteRefusal({key: 'default/web', source: 'apply'}), undefined)
    assert.equal(deleteRefusal({key: 'default/web', source: ''}), undefined)
  })
})

describe('--listen', () => {
  it('takes loopback addresses only', () => {
    assert.deepEqual(parseListen('127.0.0.1:9464'), {host: '127.0.0.1', port: 9464})
    assert.deepEqual(parseListen(':9464'), {host: '127.0.0.1', port: 9464})
    assert.deepEqual(parseListen('9464'), {host: '127.0.0.1', port: 9464})
    assert.deepEqual(parseListen('[::1]:9464'), {host: '::1', port: 9464})
    assert.deepEqual(parseListen('localhost:1'), {host: '127.0.0.1', port: 1})
    assert.throws(() => parseListen('0.0.0.0:9464'), /loopback only/)
    assert.throws(() => parseListen('192.168.1.2:9464'), /loopback only/)
    assert.throws(() => parseListen('127.0.0.1:99999'), /invalid --listen/)
    assert.throws(() => parseListen('nonsense'), /invalid --listen/)
  })
})

describe('metrics text', () => {
  it('renders counters, gauges and histograms with HELP, TYPE, escaped labels and cumulative buckets', () => {
    const m = new DaemonMetrics()
    m.onCall('ListPodSandbox', 'OK', 2)
    m.onCall('ListPodSandbox', 'OK', 30)
    m.onCall('RunPodSandbox', 'UNAVAILABLE', 1)
    m.syncs.inc({result: 'ok'})
    m.syncDuration.observe({}, 0.02)
    m.pods.reset([{labels: {phase: 'Running'}, value: 3}])
    m.manifestErrors.reset([{labels: {file: '/etc/podrun/manifests/a "b".yaml'}, value: 2}])
    m.restarts.reset([{labels: {namespace: 'default', pod: 'web', container: 'main'}, value: 4}])
    const text = m.render()
    const lines = text.split('\n')
    for (const name of [
      'podrun_pod_syncs_total',
      'podrun_pod_sync_duration_seconds',
      'podrun_cri_calls_total',
      'podrun_cri_call_duration_seconds',
      'podrun_pods',
      'podrun_container_restarts_total',
      'podrun_manifest_errors',
      'podrun_runtime_up',
      // Every metric the daemon holds is served, those set by the garbage collector and the sources too.
      'podrun_garbage_removed_total',
      'podrun_image_fs_usage_ratio',
      'podrun_manifest_unverified_total',
      'podrun_source_fetches_total',
      'podrun_source_from_cache',
      'podrun_pod_info',
    ]) {
      assert.ok(lines.some((l) => l.startsWith(`# HELP ${name} `)), name)
      assert.ok(lines.some((l) => l.startsWith(`# TYPE ${name} `)), name)
    }
    assert.ok(lines.includes('# TYPE podrun_pod_sync_duration_seconds histogram'))
    assert.ok(lines.includes('podrun_pod_syncs_total{result="ok"} 1'))
    assert.ok(lines.includes('podrun_cri_calls_total{method="ListPodSandbox",code="OK"} 2'))
    assert.ok(lines.includes('podrun_cri_calls_total{method="RunPodSandbox",code="UNAVAILABLE"} 1'))
    assert.ok(lines.includes('podrun_cri_call_duration_seconds_bucket{method="ListPodSandbox",le="0.0025"} 1'))
    assert.ok(lines.includes('podrun_cri_call_duration_seconds_bucket{method="ListPodSandbox",le="+Inf"} 2'))
    assert.ok(lines.includes('podrun_cri_call_duration_seconds_count{method="ListPodSandbox"} 2'))
    assert.ok(lines.includes('podrun_cri_call_duration_seconds_sum{method="ListPodSandbox"} 0.032'))
    assert.ok(lines.includes('podrun_pods{phase="Running"} 3'))
    assert.ok(lines.includes('podrun_manifest_errors{file="/etc/podrun/manifests/a \\"b\\".yaml"} 2'))
    assert.ok(lines.includes('podrun_container_restarts_total{namespace="default",pod="web",container="main"} 4'))
    // The process's own figures, under the names Prometheus client libraries use.
    const value = (name: string) => Number(lines.find((l) => l.startsWith(`${name} `))?.split(' ')[1])
    const rss = value('process_resident_memory_bytes')
    assert.ok(rss > 10e6 && rss < 10e9, `rss ${rss}`)
    assert.ok(value('process_cpu_seconds_total') > 0)
    assert.ok(lines.includes('# TYPE process_cpu_seconds_total counter'))
    assert.ok(value('nodejs_heap_size_used_bytes') > 0 && value('nodejs_heap_size_used_bytes') <= value('nodejs_heap_size_total_bytes'))
    assert.ok(value('nodejs_external_memory_bytes') > 0)
    assert.ok(text.endsWith('\n'))
    // Every sample line is "name{labels} value".
    for (const l of lines.filter((l) => l && !l.startsWith('#'))) assert.match(l, /^[a-z_]+(\{.*\})? [-+0-9.eInfNa]+$/, l)
  })

  it('histogram buckets are cumulative', () => {
    const h = new Histogram('x_seconds', 'x', [0.1, 1])
    h.observe({}, 0.05)
    h.observe({}, 0.5)
    h.observe({}, 5)
    assert.deepEqual(h.samples(), ['x_seconds_bucket{le="0.1"} 1', 'x_seconds_bucket{le="1"} 2', 'x_seconds_bucket{le="+Inf"} 3', 'x_seconds_sum 5.55', 'x_seconds_count 3'])
  })
})

describe('events', () => {
  it('keeps the last 20 distinct events, a repeat counted with its first and last times and moved last', () => {
    const r = new EventRing(20)
    for (let i = 0; i < 25; i++) r.add({time: `t${i}`, type: 'Normal', reason: 'Started', message: `m${i}`})
    r.add({time: 'x', type: 'Normal', reason: 'Started', message: 'm24'})
    r.add({time: 'y', type: 'Normal', reason: 'Started', message: 'm10'})
    const l = r.list()
    assert.equal(l.length, 20)
    assert.equal(l[0].message, 'm5')
    assert.deepEqual([l[18].message, l[18].count, l[18].firstTime, l[18].time], ['m24', 2, 't24', 'x'])
    assert.deepEqual([l[19].message, l[19].count, l[19].firstTime, l[19].time], ['m10', 2, 't10', 'y'])
  })
})

describe('the systemd unit', () => {
  it('gives a stop room for the pods\' default grace period and the daemon\'s own call timeout', () => {
    const unit = fs.readFileSync(new URL('../../contrib/podrun.service', import.meta.url), 'utf8')
    const m = /^TimeoutStopSec=(\d+)s$/m.exec(unit)
    assert.ok(m, 'TimeoutStopSec set in seconds')
    // --stop-pods-on-exit: one grace period for every pod at once (30 s by default), the call
    // timeout for a sync in flight (10 s), and the runtime's teardown.
    assert.ok(Number(m[1]) >= 30 + 10 + 15, `TimeoutStopSec=${m[1]}s`)
    assert.match(unit, /^KillMode=process$/m)
  })
})
