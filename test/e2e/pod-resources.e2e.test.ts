// What a pod gets from the machine, against the real containerd, seen from inside its containers
// and from the host: secret volumes and memory emptyDirs are tmpfs (sized by sizeLimit), fsGroup
// owns the volumes and joins the containers' groups, the pod-level cgroup carries the sum of the
// containers' limits, and imagePullSecrets reach a registry that asks for Basic auth.
//
// Needs: `bash scripts/runtime.sh up`, `eval "$(bash scripts/runtime.sh env)"`, `npm run build`.
import assert from 'node:assert/strict'
import {execFile, spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {mountsUnder} from '../../src/reconcile/subpath.js'
import {projectRoot, runPodrun, type Run} from '../support/cli.js'
import {kitchenSink, SINK_SECCOMP_PROFILE} from '../support/kitchen-sink.js'
import {hostHasAppArmor} from '../../src/reconcile/container-config.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const registry = process.env.PODRUN_REGISTRY
const authRegistry = process.env.PODRUN_AUTH_REGISTRY
const ns = `e2e-res-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-res-'))
const podRoot = path.join(work, 'root')
const env = {...process.env, PODRUN_ROOT: podRoot, PODRUN_LOG_ROOT: path.join(work, 'logs')}
const RUNNING = 1
const Mi = 1024 * 1024
const run = promisify(execFile)

const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 120_000)

function manifest(name: string, text: string): string {
  const f = path.join(work, `${name}.yaml`)
  fs.writeFileSync(f, text)
  return f
}

describe('pod volumes, groups, cgroup limits and registry credentials against the real runtime', {concurrency: false, timeout: 240_000}, () => {
  let cri: CriClient
  const running = async (pod: string, container: string) =>
    (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': pod, 'io.kubernetes.container.name': container}, state: {state: RUNNING}}))[0]
  const sh = async (id: string, cmd: string) => {
    const r = await cri.execSync(id, ['sh', '-c', cmd], 10)
    return {code: r.exitCode, out: Buffer.from(r.stdout).toString().trim(), err: Buffer.from(r.stderr).toString().trim()}
  }

  before(async () => {
    assert.ok(endpoint && image && registry && authRegistry, 'run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
  })

  after(async () => {
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0')
    cri?.close()
    if ((await mountsUnder(work)).length === 0) fs.rmSync(work, {recursive: true, force: true})
  })

  it('secrets and memory emptyDirs are tmpfs (sizeLimit holds); fsGroup owns the volumes; the pod cgroup has the sum of the limits', async () => {
    const f = manifest(
      'files',
      `apiVersion: v1
kind: Pod
metadata: {name: files, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {runAsUser: 1000, fsGroup: 2000}
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, "exec sleep 3600"]
      resources: {limits: {memory: 48Mi, cpu: 200m}}
      volumeMounts: [{name: sec, mountPath: /sec}, {name: mem, mountPath: /mem}, {name: data, mountPath: /data}]
    - name: side
      image: ${image}
      command: [sh, -c, "exec sleep 3600"]
      resources: {limits: {memory: 16Mi, cpu: 100m}}
  volumes:
    - {name: sec, secret: {secretName: tok, defaultMode: 0400}}
    - {name: mem, emptyDir: {medium: Memory, sizeLimit: 8Mi}}
    - {name: data, emptyDir: {}}
---
apiVersion: v1
kind: Secret
metadata: {name: tok, namespace: ${ns}}
stringData: {token: s3cret}
`,
    )
    const r = await podrun('apply', '-f', f)
    assert.equal(r.code, 0, r.stdout + r.stderr)
    const c = (await running('files', 'main'))!
    // tmpfs, from inside.
    const mounts = (await sh(c.id, 'cat /proc/mounts')).out
    assert.match(mounts, /^tmpfs \/sec tmpfs /m, mounts)
    assert.match(mounts, /^tmpfs \/mem tmpfs \S*size=8192k/m, mounts)
    assert.doesNotMatch(mounts, /^tmpfs \/data /m)
    const big = await sh(c.id, 'dd if=/dev/zero of=/mem/big bs=1M count=12')
    assert.notEqual(big.code, 0, 'writing past sizeLimit must fail')
    assert.match(big.err, /No space left/)
    // fsGroup: the groups of the process, the group of the volumes, a 0400 secret readable by the group.
    assert.match((await sh(c.id, 'id -G')).out, /\b2000\b/)
    assert.equal((await sh(c.id, 'stat -c %g /data')).out, '2000')
    assert.equal((await sh(c.id, 'stat -L -c "%g %a" /sec/token')).out, '2000 440')
    assert.equal((await sh(c.id, 'cat /sec/token')).out, 's3cret')
    assert.equal((await sh(c.id, 'touch /data/mine && stat -c %g /data/mine')).out, '2000', 'setgid: new files take the group')
    // The pod cgroup, on the host: the folder above the container's.
    const line = (await sh(c.id, 'cat /proc/self/cgroup')).out.split('\n').find((l) => /:memory:/.test(l) || /^0::/.test(l))!
    const containerPath = line.slice(line.lastIndexOf(':') + 1)
    const podPath = path.posix.dirname(containerPath)
    const v2 = fs.existsSync('/sys/fs/cgroup/cgroup.controllers')
    const limit = fs.readFileSync(v2 ? `/sys/fs/cgroup${podPath}/memory.max` : `/sys/fs/cgroup/memory${podPath}/memory.limit_in_bytes`, 'utf8').trim()
    assert.equal(Number(limit), 64 * Mi)
    const quota = v2 ? fs.readFileSync(`/sys/fs/cgroup${podPath}/cpu.max`, 'utf8').trim().split(' ')[0] : fs.readFileSync(`/sys/fs/cgroup/cpu${podPath}/cpu.cfs_quota_us`, 'utf8').trim()
    assert.equal(quota, '30000')
    // The tmpfs mounts go with the pod.
    const uid = JSON.parse((await podrun('get', 'pods', 'files', '-n', ns, '-o', 'json')).stdout).metadata.uid as string
    assert.ok((await mountsUnder(path.join(podRoot, 'pods', uid))).length >= 2)
    assert.equal((await podrun('delete', '-f', f, '--grace-period', '0')).code, 0)
    assert.deepEqual(await mountsUnder(path.join(podRoot, 'pods', uid)), [])
    assert.ok(!fs.existsSync(path.join(podRoot, 'pods', uid)))
  })

  it('without a daemon, a pod whose volume cannot be set up is shown ContainerCreating, with what would retry it', async () => {
    const f = manifest(
      'nofile',
      `apiVersion: v1
kind: Pod
metadata: {name: nofile, namespace: ${ns}}
spec:
  containers:
    - {name: main, image: ${image}, command: [sleep, '3600'], volumeMounts: [{name: conf, mountPath: /conf}]}
  volumes: [{name: conf, hostPath: {path: ${path.join(work, 'absent.conf')}, type: File}}]
`,
    )
    const r = await podrun('apply', '-f', f, '--allowed-host-paths', work)
    assert.equal(r.code, 3, r.stdout + r.stderr)
    assert.match(r.stdout, /^pod\/nofile failed \(FailedMount\)$/m)
    assert.match(r.stderr, /is not an existing file/)
    const g = await podrun('get', 'pods', '-n', ns)
    assert.match(g.stdout, /nofile\s+0\/1\s+ContainerCreating/, g.stdout)
    const json = JSON.parse((await podrun('get', 'pods', 'nofile', '-n', ns, '-o', 'json')).stdout)
    assert.match(json.status.containerStatuses[0].state.waiting.message, /no podrun daemon answers/)
    const d = await podrun('delete', '-f', f)
    assert.equal(d.code, 0, d.stdout + d.stderr)
    assert.doesNotMatch((await podrun('get', 'pods', '-n', ns)).stdout, /nofile/)
  })

  it('recursiveReadOnly: IfPossible runs on any runtime; Enabled runs only where the runtime handler supports it', async () => {
    const supported = (await cri.status()).runtimeHandlers.some((h) => h.name === '' && h.features?.recursiveReadOnlyMounts)
    const rro = (name: string, mode: string) =>
      manifest(
        name,
        `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: main, image: ${image}, command: [sleep, '3600'], volumeMounts: [{name: d, mountPath: /d, readOnly: true, recursiveReadOnly: ${mode}}]}
  volumes: [{name: d, emptyDir: {}}]
