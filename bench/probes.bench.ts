// What probes cost the daemon: 100 pods (host network, each serving HTTP on its own loopback
// port with busybox httpd), idle, measured three ways side by side in one run:
//   none     no probes
//   httpGet  a readinessProbe httpGet every 10 s on each (from the daemon to 127.0.0.1:PORT)
//   exec     a readinessProbe exec ["true"] every 10 s on each (each one a runtime ExecSync)
// Adding or changing a probe restarts nothing (probes are not part of a container's hash), so the
// same containers are measured in all three. For each: the daemon's CPU over BENCH_IDLE_SECONDS
// (60) from the scheduler's accounting, and its RSS, after BENCH_SETTLE_SECONDS (20). Then what
// one exec costs on the runtime: ExecSync of ["true"] made directly, median of 20.
//
// Run: bash scripts/runtime.sh up && eval "$(bash scripts/runtime.sh env)" && npm run build &&
//      node --import tsx bench/probes.bench.ts     (BENCH_PODS, BENCH_IDLE_SECONDS, BENCH_SETTLE_SECONDS)
import {spawn, type ChildProcess} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {connectCri} from '../src/cri/client.js'
import {getOverSocket, waitFor} from '../test/support/wait.js'
import {procStat} from './lib/procstat.js'
import {unitNodeOptions} from './lib/unit.js'
import {daemonWorkspace} from '../test/support/daemon-workspace.js'
import {median} from './lib/stats.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const PODS = Number(process.env.BENCH_PODS ?? 100)
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60)
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 20)
const BASE_PORT = 24000
const {ns, work, manifestDir, stateDir, socket, env} = daemonWorkspace('probes', 'bench')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

type Kind = 'none' | 'httpGet' | 'exec'

function pod(i: number, kind: Kind): string {
  const port = BASE_PORT + i
  const probe =
    kind === 'httpGet'
      ? `      readinessProbe: {httpGet: {path: /index.html, port: ${port}}, periodSeconds: 10}\n`
      : kind === 'exec'
        ? `      readinessProbe: {exec: {command: ["true"]}, periodSeconds: 10}\n`
        : ''
  return `apiVersion: v1
kind: Pod
metadata: {name: p-${i}, namespace: ${ns}}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: ${image}
      command: ["sh", "-c", "mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:${port} -h /tmp/www"]
${probe}`
}

async function main(): Promise<void> {
  if (!endpoint || !image) throw new Error('set CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE: eval "$(bash scripts/runtime.sh env)"')
  fs.mkdirSync(manifestDir)
  const cri = await connectCri({endpoint, timeoutMs: 30_000})
  const logFd = fs.openSync(path.join(work, 'daemon.log'), 'a')
  const daemon: ChildProcess = spawn(process.execPath, [path.join(root, 'bin/run.js'), 'daemon', '--manifest-dir', manifestDir, '--state-dir', stateDir, '--pod-security=privileged'], {
    env: {...env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${unitNodeOptions(root)}`.trim()},
    stdio: ['ignore', logFd, logFd],
  })
  fs.closeSync(logFd)
  const rows: Array<{kind: Kind; cpu: number; rss: number; ready: number}> = []
  try {
    await waitFor('the daemon', async () => (await getOverSocket(socket, '/readyz')).code === 200, 30_000, 50)
    for (const kind of ['none', 'httpGet', 'exec'] as Kind[]) {
      for (let i = 0; i < PODS; i++) fs.writeFileSync(path.join(manifestDir, `p${i}.yaml`), pod(i, kind))
      await waitFor(`${PODS} running`, async () => (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns}, state: {state: 1}})).length === PODS, 300_000, 250)
      await sleep(SETTLE_SECONDS * 1000)
      const s0 = procStat(daemon.pid!)
      const t0 = performance.now()
      await sleep(IDLE_SECONDS * 1000)
      const s1 = procStat(daemon.pid!)
      const secs = (performance.now() - t0) / 1000
      const view = JSON.parse((await getOverSocket(socket, '/api/v1/pods')).body) as {pods: Array<{ready: boolean}>}
      rows.push({kind, cpu: ((s1.runNs - s0.runNs) / 1e9 / secs) * 100, rss: s1.rssKb / 1024, ready: view.pods.filter((p) => p.ready).length})
      console.log(`${kind}: measured`)
    }
    const ids = (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns}, state: {state: 1}})).map((c) => c.id)
    const execMs: number[] = []
    for (let i = 0; i < 20; i++) {
      const t = performance.now()
      await cri.execSync(ids[i % ids.length], ['true'], 5)
      execMs.push(performance.now() - t)
    }
    const base = rows[0]
    console.log(`\nprobes bench: ${os.cpus().length} CPUs, runtime ${cri.runtimeName} ${cri.runtimeVersion}, ${PODS} pods, probes every 10 s, ${IDLE_SECONDS} s each\n`)
    console.log(`${'probes'.padEnd(10)} ${'CPU % of a core'.padStart(16)} ${'x none'.padStart(8)} ${'RSS MB'.padStart(8)} ${'x none'.padStart(8)} ${'ready pods'.padStart(11)}`)
    for (const r of rows) {
      console.log(`${r.kind.padEnd(10)} ${r.cpu.toFixed(2).padStart(16)} ${(r.cpu / base.cpu).toFixed(2).padStart(8)} ${r.rss.toFixed(1).padStart(8)} ${(r.rss / base.rss).toFixed(2).padStart(8)} ${String(r.ready).padStart(11)}`)
    }
    console.log(`\none exec probe on the runtime (ExecSync ["true"], direct): median ${median(execMs).toFixed(1)} ms, max ${Math.max(...execMs).toFixed(1)} ms`)
  } finally {
    for (const f of fs.readdirSync(manifestDir)) fs.rmSync(path.join(manifestDir, f))
    await waitFor('the pods removed', async () => (await cri.listPodSandbox({labelSelector: {'io.kubernetes.pod.namespace': ns}})).length === 0, 300_000, 250).catch((e) =>
      console.error(`cleanup: ${(e as Error).message}`),
    )
    if (daemon.pid !== undefined && daemon.exitCode === null) {
      process.kill(daemon.pid, 'SIGTERM')
      await new Promise((r) => daemon.once('exit', r))
    }
    cri.close()
    fs.rmSync(work, {recursive: true, force: true})
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`)
  process.exitCode = 1
})
