// Probes and lifecycle hooks under `podrun daemon`, against the real containerd, each seen from
// inside the container or from the runtime: a liveness probe that starts failing restarts the
// container; readiness (exec and httpGet from the host to the pod's IP) flips READY both ways; a
// failing startup probe holds readiness; postStart has run before the app's first line; preStop
// runs on removal, inside the grace period of a PID 1 that ignores SIGTERM.
//
// Needs: `bash scripts/runtime.sh up`, `eval "$(bash scripts/runtime.sh env)"`, `npm run build`.
import assert from 'node:assert/strict'
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import type {DaemonPodList} from '../../src/daemon/view.js'
import {projectRoot, runPodrun, type Run} from '../support/cli.js'
import {daemonWorkspace} from '../support/daemon-workspace.js'
import {getOverSocket, waitFor as pollUntil} from '../support/wait.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const {ns, work, manifestDir, stateDir, socket, daemonLog, env} = daemonWorkspace('life')
const RUNNING = 1

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 120_000)
const tail = () => (fs.existsSync(daemonLog) ? fs.readFileSync(daemonLog, 'utf8').split('\n').slice(-30).join('\n') : '(no log)')
const waitFor = <T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms = 30_000): Promise<T> =>
  pollUntil(what, fn, ms, 100, () => `--- daemon log (tail) ---\n${tail()}`)

/** A pod with one container `main` running `sh -c cmd`, and extra container fields (YAML, indented 6). */
function pod(name: string, cmd: string, extra = '', o: {grace?: number; podExtra?: string} = {}): string {
  return `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: ${o.grace ?? 1}
${o.podExtra ?? ''}  containers:
    - name: main
      image: ${image}
      command: ["sh", "-c", ${JSON.stringify(cmd)}]
${extra}`
}

const write = (f: string, text: string) => fs.writeFileSync(path.join(manifestDir, f), text)

async function startDaemon(): Promise<ChildProcess> {
  const out = fs.openSync(daemonLog, 'a')
  const args = ['daemon', '--manifest-dir', manifestDir, '--state-dir', stateDir, '--relist-period', '300ms', '--backoff-initial', '1s', '--progress-deadline', '6s', '--min-ready', '2s', '--container-log-max-size', '2Mi', '--container-log-max-files', '3', '--container-log-monitor-interval', '300ms', '--gc-period', '1s', '--allowed-host-paths', work]
  const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), ...args], {env, cwd: projectRoot, stdio: ['ignore', out, out]})
  fs.closeSync(out)
  await waitFor('the daemon', async () => (await getOverSocket(socket, '/readyz')).code === 200)
  return child
}

