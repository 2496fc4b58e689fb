// podrun apply / diff / delete end to end: the built CLI against the real containerd that
// scripts/runtime.sh starts, checked with the runtime's own listing and ExecSync.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {runPodrun, type Run} from '../support/cli.js'
import {podYaml, type PodYamlOptions} from '../support/pod-yaml.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const image2 = process.env.PODRUN_TEST_IMAGE_V2
const ns = `e2e-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-apply-'))
const env = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs')}
// Host ports unlikely to be in use, different per run.
const port = 20000 + (process.pid % 10000)
// The pods of 'set' publish host ports, which the baseline pod security level allows only when listed.
const HOST_PORTS = ['--allowed-host-ports', `${port}-${port + 1}`]

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 180_000)

const ns2 = `${ns}-x`

const pod = (name: string, o: Partial<PodYamlOptions> = {}): string => podYaml(name, {namespace: ns, image: image!, cmd: 'echo started; exec sleep 3600', ...o})

function write(dir: string, files: Record<string, string>): string {
  const d = path.join(work, dir)
  fs.rmSync(d, {recursive: true, force: true})
  fs.mkdirSync(d, {recursive: true})
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(d, f), text)
  return d
}

async function ours(cri: CriClient, namespace = ns) {
  const sandboxes = await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': namespace}})
  const containers = await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': namespace}})
  return {sandboxes, containers}
}

describe('apply, diff and delete against the real runtime', {concurrency: false}, () => {
  let cri: CriClient
  before(async () => {
    assert.ok(endpoint && image && image2, 'CONTAINER_RUNTIME_ENDPOINT, PODRUN_TEST_IMAGE, PODRUN_TEST_IMAGE_V2 must be set: run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    assert.ok(fs.existsSync(path.join(root, 'dist/commands/apply.js')), 'podrun is not built: run `npm run build`')
    cri = await connectCri({endpoint})
  })
  after(async () => {
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0')
    await podrun('delete', 'pods', '--all', '-n', ns2, '--grace-period', '0')
    cri?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  it('applies several pods and they all run', async () => {
    const dir = write('set', {'a.yaml': pod('alpha', {hostPort: port}), 'b.yaml': pod('beta'), 'c.yaml': pod('gamma')})
    const r = await podrun('apply', '-f', dir, ...HOST_PORTS)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /pod\/alpha created/)
    const {sandboxes, containers} = await ours(cri)
    assert.equal(sandboxes.length, 3)
    assert.equal(containers.filter((c) => c.state === 1).length, 3)
    for (const c of containers) {
      const out = await cri.execSync(c.id, ['sh', '-c', 'echo ok'], 10)
      assert.equal(out.stdout.toString().trim(), 'ok')
    }
    const get = await podrun('get', 'pods', '-n', ns)
    assert.match(get.stdout, /alpha\s+1\/1\s+Running/)
  })

  it('get pods -o json prints a v1 List of Kubernetes-shaped pods (a contract)', async () => {
    const r = await podrun('get', 'pods', '-n', ns, '-o', 'json')
    assert.equal(r.code, 0, r.stderr)
    const list = JSON.parse(r.stdout)
    assert.equal(list.apiVersion, 'v1')
    assert.equal(list.kind, 'List')
    const alpha = list.items.find((p: {metadata: {name: string}}) => p.metadata.name === 'alpha')
    assert.equal(alpha.kind, 'Pod')
    assert.equal(alpha.metadata.namespace, ns)
    assert.match(alpha.metadata.uid, /^[0-9a-f-]{36}$/)
    assert.equal(alpha.spec.containers[0].name, 'main')
    assert.equal(alpha.status.phase, 'Running')
    assert.match(alpha.status.podIP, /^\d+\.\d+\.\d+\.\d+$/)
    const types = alpha.status.conditions.map((c: {type: string; status: string}) => `${c.type}=${c.status}`)
    for (const t of ['Initialized=True', 'Ready=True', 'ContainersReady=True', 'PodScheduled=True']) assert.ok(types.includes(t), t)
    const cs = alpha.status.containerStatuses[0]
    assert.equal(cs.name, 'main')
    assert.equal(cs.ready, true)
    assert.equal(cs.restartCount, 0)
    assert.ok(cs.state.running.startedAt)
    assert.match(cs.containerID, /^containerd:\/\/[0-9a-f]{64}$/)
    assert.equal(cs.image, image)
    assert.match(cs.imageID, /^sha256:/)
    const y = await podrun('get', 'pods', 'alpha', '-n', ns, '-o', 'yaml')
    assert.match(y.stdout, /^apiVersion: v1\nkind: Pod\n/)
    const names = await podrun('get', 'pods', '-n', ns, '-o', 'name')
    assert.deepEqual(names.stdout.trim().split('\n').sort(), ['pod/alpha', 'pod/beta', 'pod/gamma'])
  })

  it('applying the same manifests again makes no mutating call and keeps the containers', async () => {
    const before = (await ours(cri)).containers.map((c) => c.id).sort()
    const r = await podrun('apply', '-f', path.join(work, 'set'), ...HOST_PORTS, '-o', 'json')
    assert.equal(r.code, 0, r.stderr)
    const out = JSON.parse(r.stdout)
    assert.equal(out.mutations, 0)
    assert.ok(out.pods.every((p: {change: string}) => p.change === 'unchanged'))
    assert.deepEqual((await ours(cri)).containers.map((c) => c.id).sort(), before)
    const d = await podrun('diff', '-f', path.join(work, 'set'), ...HOST_PORTS)
    assert.equal(d.code, 0, d.stdout + d.stderr)
  })

  it('a changed image replaces only that container; the sandbox and its IP stay', async () => {
    const sb = (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.name': 'beta', 'io.kubernetes.pod.namespace': ns}}))[0]
    const ip = (await cri.podSandboxStatus(sb.id)).status?.network?.ip
    fs.writeFileSync(path.join(work, 'set', 'b.yaml'), pod('beta', {image: image2}))
    const d = await podrun('diff', '-f', path.join(work, 'set'), ...HOST_PORTS)
    assert.equal(d.code, 1)
    assert.match(d.stdout, /containers\[main\]\.image: .*busybox:1\.35 -> .*busybox:v2/)
    const r = await podrun('apply', '-f', path.join(work, 'set'), ...HOST_PORTS)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /pod\/beta configured/)
    assert.match(r.stdout, /pod\/alpha unchanged/)
    const after = await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.name': 'beta', 'io.kubernetes.pod.namespace': ns}})
    assert.deepEqual(after.map((s) => s.id), [sb.id])
    assert.equal((await cri.podSandboxStatus(sb.id)).status?.network?.ip, ip)
    const running = (await cri.listContainers({podSandboxId: sb.id})).filter((c) => c.state === 1)
    assert.equal(running.length, 1)
    assert.equal(running[0].metadata?.attempt, 1)
  })

  it('a changed hostPort recreates the pod', async () => {
    const old = (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.name': 'alpha', 'io.kubernetes.pod.namespace': ns}}))[0]
    fs.writeFileSync(path.join(work, 'set', 'a.yaml'), pod('alpha', {hostPort: port + 1}))
    const r = await podrun('apply', '-f', path.join(work, 'set'), ...HOST_PORTS)
    assert.equal(r.code, 0, r.stderr)
    const now = await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.name': 'alpha', 'io.kubernetes.pod.namespace': ns}})
    assert.equal(now.length, 1)
    assert.notEqual(now[0].id, old.id)
  })

  it('a pod with a missing image fails with a clear message while the others come up', async () => {
    const dir = write('mixed', {
      'ok.yaml': pod('delta', {namespace: ns2}),
      'bad.yaml': pod('broken', {namespace: ns2, image: `${process.env.PODRUN_REGISTRY}/podrun/nosuch:1`}),
    })
    const r = await podrun('apply', '-f', dir)
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /broken.*pull image .*nosuch:1.*not found/)
    const delta = await cri.listContainers({labelSelector: {'io.kubernetes.pod.name': 'delta', 'io.kubernetes.pod.namespace': ns2}})
    assert.equal(delta.filter((c) => c.state === 1).length, 1)
    // -o json: exactly one JSON document, with each pod's outcome and the error.
    const j = await podrun('apply', '-f', dir, '-o', 'json', '--wait-timeout', '20s')
    assert.equal(j.code, 3, j.stdout + j.stderr)
    const doc = JSON.parse(j.stdout) as {pods: Array<{name: string; ok: boolean; status: string}>; error: {reason: string; exitCode: number}}
    assert.deepEqual(doc.pods.map((p) => [p.name, p.ok]).sort(), [['broken', false], ['delta', true]])
    assert.equal(doc.error.reason, 'PodsFailed')
    assert.equal(doc.error.exitCode, 3)
  })

  it('--prune removes exactly the pods whose manifests are gone, within the manifests\' namespaces', async () => {
    fs.rmSync(path.join(work, 'set', 'c.yaml'))
    const d = await podrun('diff', '-f', path.join(work, 'set'), ...HOST_PORTS, '--prune')
    assert.equal(d.code, 1)
    assert.match(d.stdout, /pod\/gamma -n \S+: pruned/)
    const r = await podrun('apply', '-f', path.join(work, 'set'), ...HOST_PORTS, '--prune')
    assert.equal(r.code, 0, r.stderr)
    const names = new Set((await ours(cri)).sandboxes.map((s) => s.labels['io.kubernetes.pod.name']))
    assert.deepEqual([...names].sort(), ['alpha', 'beta'])
    const other = new Set((await ours(cri, ns2)).sandboxes.map((s) => s.labels['io.kubernetes.pod.name']))
    assert.deepEqual([...other].sort(), ['broken', 'delta'])
  })

  it('--atomic puts back the Ready version of a pod whose edit does not run, and removes a new pod that does not', async () => {
    const missing = image!.replace(/:[^:/]+$/, ':no-such-tag')
    const good = pod('atom', {terminationGracePeriodSeconds: 1})
    const dir = write('atomic', {'p.yaml': good})
    assert.equal((await podrun('apply', '-f', dir)).code, 0)
    const bad = write('atomic-bad', {'p.yaml': good.replace(image!, missing), 'new.yaml': pod('atom-new', {image: missing})})
    const r = await podrun('apply', '-f', bad, '--atomic', '--wait-timeout', '30s')
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stdout, /^pod\/atom rolled back$/m)
    assert.match(r.stdout, /^pod\/atom-new removed$/m)
    assert.match(r.stderr, /--atomic put them back/)
    const running = (await ours(cri)).containers.filter((c) => c.labels['io.kubernetes.pod.name'] === 'atom' && c.state === 1)
    assert.equal(running.length, 1)
    assert.equal(running[0].image?.image, image, 'the old image runs again')
    assert.equal((await ours(cri)).sandboxes.filter((s) => s.metadata?.name === 'atom-new').length, 0)
    // What runs and what is recorded is the good version: diff against it is clean, against the bad one not.
    assert.equal((await podrun('diff', '-f', dir)).code, 0)
    assert.equal((await podrun('diff', '-f', path.join(bad, 'p.yaml'))).code, 1)
    assert.match(fs.readFileSync(path.join(work, 'root', 'applied', `${ns}_atom.json`), 'utf8'), new RegExp(image!.replace(/[.]/g, '\\.')))
    assert.ok(!fs.existsSync(path.join(work, 'root', 'applied', `${ns}_atom-new.json`)))
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('pod security: a privileged pod that mounts the host is refused under the default (baseline) with file, line, field and flag, and runs under --pod-security=privileged; restricted refuses a plain pod', async () => {
    const dir = path.join(work, 'pss')
    fs.mkdirSync(dir)
    const f = path.join(dir, 'root.yaml')
    fs.writeFileSync(
      f,
      `apiVersion: v1