`,
      )
    const maybe = await podrun('apply', '-f', rro('rro-maybe', 'IfPossible'))
    assert.equal(maybe.code, 0, maybe.stdout + maybe.stderr)
    const strict = await podrun('apply', '-f', rro('rro-strict', 'Enabled'), '--wait-timeout', '20s')
    if (supported) assert.equal(strict.code, 0, strict.stdout + strict.stderr)
    else {
      assert.equal(strict.code, 3, strict.stdout + strict.stderr)
      assert.match(strict.stdout, /^pod\/rro-strict failed \(CreateContainerConfigError\)$/m)
      assert.match(strict.stderr, /does not support recursive read-only mounts/)
    }
    await podrun('delete', 'pod', 'rro-maybe', 'rro-strict', '-n', ns, '--grace-period', '0')
  })

  it('the kitchen sink (every Pod field validation accepts) runs on the real runtime, as validated', async (t) => {
    const seccompDir = path.join(podRoot, 'seccomp')
    fs.mkdirSync(seccompDir, {recursive: true})
    fs.writeFileSync(path.join(seccompDir, 'podrun-sink.json'), SINK_SECCOMP_PROFILE)
    const hostPort = 21000 + (process.pid % 9000)
    // mountPropagation: HostToContainer needs the host path on a shared (or slave) mount, as on a
    // systemd host; here it is made one, and the runtime's refusal otherwise is the kubelet's too.
    const hostDir = path.join(work, 'sink-host')
    fs.mkdirSync(hostDir)
    await run('mount', ['--bind', hostDir, hostDir])
    await run('mount', ['--make-shared', hostDir])
    t.after(() => run('umount', [hostDir]).then(() => undefined))
    const f = manifest('sink', kitchenSink({namespace: ns, image: image!, hostDir, hostPort, registry: registry!, appArmor: hostHasAppArmor() ? 'Localhost' : 'Unconfined'}))
    // Every field, host port and hostPath included: only the privileged level allows it all.
    const v = await podrun('validate', '-f', f, '--pod-security=privileged')
    assert.equal(v.code, 0, v.stdout + v.stderr)
    const r = await podrun('apply', '-f', f, '--pod-security=privileged')
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.match((await podrun('get', 'pods', 'sink', '-n', ns)).stdout, /sink\s+2\/2\s+Running/)
    const c = (await running('sink', 'app'))!
    assert.equal((await sh(c.id, 'echo $LEVEL $TOKEN $MEM_MI $CM_level $POD_NAME')).out, 'debug s3cret 64 debug sink')
    assert.equal((await sh(c.id, 'cat /data/sub/ready')).out, 'prepared', 'the init container wrote through its subPath')
    assert.equal((await sh(c.id, 'cat /tmp/poststart')).out, 'started')
    assert.equal((await sh(c.id, 'id -u; id -g')).out, '1000\n3000')
    assert.match((await sh(c.id, 'cat /etc/hosts')).out, /10\.9\.9\.9\tsink\.local\tsink-alias/)
    assert.match((await sh(c.id, 'grep Seccomp: /proc/self/status')).out, /Seccomp:\s+2/)
    assert.equal((await sh(c.id, 'cat /cfg/level')).out, 'debug')
    const body = await new Promise<string>((res, rej) => http.get({host: '127.0.0.1', port: hostPort, path: '/'}, (m) => {
      let b = ''
      m.on('data', (x) => (b += x))
      m.on('end', () => res(b))
    }).on('error', rej))
    assert.equal(body.trim(), 'ok')
    const uid = JSON.parse((await podrun('get', 'pods', 'sink', '-n', ns, '-o', 'json')).stdout).metadata.uid as string
    assert.equal((await podrun('delete', '-f', f)).code, 0)
    assert.deepEqual(await mountsUnder(path.join(podRoot, 'pods', uid)), [])
  })

  it('exec: output, stderr and the exit code of a command in the default or a named container; --timeout; clear errors', async () => {
    const f = manifest(
      'execs',
      `apiVersion: v1
