// subPath against the real containerd: mounts that work as Kubernetes defines them (folders made on
// demand, a ConfigMap key through the volume's own links, subPathExpr), and the symlink escape of
// CVE-2017-1002101 tried from inside a container in both orders: the same container after its
// restart, and an init container planting the link for the app container.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {mountsUnder} from '../../src/reconcile/subpath.js'
import {runPodrun, type Run} from '../support/cli.js'
import {waitFor} from '../support/wait.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const ns = `e2e-subpath-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-subpath-'))
const podRoot = path.join(work, 'root')
const env = {...process.env, PODRUN_ROOT: podRoot, PODRUN_LOG_ROOT: path.join(work, 'logs')}
// A host folder no pod mounts: what an escaping container would reach.
const hostDir = path.join(work, 'host-secrets')
const EXITED = 2

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 120_000)

function manifest(name: string, text: string): string {
  const f = path.join(work, `${name}.yaml`)
  fs.writeFileSync(f, text)
  return f
}

// An unprivileged container (uid 65534, every capability dropped), as the issue's attacker ran.
const unprivileged = `
      securityContext:
        runAsUser: 65534
        runAsGroup: 65534
        allowPrivilegeEscalation: false
        capabilities: {drop: [ALL]}`

// If /data shows the host folder, leave proof; otherwise plant the link for the next start.
const attack = `if [ -e /data/secret ]; then cat /data/secret; echo escaped > /data/pwned; exec sleep 3600; fi; rm -rf /vol/data; ln -s ${hostDir} /vol/data; ls -l /vol`