kind: Pod
metadata: {name: rooted, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  hostPID: true
  containers:
    - name: main
      image: ${image}
      command: [sleep, '3600']
      securityContext: {privileged: true}
      volumeMounts: [{name: etc, mountPath: /host/etc}]
  volumes: [{name: etc, hostPath: {path: /etc}}]
`,
    )
    const rooted = {labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'rooted'}}
    const refused = await podrun('apply', '-f', f)
    assert.equal(refused.code, 1, refused.stdout + refused.stderr)
    assert.match(refused.stderr, /root\.yaml:6:\d+: spec\.hostPID: sharing the host's namespaces is refused: refused by --pod-security=baseline \(Host Namespaces\); --pod-security=privileged allows it/)
    assert.match(refused.stderr, /root\.yaml:11:\d+: spec\.containers\[0\]\.securityContext\.privileged: /)
    assert.match(refused.stderr, /root\.yaml:13:\d+: spec\.volumes\[0\]\.hostPath: /)
    assert.match(refused.stderr, /nothing was changed/)
    assert.equal((await cri.listPodSandbox(rooted)).length, 0)
    const v = await podrun('validate', '-f', f)
    assert.equal(v.code, 1)
    assert.match(v.stdout + v.stderr, /spec\.hostPID: .*--pod-security=privileged allows it/)
    // Allowed when the operator says so: it runs, and sees the host's files.
    const ok = await podrun('apply', '-f', f, '--pod-security=privileged')
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    const [c] = await cri.listContainers({...rooted, state: {state: 1}})
    const r = await cri.execSync(c.id, ['sh', '-c', 'head -c 5 /host/etc/shadow'], 10)
    assert.equal(Buffer.from(r.stdout).toString(), fs.readFileSync('/etc/shadow', 'utf8').slice(0, 5))
    await podrun('delete', '-f', f, '--grace-period', '0')
    // restricted: a plain pod is refused, naming what to set; warn only warns.
    const plain = path.join(dir, 'plain.yaml')
    fs.writeFileSync(plain, pod('plainpod'))
    const strict = await podrun('validate', '-f', plain, '--pod-security=restricted')
    assert.equal(strict.code, 1)
    assert.match(strict.stdout + strict.stderr, /allowPrivilegeEscalation must be false: refused by --pod-security=restricted \(Privilege Escalation\); --pod-security=baseline allows it/)
    const warned = await podrun('validate', '-f', plain, '--pod-security-warn=restricted')
    assert.equal(warned.code, 0, warned.stdout + warned.stderr)
    assert.match(warned.stdout + warned.stderr, /warning: .*would be refused by --pod-security=restricted/)
  })

  it('two applies of the same pods at once both succeed, and each pod runs once', async () => {
    const dir = write('race', {'r1.yaml': pod('race-1'), 'r2.yaml': pod('race-2'), 'r3.yaml': pod('race-3')})
    const [a, b] = await Promise.all([podrun('apply', '-f', dir), podrun('apply', '-f', dir)])
    assert.equal(a.code, 0, a.stdout + a.stderr)
    assert.equal(b.code, 0, b.stdout + b.stderr)
    for (const n of ['race-1', 'race-2', 'race-3']) {
      const sel = {labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': n}}
      assert.equal((await cri.listPodSandbox({...sel, state: {state: 0}})).length, 1, n)
      assert.equal((await cri.listContainers({...sel, state: {state: 1}})).length, 1, n)
    }
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('delete leaves nothing podrun made', async () => {
    const r = await podrun('delete', '-f', path.join(work, 'set'))
    assert.equal(r.code, 0, r.stderr)
    const r2 = await podrun('delete', 'pod', 'delta', 'broken', '-n', ns2)
    assert.equal(r2.code, 0, r2.stderr)
    for (const n of [ns, ns2]) {
      const left = await ours(cri, n)
      assert.equal(left.sandboxes.length, 0)
      assert.equal(left.containers.length, 0)
    }
    const again = await podrun('delete', 'pod', 'delta', '-n', ns2)
    assert.notEqual(again.code, 0)
    assert.match(again.stderr, /not found/)
    assert.equal((await podrun('delete', 'pod', 'delta', '-n', ns2, '--ignore-not-found')).code, 0)
  })
})
