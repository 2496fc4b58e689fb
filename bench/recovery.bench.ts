// Recovery after a power cut: how long after the runtime answers again are all pods Running,
// against the raw CRI floor for creating the same number of pods in the same run.
//
//   1. a `podrun daemon` runs 20 pods, half from its folder and half made by `podrun apply`;
//   2. scripts/runtime.sh power-cut: containerd, its shims and every container killed at once, the
//      runtime's /run state emptied, containerd started again as at boot (sandboxes NOTREADY,
//      containers EXITED); the clock starts when the script returns (containerd answers);
//   3. the clock stops when the runtime lists a running container for each of the 20 pods;
//   4. the floor: bench/raw-cri.ts `up 20 4` (RunPodSandbox, PodSandboxStatus, CreateContainer,
//      StartContainer per pod, 4 pods at a time, as podrun's --parallel) on a fresh namespace, as a
//      whole process, and its `down` afterwards.
// Rounds alternate (BENCH_ROUNDS, default 3); the table shows medians and the ratio. Target: the
// recovery within 2x of the floor (it also removes 20 dead sandboxes: StopPodSandbox with a CNI
// DEL and RemovePodSandbox each, which the floor does not do). Misses print MISS; exit 0.
//
// Run: bash scripts/runtime.sh up && eval "$(bash scripts/runtime.sh env)" && npm run build &&
//      node --import tsx bench/recovery.bench.ts
import {execFile, spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {connectCri, type CriClient} from '../src/cri/client.js'
import {podYaml} from '../test/support/pod-yaml.js'
import {getOverSocket, waitFor} from '../test/support/wait.js'
import {buildFloor} from './lib/floor.js'
import {mustRun} from './lib/proc.js'
import {median} from './lib/stats.js'
import {removeNamespaces} from './lib/cluster.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const PODS = 20
const PARALLEL = 4
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const TARGET_RATIO = 2
const id = process.pid
const ns = `bench-recovery-${id}`
const nsRaw = `bench-recovery-${id}-raw`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-bench-recovery-'))
const manifestDir = path.join(work, 'manifests')
const appliedDir = path.join(work, 'applied')
const stateDir = path.join(work, 'state')
const socket = path.join(stateDir, 'podrun.sock')
const env = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs'), PODRUN_DAEMON_SOCKET: socket}

function powerCut(): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile('bash', [path.join(root, 'scripts/runtime.sh'), 'power-cut'], {cwd: root, timeout: 120_000}, (err, _out, stderr) => (err ? reject(new Error(`power-cut: ${stderr}`)) : resolve())),
  )
}

async function runningPods(cri: CriClient): Promise<number> {
  const cs = await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns}, state: {state: 1}})
  return new Set(cs.map((c) => c.labels['io.kubernetes.pod.name'])).size
}

async function main(): Promise<void> {
  if (!endpoint || !image) throw new Error('set CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE: eval "$(bash scripts/runtime.sh env)"')
  if (!fs.existsSync(path.join(root, 'dist/commands/daemon.js'))) throw new Error('run `npm run build` first')
  const floor = buildFloor(root, work)
  fs.mkdirSync(manifestDir)
  fs.mkdirSync(appliedDir)
  for (let i = 0; i < PODS / 2; i++) {
    fs.writeFileSync(path.join(appliedDir, `a${i}.yaml`), podYaml(`app-${i}`, {namespace: ns, image, terminationGracePeriodSeconds: 0}))
  }
  let cri = await connectCri({endpoint, timeoutMs: 30_000})
  const logFd = fs.openSync(path.join(work, 'daemon.log'), 'a')
  const daemon: ChildProcess = spawn(process.execPath, [path.join(root, 'bin/run.js'), 'daemon', '--manifest-dir', manifestDir, '--state-dir', stateDir, '--parallel', String(PARALLEL)], {
    env,
    stdio: ['ignore', logFd, logFd],
  })
  fs.closeSync(logFd)
  const recovery: number[] = []
  const raw: number[] = []
  try {
    await waitFor('the daemon', async () => (await getOverSocket(socket, '/readyz')).code === 200, 30_000, 50)
    await mustRun('podrun apply', process.execPath, [path.join(root, 'bin/run.js'), 'apply', '-f', appliedDir], {env, cwd: root})
    for (let i = 0; i < PODS / 2; i++) fs.writeFileSync(path.join(manifestDir, `f${i}.yaml`), podYaml(`dir-${i}`, {namespace: ns, image, terminationGracePeriodSeconds: 0}))
    await waitFor(`${PODS} pods running`, async () => (await runningPods(cri)) === PODS, 120_000, 100)
    console.log(`recovery bench: ${os.cpus().length} CPUs, runtime ${cri.runtimeName} ${cri.runtimeVersion}, ${PODS} pods (half applied, half from the folder), ${ROUNDS} rounds\n`)
    for (let r = 0; r < ROUNDS; r++) {
      cri.close()
      await powerCut()
      const t0 = performance.now()
      cri = await waitFor('the CRI', () => connectCri({endpoint, timeoutMs: 30_000}).catch(() => undefined), 30_000, 20)
      await waitFor('all pods running again', async () => (await runningPods(cri).catch(() => 0)) === PODS, 180_000, 50)
      recovery.push((performance.now() - t0) / 1000)
      const common = ['--namespace', nsRaw, '--image', image, '--grace', '0', '--log-root', path.join(work, 'logs-raw')]
      const up = await mustRun('raw up', process.execPath, [floor, 'up', String(PODS), String(PARALLEL), ...common], {env, cwd: root})
      raw.push(up.seconds)
      await mustRun('raw down', process.execPath, [floor, 'down', String(PODS), String(PARALLEL), ...common], {env, cwd: root})
      console.log(`round ${r + 1}: recovery ${recovery[r].toFixed(2)} s, raw create ${raw[r].toFixed(2)} s`)
    }
    const ratio = median(recovery) / median(raw)
    console.log('')
    console.log(`${'power cut -> all pods Running (median)'.padEnd(48)} ${`${median(recovery).toFixed(2)} s`.padStart(9)}`)
    console.log(`${'raw CRI floor: create the same number (median)'.padEnd(48)} ${`${median(raw).toFixed(2)} s`.padStart(9)}`)
    console.log(`${'ratio recovery / floor'.padEnd(48)} ${`${ratio.toFixed(2)}x`.padStart(9)}   target <= ${TARGET_RATIO}x ${ratio <= TARGET_RATIO ? 'ok' : 'MISS'}`)
  } finally {
    if (daemon.pid !== undefined && daemon.exitCode === null && daemon.signalCode === null) {
      process.kill(daemon.pid, 'SIGTERM')
      await new Promise((r) => daemon.once('exit', r))
    }
    await mustRun('podrun delete', process.execPath, [path.join(root, 'bin/run.js'), 'delete', 'pods', '--all', '-n', ns, '--grace-period', '0', '--force'], {env, cwd: root}).catch((e) =>
      console.error(`cleanup: ${(e as Error).message}`),
    )
    await removeNamespaces(cri, (n) => n === nsRaw).catch(() => 0)
    cri.close()
    fs.rmSync(work, {recursive: true, force: true})
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`)
  process.exitCode = 1
})