kind: Pod
metadata: {name: execs, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: main, image: ${image}, command: [sleep, '3600']}
    - {name: second, image: ${image}, command: [sleep, '3600'], env: [{name: WHO, value: second}]}
`,
    )
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const hello = await podrun('exec', 'execs', '-n', ns, '--', 'sh', '-c', 'echo out; echo err >&2')
    assert.equal(hello.code, 0, hello.stderr)
    assert.equal(hello.stdout, 'out\n')
    assert.match(hello.stderr, /Defaulted container "main" out of: main, second\nerr\n/)
    const three = await podrun('exec', 'pod/execs', '-n', ns, '-c', 'second', '--', 'sh', '-c', 'echo $WHO; exit 3')
    assert.equal(three.code, 3)
    assert.equal(three.stdout, 'second\n')
    const slow = await podrun('exec', 'execs', '-n', ns, '-c', 'main', '--timeout', '2s', '--', 'sleep', '30')
    assert.notEqual(slow.code, 0)
    assert.equal(slow.code, 1)
    assert.match(slow.stderr, /the command did not finish within 2s \(--timeout\)/)
    const none = await podrun('exec', 'execs', '-n', ns)
    assert.equal(none.code, 1)
    assert.match(none.stderr, /no command: put it after --/)
    const bad = await podrun('exec', 'execs', '-n', ns, '-c', 'third', '--', 'true')
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /container third is not valid for pod execs/)
    // Without a daemon there are no events, and it says where they come from.
    const ev = await podrun('events', '-n', ns)
    assert.equal(ev.code, 0)
    assert.match(ev.stderr, /No events: no podrun daemon answers on .*Events are recorded by the daemon/)
    await podrun('delete', '-f', f, '--grace-period', '0')
  })

  it('exec -it is a shell in a terminal (driven in a pseudo-terminal) and exits with its code; exec -i takes a pipe; port-forward reaches the pod\'s port', async () => {
    const f = manifest('streams', `apiVersion: v1