describe('probes and hooks against the real runtime', {concurrency: false, timeout: 300_000}, () => {
  let cri: CriClient
  let daemon: ChildProcess | undefined
  const runningOf = async (name: string) =>
    (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name}, state: {state: RUNNING}}))[0]
  const info = async (name: string) => (JSON.parse((await getOverSocket(socket, '/api/v1/pods')).body) as DaemonPodList).pods.find((p) => p.key === `${ns}/${name}`)
  const readyColumn = async (name: string) => /\s(\d\/\d)\s/.exec((await podrun('get', 'pods', name, '-n', ns)).stdout.split('\n')[1] ?? '')?.[1]
  const sh = async (id: string, cmd: string) => {
    const r = await cri.execSync(id, ['sh', '-c', cmd], 5)
    assert.equal(r.exitCode, 0, Buffer.from(r.stderr).toString())
  }

  before(async () => {
    assert.ok(endpoint && image, 'CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE must be set: run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
    fs.mkdirSync(manifestDir)
    daemon = await startDaemon()
  })

  after(async () => {
    if (daemon?.pid !== undefined && daemon.exitCode === null) {
      process.kill(daemon.pid, 'SIGTERM')
      await new Promise((r) => daemon!.once('exit', r))
    }
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0', '--force')
    cri?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  it('a liveness probe that starts failing restarts the container', async () => {
    write('live.yaml', pod('live', 'touch /tmp/alive; exec sleep 3600', '      livenessProbe: {exec: {command: [cat, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}\n'))
    const c = await waitFor('live running', () => runningOf('live'))
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal((await runningOf('live'))?.id, c.id, 'a passing liveness probe restarts nothing')
    await sh(c.id, 'rm /tmp/alive')
    const next = await waitFor('restarted', async () => {
      const x = await runningOf('live')
      return x && x.id !== c.id && x
    })
    assert.equal(next.metadata?.attempt, 1)
    const events = (await info('live'))!.events.map((e) => `${e.reason}: ${e.message}`)
    assert.ok(events.some((e) => /^Unhealthy: Liveness probe failed/.test(e)), events.join('\n'))
    assert.ok(events.some((e) => /^Killing: Container main failed liveness probe/.test(e)), events.join('\n'))
  })

  it('readiness (exec) flips READY both ways, and an httpGet readiness probe reaches the pod', async () => {
    write('rd.yaml', pod('rd', 'exec sleep 3600', '      readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1, failureThreshold: 1}\n'))
    const c = await waitFor('rd running', () => runningOf('rd'))
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(await readyColumn('rd'), '0/1')
    await sh(c.id, 'touch /tmp/ready')
    await waitFor('1/1', async () => (await readyColumn('rd')) === '1/1')
    await sh(c.id, 'rm /tmp/ready')
    await waitFor('0/1 again', async () => (await readyColumn('rd')) === '0/1')
    // httpGet from the host to the pod's IP, by the port's name.
    write('web.yaml', pod('web', 'mkdir -p /www && echo ok > /www/index.html && exec httpd -f -p 8080 -h /www', '      ports: [{name: http, containerPort: 8080}]\n      readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}\n'))
    await waitFor('web 1/1', async () => (await readyColumn('web')) === '1/1')
  })

  it('a failing startup probe holds readiness back until it succeeds', async () => {
    write('st.yaml', pod('st', 'exec sleep 3600', '      startupProbe: {exec: {command: [test, -f, /tmp/booted]}, periodSeconds: 1, failureThreshold: 60}\n      readinessProbe: {exec: {command: ["true"]}, periodSeconds: 1}\n'))
    const c = await waitFor('st running', () => runningOf('st'))
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal(await readyColumn('st'), '0/1')
    await sh(c.id, 'touch /tmp/booted')
    await waitFor('st 1/1', async () => (await readyColumn('st')) === '1/1')
  })

  it('postStart has run before the app\'s first line', async () => {
    write('ps.yaml', pod('ps', 'while [ ! -f /tmp/hook ]; do sleep 0.1; done; echo "first line, after $(cat /tmp/hook)"; exec sleep 3600', "      lifecycle: {postStart: {exec: {command: [sh, -c, 'echo the postStart hook > /tmp/hook']}}}\n"))
    await waitFor('ps running', () => runningOf('ps'))
    const logs = path.join(env.PODRUN_LOG_ROOT!)
    const log = await waitFor('the first line', () => {
      const dir = fs.readdirSync(logs).find((d) => d.startsWith(`${ns}_ps_`))
      const f = dir && path.join(logs, dir, 'main', '0.log')
      const text = f && fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : ''
      return /first line/.test(text) && text
    })
    assert.match(log.split('\n')[0], /stdout F first line, after the postStart hook$/)
  })

  it('two init containers and two native sidecars come up in order, count in READY, and stop in reverse', async () => {
    const marks = path.join(work, 'order')
    fs.mkdirSync(marks)
    const note = (what: string) => `echo ${what} >> /marks/order`
    const runner = (name: string) => `trap '${note(`stop-${name}`)}; exit 0' TERM; ${note(name)}; while :; do sleep 0.1; done`
    const c = (name: string, cmd: string, extra = '') =>
      `    - name: ${name}\n      image: ${image}\n      command: ["sh", "-c", ${JSON.stringify(cmd)}]\n      volumeMounts: [{name: marks, mountPath: /marks}]\n${extra}`
    write(
      'sc.yaml',
      `apiVersion: v1
kind: Pod
metadata: {name: sc, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 10
  volumes: [{name: marks, hostPath: {path: ${marks}, type: Directory}}]
  initContainers:
${c('init1', note('init1'))}${c('side1', runner('side1'), '      restartPolicy: Always\n')}${c('init2', note('init2'))}${c('side2', runner('side2'), '      restartPolicy: Always\n')}  containers:
${c('app', runner('app'))}`,
    )
    const order = () => (fs.existsSync(path.join(marks, 'order')) ? fs.readFileSync(path.join(marks, 'order'), 'utf8').trim().split('\n') : [])
    await waitFor('the app started', () => order().includes('app'))
    assert.deepEqual(order(), ['init1', 'side1', 'init2', 'side2', 'app'])
    const get = await waitFor('3/3 Running', async () => {
      const g = await podrun('get', 'pods', 'sc', '-n', ns)
      return /sc\s+3\/3\s+Running/.test(g.stdout) && g
    })
    assert.match(get.stdout, /sc\s+3\/3\s+Running\s+0/)
    fs.rmSync(path.join(manifestDir, 'sc.yaml'))
    await waitFor('sc gone', async () => (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'sc'}})).length === 0)
    assert.deepEqual(order().slice(5), ['stop-app', 'stop-side2', 'stop-side1'])
  })

  it('runAsNonRoot refuses an image that runs as root, with the kubelet\'s message; a numeric runAsUser passes', async () => {
    const dir = path.join(work, 'nonroot')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'root.yaml'), pod('asroot', 'exec sleep 3600', '      securityContext: {runAsNonRoot: true}\n'))
    const r = await podrun('apply', '-f', path.join(dir, 'root.yaml'), '--wait-timeout', '20s')
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stderr, /CreateContainerConfigError|container has runAsNonRoot and image will run as root \(pod: "asroot_/)
    assert.equal(await runningOf('asroot'), undefined)
    const get = await waitFor('the reason in get pods', async () => {
      const g = await podrun('get', 'pods', 'asroot', '-n', ns)
      return /CreateContainerConfigError/.test(g.stdout) && g
    })
    assert.match(get.stdout, /asroot\s+0\/1\s+CreateContainerConfigError/)
    fs.writeFileSync(path.join(dir, 'user.yaml'), pod('asuser', 'exec sleep 3600', '      securityContext: {runAsNonRoot: true, runAsUser: 65534}\n'))
    const ok = await podrun('apply', '-f', path.join(dir, 'user.yaml'))
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('configMap volumes are read-only; /etc/hosts has the pod\'s IP and hostAliases; qosClass is in the status', async () => {
    const dir = path.join(work, 'files')
    fs.mkdirSync(dir)
    const res = '      resources: {limits: {cpu: 100m, memory: 32Mi}}\n      volumeMounts: [{name: cfg, mountPath: /cfg}]\n'
    const extras = `  hostAliases: [{ip: 10.9.8.7, hostnames: [db.local, db]}]\n  volumes: [{name: cfg, configMap: {name: settings}}]\n`
    fs.writeFileSync(
      path.join(dir, 'files.yaml'),
      `${pod('files', 'exec sleep 3600', res, {podExtra: extras})}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ${ns}}\ndata: {mode: fast}\n`,
    )
    const r = await podrun('apply', '-f', dir)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const c = (await runningOf('files'))!
    const write = await cri.execSync(c.id, ['sh', '-c', 'echo slow > /cfg/mode'], 5)
    assert.notEqual(write.exitCode, 0, 'a configMap volume must be read-only')
    assert.match(Buffer.from(write.stderr).toString(), /Read-only file system/)
    const hosts = Buffer.from((await cri.execSync(c.id, ['cat', '/etc/hosts'], 5)).stdout).toString()
    const pod1 = JSON.parse((await podrun('get', 'pods', 'files', '-n', ns, '-o', 'json')).stdout)
    assert.match(hosts, new RegExp(`^${pod1.status.podIP.replace(/\./g, '\\.')}\tfiles$`, 'm'))
    assert.match(hosts, /^10\.9\.8\.7\tdb\.local\tdb$/m)
    assert.equal(pod1.status.qosClass, 'Guaranteed')
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('a ConfigMap edit reaches the mounted file in place, the container id unchanged: under the daemon, and with diff and apply', async () => {
    const cm = (v: string) => `---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: live-cfg, namespace: ${ns}}\ndata: {level: ${v}}\n`
    const mount = '      volumeMounts: [{name: cfg, mountPath: /cfg}]\n'
    const vol = '  volumes: [{name: cfg, configMap: {name: live-cfg}}]\n'
    // The daemon's folder.
    write('cfg.yaml', pod('cfgd', 'exec sleep 3600', mount, {podExtra: vol}) + cm('one'))
    const c = await waitFor('cfgd running', () => runningOf('cfgd'))
    const read = async (id: string) => Buffer.from((await cri.execSync(id, ['cat', '/cfg/level'], 5)).stdout).toString()
    assert.equal(await read(c.id), 'one')
    write('cfg.yaml', pod('cfgd', 'exec sleep 3600', mount, {podExtra: vol}) + cm('two'))
    await waitFor('the new value in the container', async () => (await read(c.id)) === 'two', 15_000)
    assert.equal((await runningOf('cfgd'))?.id, c.id, 'nothing restarted')
    // apply: diff says what changes, apply says configured, nothing restarts.
    const dir = path.join(work, 'cfg-apply')
    fs.mkdirSync(dir)
    const f = path.join(dir, 'p.yaml')
    fs.writeFileSync(f, pod('cfga', 'exec sleep 3600', mount, {podExtra: vol}) + cm('alpha'))
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const ca = (await runningOf('cfga'))!
    fs.writeFileSync(f, pod('cfga', 'exec sleep 3600', mount, {podExtra: vol}) + cm('beta'))
    const diff = await podrun('diff', '-f', f)
    assert.equal(diff.code, 1, diff.stdout + diff.stderr)
    assert.match(diff.stdout, /volumes\[cfg\]/)
    const r = await podrun('apply', '-f', f)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /pod\/cfga configured/)
    assert.equal(await read(ca.id), 'beta')
    assert.equal((await runningOf('cfga'))?.id, ca.id)
    assert.equal((await podrun('diff', '-f', f)).code, 0)
    await podrun('delete', '-f', dir, '--grace-period', '0')
    fs.rmSync(path.join(manifestDir, 'cfg.yaml'))
  })

  it('edits that restart nothing (labels, a probe, restartPolicy, the grace period) are kept and shown: with diff and apply, and under the daemon', async () => {
    const dir = path.join(work, 'meta')
    fs.mkdirSync(dir)
    const f = path.join(dir, 'p.yaml')
    fs.writeFileSync(f, pod('meta', 'exec sleep 3600'))
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const c = (await runningOf('meta'))!
    const probe = '      readinessProbe: {exec: {command: [cat, /etc/hostname]}, periodSeconds: 3}\n'
    const edited = pod('meta', 'exec sleep 3600', probe, {grace: 3, podExtra: '  restartPolicy: OnFailure\n'}).replace('name: meta,', 'name: meta, labels: {tier: edge},')
    fs.writeFileSync(f, edited)
    const diff = await podrun('diff', '-f', f)
    assert.equal(diff.code, 1, diff.stdout + diff.stderr)
    for (const field of ['metadata.labels', 'containers[main].readinessProbe', 'restartPolicy', 'terminationGracePeriodSeconds']) {
      assert.match(diff.stdout, new RegExp(`^  ${field.replace(/[[\].]/g, '\\$&')}: .*\\(restarts nothing\\)$`, 'm'), diff.stdout)
    }
    const r = await podrun('apply', '-f', f)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout, /pod\/meta configured/)
    assert.equal((await runningOf('meta'))?.id, c.id, 'nothing restarted')
    const shown = JSON.parse((await podrun('get', 'pods', 'meta', '-n', ns, '-o', 'json')).stdout)
    assert.deepEqual(shown.metadata.labels, {tier: 'edge'})
    assert.equal(shown.spec.restartPolicy, 'OnFailure')
    assert.equal(shown.spec.terminationGracePeriodSeconds, 3)
    assert.deepEqual(shown.spec.containers[0].readinessProbe.exec.command, ['cat', '/etc/hostname'])
    assert.match((await podrun('get', 'pods', 'meta', '-n', ns, '-o', 'yaml')).stdout, /tier: edge/)
    assert.equal((await podrun('diff', '-f', f)).code, 0, 'applied: nothing left to change')
    // A container edit later replaces the container; the kept labels stay shown.
    fs.writeFileSync(f, edited.replace('exec sleep 3600', 'exec sleep 3601'))
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const after = JSON.parse((await podrun('get', 'pods', 'meta', '-n', ns, '-o', 'json')).stdout)
    assert.deepEqual(after.metadata.labels, {tier: 'edge'})
    assert.match(JSON.stringify(after.spec.containers[0].command), /3601/)
    assert.equal((await podrun('diff', '-f', f)).code, 0)
    await podrun('delete', '-f', dir, '--grace-period', '0')

    // Under the daemon: the folder's edit is kept, the container id unchanged.
    write('meta.yaml', pod('metad', 'exec sleep 3600'))
    const cd = await waitFor('metad running', () => runningOf('metad'))
    write('meta.yaml', pod('metad', 'exec sleep 3600').replace('name: metad,', 'name: metad, labels: {tier: edge},'))
    await waitFor('the label shown', async () => JSON.parse((await podrun('get', 'pods', 'metad', '-n', ns, '-o', 'json')).stdout).metadata.labels?.tier === 'edge', 15_000)
    assert.equal((await runningOf('metad'))?.id, cd.id, 'nothing restarted')
    fs.rmSync(path.join(manifestDir, 'meta.yaml'))
  })

  it('a pod whose volume cannot be set up stays visible as ContainerCreating with a FailedMount event, and starts once it can', async () => {
    const dir = path.join(work, 'mountfail')
    fs.mkdirSync(dir)
    const hostFile = path.join(work, 'needed.conf')
    const f = path.join(dir, 'p.yaml')
    fs.writeFileSync(f, pod('needsfile', 'exec sleep 3600', '      volumeMounts: [{name: conf, mountPath: /conf/needed.conf}]\n', {podExtra: `  volumes: [{name: conf, hostPath: {path: ${hostFile}, type: File}}]\n`}))
    const r = await podrun('apply', '-f', f, '--wait-timeout', '20s', '--allowed-host-paths', work)
    assert.notEqual(r.code, 0, r.stdout + r.stderr)
    assert.match(r.stdout + r.stderr, /FailedMount/)
    assert.match(r.stdout, /^pod\/needsfile failed \(FailedMount\)$/m)
    const shown = await waitFor('ContainerCreating in get pods', async () => {
      const g = await podrun('get', 'pods', 'needsfile', '-n', ns)
      return /needsfile\s+0\/1\s+ContainerCreating/.test(g.stdout) && g
    })
    assert.ok(shown)
    const json = JSON.parse((await podrun('get', 'pods', 'needsfile', '-n', ns, '-o', 'json')).stdout)
    assert.match(json.status.containerStatuses[0].state.waiting.message, /is not an existing file/)
    const events = (await info('needsfile'))?.events ?? []
    assert.ok(events.some((e) => e.reason === 'FailedMount'), JSON.stringify(events))
    // The file appears: the daemon's retry starts the pod.
    fs.writeFileSync(hostFile, 'ok\n')
    const c = await waitFor('needsfile running', () => runningOf('needsfile'), 60_000)
    assert.equal(Buffer.from((await cri.execSync(c.id, ['cat', '/conf/needed.conf'], 5)).stdout).toString(), 'ok\n')
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('activeDeadlineSeconds: the daemon stops the pod at its deadline, for good, and shows DeadlineExceeded', async () => {
    write('deadline.yaml', pod('deadline', 'exec sleep 3600', '', {grace: 2, podExtra: '  activeDeadlineSeconds: 4\n'}))
    const c = await waitFor('deadline running', () => runningOf('deadline'))
    const gone = await waitFor('stopped at the deadline', async () => ((await runningOf('deadline')) ? undefined : Date.now()), 30_000)
    const started = Number(BigInt(c.createdAt) / 1_000_000n)
    assert.ok(gone - started >= 4000, `stopped ${gone - started} ms after the start`)
    const row = await waitFor('DeadlineExceeded in get pods', async () => {
      const g = await podrun('get', 'pods', 'deadline', '-n', ns)
      return /deadline\s+0\/1\s+DeadlineExceeded/.test(g.stdout) && g
    })
    assert.ok(row)
    const json = JSON.parse((await podrun('get', 'pods', 'deadline', '-n', ns, '-o', 'json')).stdout)
    assert.equal(json.status.phase, 'Failed')
    assert.equal(json.status.reason, 'DeadlineExceeded')
    await new Promise((r) => setTimeout(r, 3000))
    assert.equal(await runningOf('deadline'), undefined, 'not started again')
    fs.rmSync(path.join(manifestDir, 'deadline.yaml'))
  })

  it('logs: the last lines, the previous instance of a restarted container, and -f across a restart; clear errors', async () => {
    // stdout and stderr are two pipes: lines of the two are ordered only when time separates them.
    write('logs.yaml', pod('crashy', 'echo to-stderr >&2; sleep 0.5; echo start-$(cat /proc/uptime | cut -d. -f1); printf partial; sleep 1; echo -end; exit 3') + `---
${pod('two', 'while true; do echo tick; sleep 0.3; done', `    - name: second
      image: ${image}
      command: [sh, -c, "exec sleep 3600"]
`)}`)
    // A restarted instance: its predecessor's lines with --previous.
    await waitFor('crashy restarted', async () => (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'crashy'}})).length >= 2, 30_000)
    const prev = await podrun('logs', 'crashy', '-n', ns, '--previous')
    assert.equal(prev.code, 0, prev.stderr)
    assert.match(prev.stdout, /^to-stderr\nstart-\d+\npartial-end\n$/)
    const stamped = await podrun('logs', 'pod/crashy', '-n', ns, '-p', '--timestamps', '--tail', '1')
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z partial-end\n$/)
    // The default container of a pod with two, and a note that says so; --tail.
    await waitFor('two running', () => runningOf('two'))
    await waitFor('ticks', async () => ((await podrun('logs', 'two', '-n', ns)).stdout.match(/tick/g)?.length ?? 0) >= 4)
    const t = await podrun('logs', 'two', '-n', ns, '--tail', '2')
    assert.equal(t.stdout, 'tick\ntick\n')
    assert.match(t.stderr, /Defaulted container "main" out of: main, second/)
    const both = await podrun('logs', 'two', '-n', ns, '--all-containers', '--prefix', '--tail', '1')
    assert.equal(both.stdout, '[pod/two/main] tick\n')
    // -f goes on onto the next instance when the container restarts.
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'logs', 'crashy', '-n', ns, '-f'], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let followed = ''
    child.stdout!.on('data', (b: Buffer) => (followed += b.toString()))
    try {
      await waitFor('-f across a restart', () => (followed.match(/^start-\d+$/gm)?.length ?? 0) >= 2 && followed, 30_000)
      assert.match(followed, /partial-end\nto-stderr\nstart-\d+\n/)
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGINT')
    }
    // Errors a person can act on.
    // The kubelet's /var/log/containers links (here beside the log root), as log shippers glob them.
    const links = path.join(path.dirname(env.PODRUN_LOG_ROOT!), 'containers')
    const mine = fs.readdirSync(links).filter((n) => n.startsWith(`crashy_${ns}_main-`))
    assert.ok(mine.length >= 1 && mine.every((n) => /^crashy_[a-z0-9-]+_main-[0-9a-f]{64}\.log$/.test(n)), mine.join(' '))
    for (const n of mine) {
      const target = fs.readlinkSync(path.join(links, n))
      assert.ok(target.startsWith(path.join(env.PODRUN_LOG_ROOT!, `${ns}_crashy_`)) && /\/main\/\d+\.log$/.test(target), target)
    }
    assert.match(fs.readFileSync(path.join(links, mine[0]), 'utf8'), / stdout F start-\d+$/m)
    const none = await podrun('logs', 'nosuch', '-n', ns)
    assert.equal(none.code, 1)
    assert.match(none.stderr, /pods "nosuch" not found/)
    const badC = await podrun('logs', 'two', '-n', ns, '-c', 'third')
    assert.equal(badC.code, 1)
    assert.match(badC.stderr, /container third is not valid for pod two: choose one of: \[main second\]/)
    fs.rmSync(path.join(manifestDir, 'logs.yaml'))
    await waitFor('the links gone with the pods', () => !fs.readdirSync(links).some((n) => n.startsWith(`crashy_${ns}_`) || n.startsWith(`two_${ns}_`)), 30_000)
  })

  it('get pods as kubectl users type it: several names, pod/NAME, -l, --show-labels, --sort-by, -w', async () => {
    write('gp.yaml', pod('gp-b', 'exec sleep 3600').replace('name: gp-b,', 'name: gp-b, labels: {tier: edge, app: b},') + '---\n' + pod('gp-a', 'exec sleep 3600').replace('name: gp-a,', 'name: gp-a, labels: {tier: core},'))
    await waitFor('both running', async () => (await runningOf('gp-a')) && (await runningOf('gp-b')))
    const two = await podrun('get', 'pods', 'gp-b', 'pod/gp-a', '-n', ns)
    assert.equal(two.code, 0, two.stderr)
    assert.deepEqual(two.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/)[0]), ['gp-a', 'gp-b'])
    const edge = await podrun('get', 'pods', '-n', ns, '-l', 'tier=edge', '--show-labels')
    assert.match(edge.stdout, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+LABELS$/m)
    assert.match(edge.stdout, /^gp-b\s+1\/1\s+Running\s+0\s+\S+\s+app=b,tier=edge$/m)
    assert.doesNotMatch(edge.stdout, /gp-a/)
    const sorted = await podrun('get', 'pods', 'gp-a', 'gp-b', '-n', ns, '--sort-by', '{.metadata.labels.tier}', '-o', 'name')
    assert.equal(sorted.stdout, 'pod/gp-a\npod/gp-b\n')
    // /metrics: each running container's CPU and memory under cAdvisor's names.
    const metrics = (await getOverSocket(socket, '/metrics')).body
    assert.match(metrics, new RegExp(`^container_cpu_usage_seconds_total\\{namespace="${ns}",pod="gp-a",container="main",id="[0-9a-f]+"\\} [0-9.e-]+$`, 'm'))
    assert.match(metrics, new RegExp(`^container_memory_working_set_bytes\\{namespace="${ns}",pod="gp-b",container="main",id="[0-9a-f]+"\\} [1-9]\\d*$`, 'm'))
    const jp = await podrun('get', 'pods', 'gp-a', 'gp-b', '-n', ns, '-o', 'jsonpath={range .items[*]}{.metadata.name}={.status.phase}{"\\n"}{end}')
    assert.equal(jp.stdout, 'gp-a=Running\ngp-b=Running\n', jp.stderr)
    const one = await podrun('get', 'pods', 'gp-b', '-n', ns, '-o', 'jsonpath={.metadata.labels.tier}')
    assert.equal(one.stdout, 'edge')
    const cols = await podrun('get', 'pods', 'gp-a', 'gp-b', '-n', ns, '-o', 'custom-columns=NAME:.metadata.name,TIER:.metadata.labels.tier,APP:.metadata.labels.app')
    assert.equal(cols.stdout, 'NAME   TIER   APP\ngp-a   core   <none>\ngp-b   edge   b\n')
    const badOut = await podrun('get', 'pods', '-n', ns, '-o', 'table')
    assert.equal(badOut.code, 1)
    assert.match(badOut.stderr, /unable to match a printer for output format "table"/)
    const partly = await podrun('get', 'pods', 'gp-a', 'gp-zz', '-n', ns)
    assert.equal(partly.code, 1)
    assert.match(partly.stdout, /gp-a/)
    assert.match(partly.stderr, /pod "gp-zz" not found/)
    // -w: the list, then a row for each change (here a new pod), without a header.
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'get', 'pods', '-n', ns, '-l', 'tier', '-w'], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let watched = ''
    child.stdout!.on('data', (b: Buffer) => (watched += b.toString()))
    try {
      await waitFor('the first list', () => /gp-b/.test(watched) && watched)
      write('gp2.yaml', pod('gp-c', 'exec sleep 3600').replace('name: gp-c,', 'name: gp-c, labels: {tier: new},'))
      await waitFor('gp-c watched to Running', () => /^gp-c\s+1\/1\s+Running/m.test(watched) && watched, 30_000)
      assert.equal(watched.match(/^NAME/gm)?.length, 1, 'one header')
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGINT')
    }
    fs.rmSync(path.join(manifestDir, 'gp.yaml'))
    fs.rmSync(path.join(manifestDir, 'gp2.yaml'))
  })

  it('events: Kubernetes reasons with counts and first and last times, per pod, as a table, -o json and -w', async () => {
    write('evts.yaml', pod('evts', 'echo hi; exit 2'))
    await waitFor('a back-off event', async () => ((await info('evts'))?.events ?? []).some((e) => e.reason === 'BackOff'), 30_000)
    await waitFor('a second start', async () => ((await info('evts'))?.events ?? []).some((e) => e.reason === 'Started' && (e.count ?? 1) >= 2), 30_000)
    const table = await podrun('events', '-n', ns, '--for', 'pod/evts')
    assert.equal(table.code, 0, table.stderr)
    assert.match(table.stdout, /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/m)
    assert.match(table.stdout, /^\S+(?: \(x\d+ over \S+\))?\s+Normal\s+Pulled\s+pod\/evts\s+Container image ".*" already present on machine$/m)
    assert.match(table.stdout, /^\S+ \(x\d+ over \S+\)\s+Normal\s+Started\s+pod\/evts\s+Started container main$/m)
    assert.match(table.stdout, /Warning\s+BackOff\s+pod\/evts\s+Back-off restarting failed container main/)
    const json = JSON.parse((await podrun('events', '-n', ns, '--for', 'pod/evts', '-o', 'json')).stdout) as {items: Array<{reason: string; count: number; firstTimestamp: string; lastTimestamp: string; involvedObject: {kind: string; name: string}}>}
    const created = json.items.find((e) => e.reason === 'Created')!
    assert.deepEqual([created.involvedObject.kind, created.involvedObject.name], ['Pod', 'evts'])
    assert.ok(created.count >= 2 && created.firstTimestamp < created.lastTimestamp, JSON.stringify(created))
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'events', '-n', ns, '--for', 'pod/evts', '-w'], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let watched = ''
    child.stdout!.on('data', (b: Buffer) => (watched += b.toString()))
    try {
      await waitFor('the list', () => /MESSAGE/.test(watched) && watched)
      const before = watched.length
      await waitFor('a repeated event watched', () => watched.length > before && /Started container main|Back-off/.test(watched.slice(before)) && watched, 30_000)
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGINT')
    }
    // describe: the crash loop as kubectl describe shows it, events included.
    const d = await waitFor('describe with the last state', async () => {
      const r = await podrun('describe', 'pod', 'evts', '-n', ns)
      return /Last State:\s+Terminated/.test(r.stdout) && r
    })
    assert.equal(d.code, 0, d.stderr)
    assert.match(d.stdout, /^Name:\s+evts$/m)
    assert.match(d.stdout, /^ {6}Exit Code:\s+2$/m)
    assert.match(d.stdout, /^ {4}Restart Count:\s+[1-9]/m)
    assert.match(d.stdout, /^ {2}Normal\s+Started\s+\S+ \(x\d+ over \S+\)\s+podrun\s+Started container main$/m)
    assert.match(d.stdout, /^ {2}Warning\s+BackOff\s+/m)
    const missing = await podrun('describe', 'pod/nosuch', '-n', ns)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /pods "nosuch" not found/)
    // Restarts leave the newest instance and one before it, each with its log file and link.
    const evts = {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'evts'}
    await waitFor('a fourth start', async () => (await cri.listContainers({labelSelector: evts})).some((c) => (c.metadata?.attempt ?? 0) >= 3), 60_000)
    const logs = env.PODRUN_LOG_ROOT!
    const leftovers = async () => {
      const dir = fs.readdirSync(logs).find((n) => n.startsWith(`${ns}_evts_`))!
      return {
        containers: (await cri.listContainers({labelSelector: evts})).length,
        files: fs.readdirSync(path.join(logs, dir, 'main')),
        links: fs.readdirSync(path.join(path.dirname(logs), 'containers')).filter((n) => n.startsWith(`evts_${ns}_main-`)),
      }
    }
    const left = await waitFor('no more than two instances', async () => {
      const l = await leftovers()
      return l.containers <= 2 && l.files.length <= 2 && l.links.length <= 2 && l
    })
    assert.ok(left.files.every((f) => /^\d+\.log$/.test(f)) && !left.files.includes('0.log'), left.files.join(' '))
    fs.rmSync(path.join(manifestDir, 'evts.yaml'))
  })

  it('log rotation: a container writing 100 MiB ends with at most max-files x max-size on disk; -f reads every line across the rotations', async () => {
    // 100 chunks of 1 MiB, as 1024 lines of 1024 characters: 100 MiB at about 5 MiB/s.
    const cmd = 'i=0; while [ $i -lt 100 ]; do head -c 1048576 /dev/zero | tr "\\\\0" x | fold -w 1024; echo; i=$((i+1)); sleep 0.2; done; echo all-written; exec sleep 3600'
    write('chatty.yaml', pod('chatty', cmd))
    const c = await waitFor('chatty running', () => runningOf('chatty'))
    const child = spawn(process.execPath, [path.join(projectRoot, 'bin/run.js'), 'logs', 'chatty', '-n', ns, '-f'], {env, stdio: ['ignore', 'pipe', 'pipe']})
    let lines = 0
    let tail = ''
    child.stdout!.on('data', (b: Buffer) => {
      const text = tail + b.toString()
      const parts = text.split('\n')
      tail = parts.pop() ?? ''
      lines += parts.length
      if (parts.includes('all-written')) child.emit('all-written')
    })
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`-f saw ${lines} lines and no end marker in 120 s`)), 120_000)
        child.once('all-written', () => {
          clearTimeout(t)
          resolve()
        })
      })
      assert.ok(lines >= 100 * 1024 + 1, `-f read ${lines} lines of ${100 * 1024 + 1}`)
    } finally {
      if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGINT')
    }
    await new Promise((r) => setTimeout(r, 1500)) // a last size check
    const status = await cri.containerStatus(c.id)
    const dir = path.dirname(status.status!.logPath)
    const files = fs.readdirSync(dir).filter((n) => n.startsWith('0.log'))
    const total = files.reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0)
    assert.ok(files.length <= 3, files.join(' '))
    assert.ok(files.some((f) => f.endsWith('.gz')), `older rotated files are compressed: ${files.join(' ')}`)
    assert.ok(total <= 3 * 2 * 1024 * 1024, `${total} bytes on disk in ${files.join(' ')}`)
    const last = await podrun('logs', 'chatty', '-n', ns, '--tail', '2')
    assert.equal(last.stdout.split('\n')[1], 'all-written')
    fs.rmSync(path.join(manifestDir, 'chatty.yaml'))
  })

  it('a bad image edit under the daemon is rolled back to the last Ready version, and stays so across a daemon restart', async () => {
    write('ro.yaml', pod('ro', 'exec sleep 3600'))
    const c = await waitFor('ro running', () => runningOf('ro'))
    await new Promise((r) => setTimeout(r, 3500)) // Ready for longer than --min-ready
    const bad = image!.replace(/:[^:/]+$/, ':no-such-tag')
    write('ro.yaml', pod('ro', 'exec sleep 3600').replace(`image: ${image}`, `image: ${bad}`))
    const i = await waitFor('RolledBack', async () => {
      const x = await info('ro')
      return x?.rolledBack ? x : undefined
    }, 30_000)
    assert.match(i.rolledBack!, /not Ready within the progress deadline of 6s/)
    const back = await waitFor('the old image running again', async () => {
      const x = await runningOf('ro')
      return x && x.id !== c.id && x
    })
    assert.equal(back.image?.image, c.image?.image, 'the successor runs the old image')
    const get = await podrun('get', 'pods', 'ro', '-n', ns, '-o', 'wide')
    assert.match(get.stdout, /rolled back to the last Ready version/)
    // The record survives the daemon: a new one keeps the old version and does not try the bad one.
    process.kill(daemon!.pid!, 'SIGKILL')
    await new Promise((r) => daemon!.once('exit', r))
    daemon = await startDaemon()
    await new Promise((r) => setTimeout(r, 3000))
    assert.equal((await runningOf('ro'))?.id, back.id)
    assert.match((await info('ro'))?.rolledBack ?? '', /rolled back/)
    fs.rmSync(path.join(manifestDir, 'ro.yaml'))
  })

  it('termination messages: what the program wrote to /dev/termination-log, or its log\'s end with FallbackToLogsOnError', async () => {
    const dir = path.join(work, 'term')
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, 'a.yaml'), pod('tmsg', 'echo "disk full on /data" > /dev/termination-log; exit 3', '', {podExtra: '  restartPolicy: Never\n'}))
    fs.writeFileSync(path.join(dir, 'b.yaml'), pod('tlog', 'echo starting; sleep 0.3; echo "cannot reach the broker" >&2; exit 4', '      terminationMessagePolicy: FallbackToLogsOnError\n', {podExtra: '  restartPolicy: Never\n'}))
    await podrun('apply', '-f', dir)
    const state = async (name: string) => JSON.parse((await podrun('get', 'pods', name, '-n', ns, '-o', 'json')).stdout).status.containerStatuses[0].state
    const a = await waitFor('tmsg terminated', async () => (await state('tmsg')).terminated)
    assert.equal(a.exitCode, 3)
    assert.equal(a.message, 'disk full on /data')
    const b = await waitFor('tlog terminated', async () => (await state('tlog')).terminated)
    assert.equal(b.exitCode, 4)
    assert.equal(b.message, 'starting\ncannot reach the broker')
    await podrun('delete', '-f', dir, '--grace-period', '0')
  })

  it('preStop runs on removal, inside the grace period of a PID 1 that ignores SIGTERM', async (t) => {
    const marks = path.join(work, 'marks')
    fs.mkdirSync(marks)
    const hook = "      lifecycle: {preStop: {exec: {command: [sh, -c, 'read up rest < /proc/uptime; echo $up > /marks/prestop']}}}\n      volumeMounts: [{name: marks, mountPath: /marks}]\n"
    write('ps2.yaml', pod('stopper', 'exec sleep 3600', hook, {grace: 4, podExtra: `  volumes: [{name: marks, hostPath: {path: ${marks}, type: Directory}}]\n`}))
    await waitFor('stopper running', () => runningOf('stopper'))
    const up = () => Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0])
    const t0 = up()
    fs.rmSync(path.join(manifestDir, 'ps2.yaml'))
    await waitFor('stopper gone', async () => (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'stopper'}})).length === 0)
    const t1 = up()
    const hookAt = Number(fs.readFileSync(path.join(marks, 'prestop'), 'utf8'))
    t.diagnostic(`preStop ran ${(hookAt - t0).toFixed(2)} s after the manifest was removed; the pod was gone after ${(t1 - t0).toFixed(2)} s (grace 4 s)`)
    assert.ok(hookAt >= t0 && hookAt < t0 + 4, 'the hook ran inside the grace period')
    assert.ok(t1 - t0 < 4 + 5, `removal took ${(t1 - t0).toFixed(1)} s`)
  })
})
