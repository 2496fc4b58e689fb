// `podrun daemon --manifest-url` end to end, against the real containerd and an HTTPS server this
// test starts on 127.0.0.1 (a CA made here), serving signed bodies with ETags: pods from the URL
// come up; an unchanged poll is a 304; an edit rolls out; a tampered body, a body signed by a key
// not given, and a privileged pod change nothing and are reported; two keys allow rotation; a
// daemon started with the server down runs the cached pods and says so.
//
// Needs: `bash scripts/runtime.sh up`, `eval "$(bash scripts/runtime.sh env)"`, `npm run build`.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import type {DaemonPodList} from '../../src/daemon/view.js'
import type {SourceInfo} from '../../src/daemon/sources.js'
import {runPodrun} from '../support/cli.js'
import {daemonWorkspace} from '../support/daemon-workspace.js'
import {makeSigningKey, makeTls, signText} from '../support/signed-https.js'
import {getOverSocket, waitFor as pollUntil} from '../support/wait.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const image2 = process.env.PODRUN_TEST_IMAGE_V2
const {ns, work, stateDir, socket, daemonLog, env} = daemonWorkspace('fleet')
const RUNNING = 1

// Containers whose PID 1 ignores SIGTERM (sleep), with a grace period: a replacement waits it out.
const pod = (name: string, o: {image?: string; extra?: string} = {}) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 2
${o.extra ?? ''}  containers:
    - {name: main, image: ${o.image ?? image}, command: [sleep, '3600']}