kind: Pod
metadata: {name: streams, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 2
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, "mkdir -p /www && echo served-by-streams > /www/index.html && httpd -p 8080 -h /www && exec sleep 3600"]
      ports: [{name: http, containerPort: 8080}]
`)
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const bin = path.join(projectRoot, 'bin/run.js')
    // script(1) gives podrun a terminal; the keys are typed before the shell reads them.
    const keys = 'echo hello-$((40+2)); stty size\nexit 3\n'
    const tty = await new Promise<{code: number | null; out: string}>((resolve) => {
      const child = spawn('script', ['-qfec', `${process.execPath} ${bin} exec -it streams -n ${ns} -- sh`, '/dev/null'], {env: {...env, COLUMNS: '100', LINES: '30'}})
      let out = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (out += d.toString()))
      child.stdin.end(keys)
      child.on('exit', (code) => resolve({code, out}))
    })
    assert.equal(tty.code, 3, tty.out)
    assert.match(tty.out, /^hello-42\r?$/m)
    // The shell's terminal has a size: the one podrun sent.
    assert.match(tty.out, /^\d+ \d+\r?$/m)
    const piped = await new Promise<{code: number | null; out: string; err: string}>((resolve) => {
      const child = spawn(process.execPath, [bin, 'exec', '-i', 'streams', '-n', ns, '--', 'sh', '-c', 'read a; read b; echo "$b-$a"; exit 5'], {env})
      let out = ''
      let err = ''
      child.stdout.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr.on('data', (d: Buffer) => (err += d.toString()))
      child.stdin.end('first\nsecond\n')
      child.on('exit', (code) => resolve({code, out, err}))
    })
    assert.equal(piped.code, 5, piped.err)
    assert.equal(piped.out, 'second-first\n')

    // port-forward: a free local port to the named container port, and one to a closed port.
    const pf = spawn(process.execPath, [bin, 'port-forward', 'pod/streams', '-n', ns, ':http', ':9'], {env})
    let pfOut = ''
    let pfErr = ''
    pf.stdout.on('data', (d: Buffer) => (pfOut += d.toString()))
    pf.stderr.on('data', (d: Buffer) => (pfErr += d.toString()))
    const deadline = Date.now() + 20_000
    while (!/-> 9\n/.test(pfOut) && Date.now() < deadline && pf.exitCode === null) await new Promise((r) => setTimeout(r, 100))
    const web = Number(/^Forwarding from 127\.0\.0\.1:(\d+) -> 8080$/m.exec(pfOut)?.[1])
    const closed = Number(/^Forwarding from 127\.0\.0\.1:(\d+) -> 9$/m.exec(pfOut)?.[1])
    assert.ok(web > 0 && closed > 0, `${pfOut}\n${pfErr}`)
    const get = (port: number) =>
      new Promise<string>((resolve, reject) => {
        http.get({host: '127.0.0.1', port, path: '/index.html'}, (res) => {
          let body = ''
          res.on('data', (d: Buffer) => (body += d.toString()))
          res.on('end', () => resolve(body))
        }).on('error', reject)
      })
    // Several connections at once, each with its own stream.
    const bodies = await Promise.all([1, 2, 3, 4].map(() => get(web)))
    assert.deepEqual(bodies, Array(4).fill('served-by-streams\n'))
    await assert.rejects(get(closed))
    assert.match(pfErr, /Handling connection for \d+/)
    assert.match(pfErr, /error: forwarding to port 9: /)
    pf.kill('SIGINT')
    assert.equal(await new Promise((r) => pf.once('exit', r)), 0)
    const badSpec = await podrun('port-forward', 'streams', '-n', ns, '80:99999')
    assert.equal(badSpec.code, 1)
    assert.match(badSpec.stderr, /invalid port "99999"/)
    await podrun('delete', '-f', f, '--grace-period', '0')
  })

  it('files on the host: podrun\'s root and the pods folder 0700, a pod\'s folder 0750; a local user reads no secret and reaches no emptyDir; a mistyped Secret value is never printed', async (t) => {
    // Only podrun's own modes may stand between a local user and the files: podrun's root is put
    // where everyone can reach (/dev/shm, world-traversable), not under the test's private folder.
    const open = fs.mkdtempSync('/dev/shm/podrun-e2e-')
    fs.chmodSync(open, 0o755)
    const podRoot = path.join(open, 'root')
    const podrun = (...args: string[]): Promise<Run> => runPodrun({...env, PODRUN_ROOT: podRoot}, args, 120_000)
    t.after(async () => {
      if ((await mountsUnder(open)).length === 0) fs.rmSync(open, {recursive: true, force: true})
    })
    const f = manifest('hostfiles', `apiVersion: v1