describe('subPath mounts against the real runtime', {concurrency: false, timeout: 170_000}, () => {
  let cri: CriClient
  const containersOf = (pod: string) => cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': pod}})

  before(async () => {
    assert.ok(endpoint && image, 'CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE must be set: run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
    fs.mkdirSync(hostDir, {mode: 0o700})
    fs.writeFileSync(path.join(hostDir, 'secret'), 'host-only\n', {mode: 0o600})
  })

  after(async () => {
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0')
    cri?.close()
    // Never remove through a mount that a failed test left behind.
    if ((await mountsUnder(work)).length === 0) fs.rmSync(work, {recursive: true, force: true})
  })

  it('mounts subPaths of an emptyDir, a ConfigMap key and a subPathExpr; the pod delete leaves no mount', async () => {
    const f = manifest(
      'ok',
      `apiVersion: v1
kind: ConfigMap
metadata: {name: conf, namespace: ${ns}}
data: {app.conf: "level=debug\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: ok, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
    - {name: scratch, emptyDir: {}}
    - {name: conf, configMap: {name: conf}}
  containers:
    - name: main
      image: ${image}
      env:
        - name: POD
          valueFrom: {fieldRef: {fieldPath: metadata.name}}
      command: ["sh", "-c", "echo x > /nested/x; echo y > /per-pod/y; exec sleep 3600"]
      volumeMounts:
        - {name: scratch, mountPath: /all}
        - {name: scratch, mountPath: /nested, subPath: a/b}
        - {name: scratch, mountPath: /per-pod, subPathExpr: "pods/$(POD)"}
        - {name: conf, mountPath: /etc/app.conf, subPath: app.conf, readOnly: true}
`,
    )
    const r = await podrun('apply', '-f', f)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const [c] = (await containersOf('ok')).filter((x) => x.state === 1)
    assert.ok(c, 'the container runs')
    const out = await waitFor('both files written', async () => {
      const e = await cri.execSync(c.id, ['sh', '-c', 'cat /all/a/b/x /all/pods/ok/y /etc/app.conf'], 10)
      return e.exitCode === 0 && e.stdout.toString()
    })
    assert.equal(out, 'x\ny\nlevel=debug\n')
    const uid = (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'ok'}}))[0].labels['io.kubernetes.pod.uid']
    assert.equal((await mountsUnder(path.join(podRoot, 'pods', uid))).length, 3, 'three subPath bind mounts')
    const del = await podrun('delete', '-f', f)
    assert.equal(del.code, 0, del.stderr)
    assert.deepEqual(await mountsUnder(podRoot), [])
    assert.equal(fs.existsSync(path.join(podRoot, 'pods', uid)), false)
  })

  it('refuses a link planted by the container itself when it restarts (uid 65534, no capabilities)', async () => {
    const f = manifest(
      'restart',
      `apiVersion: v1
kind: Pod
metadata: {name: restart, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  volumes: [{name: vol, emptyDir: {}}]
  containers:
    - name: main
      image: ${image}
      command: ["sh", "-c", ${JSON.stringify(`${attack}; exit 1`)}]${unprivileged}
      volumeMounts:
        - {name: vol, mountPath: /vol}
        - {name: vol, mountPath: /data, subPath: data}
`,
    )
    await podrun('apply', '-f', f, '--no-wait')
    await waitFor('the first attempt to exit', async () => (await containersOf('restart')).some((c) => c.state === EXITED), 30_000)
    // The next apply restarts it at once (the first restart has no back-off).
    const r = await podrun('apply', '-f', f, '--no-wait')
    assert.notEqual(r.code, 0, 'the restart is refused')
    assert.match(r.stdout + r.stderr, /data is a symbolic link|leads outside its volume/)
    assert.equal(fs.existsSync(path.join(hostDir, 'pwned')), false, 'the container never wrote to the host folder')
    assert.equal((await containersOf('restart')).filter((c) => c.state === 1).length, 0)
    const get = await podrun('get', 'pods', 'restart', '-n', ns, '-o', 'wide')
    assert.equal(get.code, 0, get.stderr)
  })

  it('refuses a link planted by an init container for the app container', async () => {
    const f = manifest(
      'init',
      `apiVersion: v1
kind: Pod
metadata: {name: init, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  restartPolicy: Never
  volumes: [{name: vol, emptyDir: {}}]
  initContainers:
    - name: plant
      image: ${image}
      command: ["sh", "-c", ${JSON.stringify(attack)}]${unprivileged}
      volumeMounts: [{name: vol, mountPath: /vol}]
  containers:
    - name: main
      image: ${image}
      command: ["sh", "-c", "cat /data/secret; echo escaped > /data/pwned; exec sleep 3600"]${unprivileged}
      volumeMounts: [{name: vol, mountPath: /data, subPath: data}]
`,
    )
    const r = await podrun('apply', '-f', f, '--wait-timeout', '30s')
    assert.notEqual(r.code, 0, 'the app container is refused')
    assert.match(r.stdout + r.stderr, /data is a symbolic link|leads outside its volume/)
    assert.equal(fs.existsSync(path.join(hostDir, 'pwned')), false, 'the container never wrote to the host folder')
    const app = (await containersOf('init')).filter((c) => c.metadata?.name === 'main')
    assert.equal(app.length, 0, 'no app container was created')
  })

  it('hostPath: the type is checked on the path held open and the runtime mounts that inode (a podrun-owned bind); a link swapped in later changes nothing for the running container; delete leaves the host files', async () => {
    const shared = path.join(work, 'shared')
    fs.mkdirSync(path.join(shared, 'data'), {recursive: true})
    fs.writeFileSync(path.join(shared, 'data', 'mine'), 'host data\n')
    const f = manifest(
      'hostpath',
      `apiVersion: v1
kind: Pod
metadata: {name: hostpath, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  volumes:
    - {name: data, hostPath: {path: ${path.join(shared, 'data')}, type: Directory}}
    - {name: notafile, hostPath: {path: ${path.join(shared, 'data')}, type: File}}
  containers:
    - name: main
      image: ${image}
      command: [sleep, '3600']
      volumeMounts: [{name: data, mountPath: /data}]
`,
    )
    // A File type on a folder is refused by its check, before anything runs.
    const wrong = await podrun('apply', '-f', f, '--allowed-host-paths', shared, '--wait-timeout', '20s')
    assert.notEqual(wrong.code, 0)
    assert.match(wrong.stdout + wrong.stderr, /hostPath .*data is not an existing file/)
    fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(/    - \{name: notafile.*\n/, ''))
    const r = await podrun('apply', '-f', f, '--allowed-host-paths', shared)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const [c] = await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'hostpath'}, state: {state: 1}})
    const uid = c.labels['io.kubernetes.pod.uid']
    const bind = path.join(podRoot, 'pods', uid, 'volumes', 'host-path', 'data')
    assert.ok((await mountsUnder(bind)).includes(bind), 'the runtime was given a podrun-owned bind mount')
    const sh = async (cmd: string) => Buffer.from((await cri.execSync(c.id, ['sh', '-c', cmd], 10)).stdout).toString()
    assert.equal(await sh('cat /data/mine'), 'host data\n')
    // The folder is swapped for a link to another one: the running container still has the folder it was given.
    fs.renameSync(path.join(shared, 'data'), path.join(shared, 'data.old'))
    fs.symlinkSync(hostDir, path.join(shared, 'data'))
    assert.equal(await sh('cat /data/mine; ls /data'), 'host data\nmine\n')
    assert.equal((await podrun('delete', '-f', f, '--grace-period', '0')).code, 0)
    assert.deepEqual(await mountsUnder(path.join(podRoot, 'pods', uid)), [])
    assert.equal(fs.readFileSync(path.join(shared, 'data.old', 'mine'), 'utf8'), 'host data\n', 'delete leaves the host files')
    assert.equal(fs.readFileSync(path.join(hostDir, 'secret'), 'utf8'), 'host-only\n')
  })
})