`

describe('daemon --manifest-url: signed, polled, cached, against the real runtime', {concurrency: false, timeout: 300_000}, () => {
  let cri: CriClient
  let server: https.Server
  let port = 0
  let tls: {ca: string; key: string; cert: string}
  let daemon: ChildProcess | undefined
  /** What the server serves, and every request it answered (path, status). */
  const served = new Map<string, string>()
  const requests: Array<{path: string; status: number}> = []
  const url = () => `https://127.0.0.1:${port}/fleet.yaml`

  const publish = (text: string, key: string) => {
    served.set('/fleet.yaml', text)
    served.set('/fleet.yaml.sig', signText(work, text, key))
  }

  const listen = () =>
    new Promise<void>((resolve) => {
      server = https.createServer({key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert)}, (req, res) => {
        const body = served.get(req.url ?? '')
        if (body === undefined) {
          requests.push({path: req.url ?? '', status: 404})
          return void res.writeHead(404).end()
        }
        const etag = `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 20)}"`
        const status = req.headers['if-none-match'] === etag ? 304 : 200
        requests.push({path: req.url ?? '', status})
        res.writeHead(status, {etag, 'content-type': 'application/yaml'}).end(status === 304 ? undefined : body)
      })
      server.listen(port, '127.0.0.1', () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
  const closeServer = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })

  const startDaemon = () => {
    const out = fs.openSync(daemonLog, 'a')
    daemon = spawn(
      process.execPath,
      [
        path.join(root, 'bin/run.js'),
        'daemon',
        '--state-dir',
        stateDir,
        '--manifest-url',
        url(),
        '--manifest-url-ca',
        tls.ca,
        '--verify-key',
        path.join(work, 'k1.pub'),
        '--verify-key',
        path.join(work, 'k2.pub'),
        '--url-check-period',
        '1s',
        '--relist-period',
        '300ms',
        '--resync-period',
        '3s',
      ],
      {env, cwd: root, stdio: ['ignore', out, out]},
    )
    fs.closeSync(out)
  }
  const stopDaemon = async () => {
    const d = daemon
    daemon = undefined
    if (!d || d.exitCode !== null) return
    const gone = new Promise((r) => d.once('exit', r))
    d.kill('SIGTERM')
    await gone
  }

  const tail = () => {
    try {
      return `--- daemon log (tail) ---\n${fs.readFileSync(daemonLog, 'utf8').split('\n').slice(-30).join('\n')}`
    } catch {
      return ''
    }
  }
  const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 60_000): Promise<T> => pollUntil(what, fn, ms, 200, tail)
  const api = async <T>(p: string): Promise<T | undefined> => {
    const r = await getOverSocket(socket, p)
    return r.code === 200 ? (JSON.parse(r.body) as T) : undefined
  }
  const source = async () => (await api<{items: SourceInfo[]}>('/api/v1/sources'))?.items[0]
  const metrics = async () => (await getOverSocket(socket, '/metrics')).body
  const running = async (name: string) => {
    const cs = await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name}, state: {state: RUNNING}})
    return cs[0]
  }
  const onImage2 = async (name: string) => {
    const c = await running(name)
    return !!c && (c.image?.image === image2 || c.image?.userSpecifiedImage === image2)
  }

  before(async () => {
    assert.ok(endpoint && image && image2, 'run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
    tls = makeTls(work)
    for (const k of ['k1', 'k2', 'k3']) makeSigningKey(work, k)
    await listen()
  })

  after(async () => {
    await stopDaemon()
    await closeServer().catch(() => undefined)
    // The pods are the URL's: remove them through the runtime as a reboot would.
    for (const s of await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns}})) {
      await cri.stopPodSandbox(s.id).catch(() => undefined)
      await cri.removePodSandbox(s.id).catch(() => undefined)
    }
    cri?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  it('runs the pods of a signed URL; shows the source in get pods -o wide, /metrics and /api/v1/sources', async () => {
    publish(pod('fleet-a') + '---\n' + pod('fleet-b'), 'k1')
    startDaemon()
    await waitFor('fleet-a and fleet-b running', async () => (await running('fleet-a')) && (await running('fleet-b')))
    const wide = await runPodrun(env, ['get', 'pods', '-n', ns, '-o', 'wide'], 30_000)
    assert.equal(wide.code, 0, wide.stderr)
    assert.match(wide.stdout, /SOURCE/)
    assert.match(wide.stdout.split('\n').find((l) => l.startsWith('fleet-a '))!, new RegExp(url().replace(/[.?]/g, '\\$&')))
    assert.match(await metrics(), new RegExp(`podrun_pod_info\\{namespace="${ns}",pod="fleet-a",source="${url().replace(/[.]/g, '\\.')}"\\} 1`))
    const s = await waitFor('the source seen fetched', async () => {
      const x = await source()
      return x?.lastSuccess !== undefined && x
    })
    assert.equal(s.kind, 'url')
    assert.equal(s.name, url())
    assert.equal(s.fromCache, false)
    assert.ok(s.etag, JSON.stringify(s))
    assert.deepEqual(s.errors, [])
    // The pods are the URL's: delete leaves them alone unless forced, and says where they come from.
    const del = await runPodrun(env, ['delete', 'pod', 'fleet-a', '-n', ns], 30_000)
    assert.equal(del.code, 3, del.stdout + del.stderr)
    assert.match(del.stderr, /is run by a podrun daemon from https:\/\/127\.0\.0\.1:\d+\/fleet\.yaml: remove it from the manifests served there/)
  })

  it('an unchanged poll is a 304', async () => {
    const before = requests.length
    await waitFor('two more polls answered 304', () => requests.slice(before).filter((r) => r.path === '/fleet.yaml' && r.status === 304).length >= 2)
    // The signature is fetched only with a new body.
    assert.equal(requests.slice(before).filter((r) => r.path === '/fleet.yaml.sig').length, 0)
    const s = (await source())!
    assert.equal(s.lastResult, 'not-modified')
    assert.ok((s.fetches?.['not-modified'] ?? 0) >= 2)
    assert.match(await metrics(), new RegExp(`podrun_source_fetches_total\\{source="[^"]+",result="not-modified"\\} [1-9]`))
  })

  it('an edit on the server rolls out', async () => {
    publish(pod('fleet-a') + '---\n' + pod('fleet-b', {image: image2}), 'k1')
    await waitFor('fleet-b on the new image', () => onImage2('fleet-b'))
    assert.ok(await running('fleet-a'))
  })

  it('a tampered body and a body signed by a key not given change nothing, and are reported', async () => {
    const a = await running('fleet-a')
    const good = served.get('/fleet.yaml')!
    // Tampered: a pod slipped in, the old signature kept.
    served.set('/fleet.yaml', good + '---\n' + pod('fleet-evil'))
    const s = await waitFor('the tampered body refused', async () => {
      const x = await source()
      return x?.lastResult === 'refused' && x
    })
    assert.match(s.errors[0], /signature refused: the signature does not match the content/)
    assert.match(await metrics(), /podrun_manifest_unverified_total\{source="[^"]+"\} 1/)
    const info = await api<DaemonPodList>('/api/v1/pods')
    const events = info!.pods.find((p) => p.key === `${ns}/fleet-a`)!.events
    assert.ok(events.some((e) => e.reason === 'ManifestUnverified'), JSON.stringify(events))
    // Signed by k3, which the daemon was not given.
    publish(good + '---\n' + pod('fleet-evil'), 'k3')
    await waitFor('the other key refused', async () => (await source())?.errors[0]?.includes('not one of --verify-key'))
    await new Promise((r) => setTimeout(r, 2500)) // more polls: still nothing
    assert.equal(await running('fleet-evil'), undefined)
    assert.equal((await running('fleet-a'))?.id, a.id, 'fleet-a untouched')
  })

  it('key rotation: a body signed by the second key rolls out', async () => {
    publish(pod('fleet-a', {extra: '  hostname: rotated\n'}) + '---\n' + pod('fleet-b', {image: image2}), 'k2')
    await waitFor('fleet-a replaced with the new hostname', async () => {
      const c = await running('fleet-a')
      return c && (await hostnameIs(c.id, 'rotated').catch(() => false))
    })
    assert.deepEqual((await source())!.errors, [])
  })

  const hostnameIs = async (id: string, name: string) => {
    const r = await cri.execSync(id, ['hostname'], 10)
    return r.stdout.toString().trim() === name
  }

  it('a privileged pod from the URL is refused under the default level; the rest keeps running', async () => {
    const b = await running('fleet-b')
    publish(served.get('/fleet.yaml')! + '---\n' + pod('fleet-priv', {extra: '  hostPID: true\n'}), 'k2')
    const s = await waitFor('the privileged pod refused', async () => {
      const x = await source()
      return x?.errors.some((e) => /hostPID/.test(e)) && x
    })
    assert.match(s.errors.join('\n'), /refused by --manifest-url-pod-security=baseline/)
    assert.equal(s.podSecurity, 'baseline')
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal(await running('fleet-priv'), undefined)
    assert.equal((await running('fleet-b'))?.id, b.id)
  })

  it('with the server down at start, a new daemon runs the cached pods (the last good body), and says so', async () => {
    await stopDaemon()
    // A reboot: the pods are gone, and the server is down.
    for (const sb of await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns}})) {
      await cri.stopPodSandbox(sb.id)
      await cri.removePodSandbox(sb.id)
    }
    await closeServer()
    startDaemon()
    await waitFor('fleet-a and fleet-b running from the cache', async () => (await running('fleet-a')) && (await running('fleet-b')))
    assert.ok(await hostnameIs((await running('fleet-a'))!.id, 'rotated'), 'the last good version (the rotated one), not the privileged one')
    assert.ok(await onImage2('fleet-b'))
    assert.equal(await running('fleet-priv'), undefined)
    const s = (await source())!
    assert.equal(s.fromCache, true)
    assert.ok(s.lastError, JSON.stringify(s))
    assert.match(await metrics(), /podrun_source_from_cache\{source="[^"]+"\} 1/)
    // The server back: the cached copy is confirmed (its ETag gives a 304 when unchanged).
    served.set('/fleet.yaml', served.get('/fleet.yaml')!) // still the privileged body: a 200, refused as before
    await listen()
    await waitFor('the server seen again', async () => (await source())?.fromCache === false)
    assert.match(await metrics(), /podrun_source_from_cache\{source="[^"]+"\} 0/)
  })
})