kind: Secret
metadata: {name: pin, namespace: ${ns}}
stringData: {pin: "48213"}
---
apiVersion: v1
kind: Pod
metadata: {name: hostfiles, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: ${image}
      command: [sleep, '3600']
      volumeMounts: [{name: pin, mountPath: /pin}, {name: scratch, mountPath: /scratch}]
  volumes:
    - {name: pin, secret: {secretName: pin, defaultMode: 0400}}
    - {name: scratch, emptyDir: {}}
`)
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const c = (await running('hostfiles', 'main'))!
    assert.equal((await sh(c.id, 'cat /pin/pin')).out, '48213')
    const uid = c.labels['io.kubernetes.pod.uid']
    const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8)
    assert.equal(mode(podRoot), '700')
    assert.equal(mode(path.join(podRoot, 'pods')), '700')
    assert.equal(mode(path.join(podRoot, 'pods', uid)), '750')
    const secretFile = path.join(podRoot, 'pods', uid, 'volumes', 'secret', 'pin', 'pin')
    assert.equal(fs.readFileSync(secretFile, 'utf8'), '48213')
    assert.equal(mode(fs.realpathSync(secretFile)), '400')
    const asNobody = (cmd: string) => spawnSync('sh', ['-c', cmd], {uid: 65534, gid: 65534, encoding: 'utf8'})
    const read = asNobody(`cat ${secretFile}`)
    assert.notEqual(read.status, 0)
    assert.match(read.stderr, /Permission denied/)
    const scratch = asNobody(`ln -s / ${path.join(podRoot, 'pods', uid, 'volumes', 'empty-dir', 'scratch', 'planted')}`)
    assert.notEqual(scratch.status, 0)
    await podrun('delete', '-f', f, '--grace-period', '0')
    // A Secret value written as a number is refused without being printed.
    const bad = manifest('badpin', `apiVersion: v1
kind: Secret
metadata: {name: badpin, namespace: ${ns}}
stringData: {pin: 59127}
`)
    const v = await podrun('apply', '-f', bad)
    assert.equal(v.code, 1)
    assert.match(v.stderr, /stringData\.pin: expected a string, got a number \(a Secret's value, not shown\)/)
    assert.doesNotMatch(v.stdout + v.stderr, /59127/)
  })

  it('wait: for a condition, for deletion, with a timeout, as kubectl wait', async () => {
    const f = manifest('waits', `apiVersion: v1
kind: Pod
metadata: {name: waits, namespace: ${ns}, labels: {app: waits}}
spec:
  terminationGracePeriodSeconds: 2
  containers: [{name: main, image: ${image}, command: [sleep, '3600']}]
`)
    assert.equal((await podrun('apply', '-f', f, '--no-wait')).code, 0)
    const ready = await podrun('wait', '--for=condition=Ready', 'pod/waits', '-n', ns, '--timeout', '60s')
    assert.equal(ready.code, 0, ready.stderr)
    assert.equal(ready.stdout, 'pod/waits condition met\n')
    const byLabel = await podrun('wait', '--for', 'condition=ContainersReady', '-l', 'app=waits', '-n', ns)
    assert.equal(byLabel.stdout, 'pod/waits condition met\n')
    const never = await podrun('wait', '--for=condition=Ready=false', 'pod/waits', '-n', ns, '--timeout', '1s')
    assert.equal(never.code, 1)
    assert.match(never.stderr, /timed out waiting for the condition on pods\/waits/)
    const missing = await podrun('wait', '--for=condition=Ready', 'pod/nosuch', '-n', ns)
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /pods "nosuch" not found/)
    const deleting = podrun('delete', '-f', f)
    const gone = await podrun('wait', '--for=delete', 'pod/waits', '-n', ns, '--timeout', '60s')
    assert.equal(gone.code, 0, gone.stderr)
    assert.equal(gone.stdout, 'pod/waits deleted\n')
    assert.equal((await deleting).code, 0)
  })

  it('top: a container that burns CPU shows above an idle one; memory as the working set', async () => {
    const f = manifest('tops', `apiVersion: v1
kind: Pod
metadata: {name: tops, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - {name: burn, image: ${image}, command: [sh, -c, "while :; do :; done"], resources: {limits: {cpu: 500m}}}
    - {name: idle, image: ${image}, command: [sleep, '3600']}
`)
    assert.equal((await podrun('apply', '-f', f)).code, 0)
    const r = await podrun('top', 'pods', 'tops', '-n', ns, '--containers')
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /^POD\s+NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)$/m)
    const cpu = (c: string) => Number(new RegExp(`^tops\\s+${c}\\s+(\\d+)m\\s+\\d+Mi$`, 'm').exec(r.stdout)?.[1])
    assert.ok(cpu('burn') >= 200 && cpu('burn') <= 600, r.stdout)
    assert.ok(cpu('idle') < 50, r.stdout)
    const pods = await podrun('top', 'pods', '-n', ns)
    assert.match(pods.stdout, /^tops\s+\d+m\s+\d+Mi$/m)
    await podrun('delete', '-f', f, '--grace-period', '0')
  })

  it('prune: a pod nobody wants any more goes whole (sandbox, containers, folder, logs); logs and links of gone containers go; --images removes an unused image; nothing that runs is touched', async () => {
    const podText = (name: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers: [{name: main, image: ${image}, command: [sleep, '3600']}]
`
    const keep = manifest('gckeep', podText('gckeep'))
    const gone = manifest('gcgone', podText('gcgone'))
    assert.equal((await podrun('apply', '-f', keep, '-f', gone)).code, 0)
    const sandboxOf = async (name: string) => (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name}}))[0]
    const kept = await running('gckeep', 'main')
    const goneSb = await sandboxOf('gcgone')
    const goneUid = goneSb.labels['io.kubernetes.pod.uid']
    const logs = path.join(work, 'logs')
    const links = path.join(work, 'containers')
    const goneLogDir = path.join(logs, `${ns}_gcgone_${goneUid}`)
    assert.ok(fs.existsSync(goneLogDir) && fs.existsSync(path.join(podRoot, 'pods', goneUid)))
    // gcgone: stopped, and forgotten by apply (as after a crash of podrun in the middle of a delete).
    await cri.stopPodSandbox(goneSb.id)
    fs.rmSync(path.join(work, 'root', 'applied', `${ns}_gcgone.json`))
    const old = new Date(Date.now() - 120_000)
    fs.utimesSync(goneLogDir, old, old)
    // gckeep: a log file of an instance that is gone, and a link of a container that is gone.
    const keepLogDir = path.join(logs, `${ns}_gckeep_${kept.labels['io.kubernetes.pod.uid']}`)
    fs.writeFileSync(path.join(keepLogDir, 'main', '7.log'), 'old\n')
    const staleLink = path.join(links, `gckeep_${ns}_main-${'f'.repeat(64)}.log`)
    fs.symlinkSync(path.join(keepLogDir, 'main', '9.log'), staleLink)
    const keptLink = fs.readdirSync(links).find((n) => n.includes(kept.id))
    assert.ok(keptLink)

    const dry = await podrun('prune', '--dry-run')
    assert.equal(dry.code, 0, dry.stderr)
    assert.match(dry.stdout, new RegExp(`^would remove sandbox ${ns}/gcgone \\(\\w+\\): its pod no longer exists$`, 'm'))
    assert.match(dry.stdout, new RegExp(`^would remove container ${ns}/gcgone/main #0 \\(\\w+\\): its pod no longer exists$`, 'm'))
    assert.match(dry.stdout, /^would remove log .*\/main\/7\.log: its container is gone$/m)
    assert.match(dry.stdout, /^would remove link .*-f{64}\.log: its container is gone$/m)
    assert.ok(await sandboxOf('gcgone'), 'a dry run removes nothing')
    const isThere = (f: string) => fs.lstatSync(f, {throwIfNoEntry: false}) !== undefined
    assert.ok(isThere(staleLink))

    const r = await podrun('prune')
    assert.equal(r.code, 0, r.stderr)
    assert.equal(await sandboxOf('gcgone'), undefined)
    assert.equal((await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': 'gcgone'}})).length, 0)
    assert.ok(!fs.existsSync(path.join(podRoot, 'pods', goneUid)), 'the gone pod\'s folder is removed')
    assert.match(r.stdout, /^removed log .*_gcgone_.*: its pod is gone$/m)
    assert.ok(!fs.existsSync(goneLogDir))
    assert.ok(!fs.existsSync(path.join(keepLogDir, 'main', '7.log')))
    assert.ok(!isThere(staleLink))
    // What runs is untouched: the container, its log and its link.
    assert.equal((await running('gckeep', 'main'))?.id, kept.id)
    assert.ok(fs.existsSync(path.join(keepLogDir, 'main', '0.log')))
    assert.ok(fs.existsSync(path.join(links, keptLink)))
    assert.equal((await podrun('prune')).stdout, 'nothing to remove\n')

    // --images: an image no container uses goes; the running pod's and the sandbox image stay.
    const other = process.env.PODRUN_TEST_IMAGE_OTHER!
    assert.ok(other, 'PODRUN_TEST_IMAGE_OTHER (scripts/runtime.sh env)')
    await cri.pullImage(other)
    const img = await podrun('prune', '--images', '-o', 'json')
    assert.equal(img.code, 0, img.stderr)
    const removed = (JSON.parse(img.stdout) as {removed: {kind: string; what: string}[]}).removed
    assert.deepEqual(removed.filter((x) => x.kind === 'image').map((x) => x.what), [other])
    const tags = (await cri.listImages()).flatMap((i) => i.repoTags)
    assert.ok(!tags.includes(other))
    assert.ok(tags.includes(image!) && tags.includes(process.env.PODRUN_PAUSE_IMAGE!), tags.join(' '))
    await podrun('delete', '-f', keep, '--grace-period', '0')
  })

  it('imagePullSecrets reach a registry that asks for Basic auth; without them, or with a wrong password, the pull fails', async () => {
    const [user, password] = ['puller', 'pa55-word']
    const want = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
    const seen: string[] = []
    // A registry that asks for credentials: in front of the local one, on the port containerd knows as plain HTTP.
    const [upHost, upPort] = registry!.split(':')
    const server = http.createServer((req, res) => {
      seen.push(req.headers.authorization ?? '')
      if (req.headers.authorization !== want) {
        res.writeHead(401, {'WWW-Authenticate': 'Basic realm="podrun-test"', 'Docker-Distribution-Api-Version': 'registry/2.0'}).end()
        return
      }
      const {authorization: _drop, ...headers} = req.headers
      const up = http.request({host: upHost, port: Number(upPort), method: req.method, path: req.url, headers: {...headers, host: registry}}, (u) => {
        res.writeHead(u.statusCode ?? 502, u.headers)
        u.pipe(res)
      })
      up.on('error', () => res.destroy())
      req.pipe(up)
    })
    const [host, port] = authRegistry!.split(':')
    await new Promise<void>((res) => server.listen(Number(port), host, res))
    try {
      const img = `${authRegistry}/podrun/busybox:1.35`
      const secret = (name: string, pw: string) => `---
apiVersion: v1
kind: Secret
metadata: {name: ${name}, namespace: ${ns}}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '${JSON.stringify({auths: {[`http://${authRegistry}`]: {auth: Buffer.from(`${user}:${pw}`).toString('base64')}}})}'
`
      const pod = (name: string, secretName?: string) => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 1
${secretName ? `  imagePullSecrets: [{name: ${secretName}}]\n` : ''}  containers:
    - name: main
      image: ${img}
      imagePullPolicy: Always
      command: [sh, -c, "exec sleep 3600"]
`
      const none = await podrun('apply', '-f', manifest('noauth', pod('noauth')), '--wait-timeout', '30s')
      assert.notEqual(none.code, 0, none.stdout + none.stderr)
      assert.match(none.stdout + none.stderr, /ErrImagePull/)
      assert.ok(seen.length > 0 && !seen.some(Boolean), 'no credentials were sent')

      seen.length = 0
      const wrong = await podrun('apply', '-f', manifest('wrong', pod('wrong', 'badcred') + secret('badcred', 'nope')), '--wait-timeout', '30s')
      assert.notEqual(wrong.code, 0, wrong.stdout + wrong.stderr)
      assert.ok(seen.some((a) => a.startsWith('Basic ')) && !seen.includes(want))

      seen.length = 0
      const ok = await podrun('apply', '-f', manifest('auth', pod('withauth', 'regcred') + secret('regcred', password)))
      assert.equal(ok.code, 0, ok.stdout + ok.stderr)
      assert.ok(seen.includes(want), `the registry saw: ${JSON.stringify([...new Set(seen)])}`)
      assert.ok(await running('withauth', 'main'))
    } finally {
      server.closeAllConnections()
      await new Promise((res) => server.close(res))
    }
  })
})
