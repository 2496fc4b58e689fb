// What polling a manifest URL costs the daemon. Two daemons run side by side against the real
// runtime, each with the same pods (busybox sleeping): one from a manifest folder,
// one from a signed URL on an HTTPS server on 127.0.0.1 polled every second (--url-check-period 1s),
// unchanged, so every poll is a conditional request answered 304. Over the same minute, the CPU
// (scheduler runtime of all threads) and RSS of each daemon; the folder daemon is the baseline.
//
//   URL daemon CPU above the folder daemon's          target < 0.5 % of a core
//   URL daemon RSS / folder daemon RSS                 target < 1.15x
//   polls answered 304 / polls                         target 1.00 (no body, no signature fetched)
//   TLS connections opened meanwhile                   target 0 (one kept-alive connection)
//
// Run: bash scripts/runtime.sh up && eval "$(bash scripts/runtime.sh env)" && npm run build &&
//      node --import tsx bench/fleet.bench.ts   (BENCH_PODS, BENCH_IDLE_SECONDS, BENCH_SETTLE_SECONDS)
import {spawn, type ChildProcess} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {connectCri} from '../src/cri/client.js'
import {podYaml} from '../test/support/pod-yaml.js'
import {daemonWorkspace, type DaemonWorkspace} from '../test/support/daemon-workspace.js'
import {makeSigningKey, makeTls, signText} from '../test/support/signed-https.js'
import {getOverSocket, waitFor} from '../test/support/wait.js'
import {removeSandboxes} from './lib/cluster.js'
import {procStat} from './lib/procstat.js'
import {unitNodeOptions} from './lib/unit.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const PODS = Number(process.env.BENCH_PODS ?? 10)
const IDLE_SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60)
const SETTLE_SECONDS = Number(process.env.BENCH_SETTLE_SECONDS ?? 20)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function row(what: string, value: string, target: string, ok: boolean | undefined): void {
  console.log(`${what.padEnd(52)} ${value.padStart(12)}   ${target.padEnd(18)} ${ok === undefined ? '' : ok ? 'ok' : 'MISS'}`)
}

const podsOf = (w: DaemonWorkspace) =>
  Array.from({length: PODS}, (_, i) => podYaml(`p-${String(i).padStart(2, '0')}`, {namespace: w.ns, image: image!, terminationGracePeriodSeconds: 0}))

function startDaemon(w: DaemonWorkspace, source: string[]): ChildProcess {
  const out = fs.openSync(path.join(w.work, 'daemon.log'), 'a')
  const env = {...w.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} ${unitNodeOptions(root)}`.trim()}
  const child = spawn(process.execPath, [path.join(root, 'bin/run.js'), 'daemon', '--state-dir', w.stateDir, ...source], {env, cwd: root, stdio: ['ignore', out, out]})
  fs.closeSync(out)
  return child
}

async function main(): Promise<void> {
  if (!endpoint || !image) throw new Error('run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
  const cri = await connectCri({endpoint})
  const folder = daemonWorkspace('fleet-dir', 'bench')
  const remote = daemonWorkspace('fleet-url', 'bench')
  const daemons: ChildProcess[] = []
  let server: https.Server | undefined
  try {
    // The folder daemon's manifests.
    fs.mkdirSync(folder.manifestDir, {recursive: true})
    podsOf(folder).forEach((text, i) => fs.writeFileSync(path.join(folder.manifestDir, `p-${i}.yaml`), text))
    // The URL daemon's: the same pods as one signed body, served with an ETag.
    const tls = makeTls(remote.work)
    makeSigningKey(remote.work, 'k')
    const body = podsOf(remote).join('---\n')
    const served = new Map([
      ['/pods.yaml', body],
      ['/pods.yaml.sig', signText(remote.work, body, 'k')],
    ])
    const counts = {ok: 0, notModified: 0, sig: 0}
    server = https.createServer({key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert)}, (req, res) => {
      const text = served.get(req.url ?? '')
      if (text === undefined) return void res.writeHead(404).end()
      if (req.url === '/pods.yaml.sig') counts.sig++
      const etag = `"${crypto.createHash('sha256').update(text).digest('hex').slice(0, 20)}"`
      if (req.headers['if-none-match'] === etag) {
        counts.notModified++
        return void res.writeHead(304, {etag}).end()
      }
      counts.ok++
      res.writeHead(200, {etag}).end(text)
    })
    let connections = 0
    server.on('secureConnection', () => connections++)
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()))
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/pods.yaml`

    const common = ['--relist-period', '1s', '--resync-period', '10s']
    const dirDaemon = startDaemon(folder, ['--manifest-dir', folder.manifestDir, ...common])
    const urlDaemon = startDaemon(remote, ['--manifest-url', url, '--manifest-url-ca', tls.ca, '--verify-key', path.join(remote.work, 'k.pub'), '--url-check-period', '1s', ...common])
    daemons.push(dirDaemon, urlDaemon)
    for (const w of [folder, remote]) {
      await waitFor(`${PODS} pods of ${w.ns} running`, async () => (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': w.ns}, state: {state: 1}})).length === PODS, 180_000, 250)
    }
    console.log(`${PODS} pods each: a folder daemon (pid ${dirDaemon.pid}) and a URL daemon (pid ${urlDaemon.pid}, polling every 1 s); settling ${SETTLE_SECONDS} s`)
    await sleep(SETTLE_SECONDS * 1000)

    const c0 = {...counts}
    const conn0 = connections
    const d0 = procStat(dirDaemon.pid!)
    const u0 = procStat(urlDaemon.pid!)
    const t0 = performance.now()
    await sleep(IDLE_SECONDS * 1000)
    const d1 = procStat(dirDaemon.pid!)
    const u1 = procStat(urlDaemon.pid!)
    const secs = (performance.now() - t0) / 1000
    const polls = counts.ok + counts.notModified - c0.ok - c0.notModified
    const notModified = counts.notModified - c0.notModified
    const pct = (a: {runNs: number}, b: {runNs: number}) => ((b.runNs - a.runNs) / 1e9 / secs) * 100
    const dirPct = pct(d0, d1)
    const urlPct = pct(u0, u1)
    const sources = JSON.parse((await getOverSocket(remote.socket, '/api/v1/sources')).body) as {items: Array<{fromCache?: boolean; lastResult?: string}>}

    console.log(`\nfigure (over ${secs.toFixed(0)} s)                                     value   target`)
    row('folder daemon: CPU (baseline)', `${dirPct.toFixed(2)} %`, '', undefined)
    row('URL daemon: CPU', `${urlPct.toFixed(2)} %`, '', undefined)
    row('  URL daemon above the folder daemon', `${(urlPct - dirPct).toFixed(2)} %`, '< 0.5 % of a core', urlPct - dirPct < 0.5)
    row('  ratio URL / folder', `${(urlPct / dirPct).toFixed(2)}x`, '', undefined)
    row('folder daemon: RSS (baseline)', `${(d1.rssKb / 1024).toFixed(1)} MB`, '', undefined)
    row('URL daemon: RSS', `${(u1.rssKb / 1024).toFixed(1)} MB`, '', undefined)
    row('  ratio URL / folder', `${(u1.rssKb / d1.rssKb).toFixed(2)}x`, '< 1.15x', u1.rssKb / d1.rssKb < 1.15)
    row('polls of the URL', `${polls}`, `~${Math.round(secs)}`, undefined)
    row('  answered 304 / polls', `${(notModified / Math.max(1, polls)).toFixed(2)}`, '1.00', notModified === polls && polls > 0)
    row('  TLS connections opened', `${connections - conn0}`, '0 (kept alive)', connections === conn0)
    row('  signature fetches while unchanged', `${counts.sig - c0.sig}`, '0', counts.sig === c0.sig)
    row('  last result', `${sources.items[0]?.lastResult}`, 'not-modified', sources.items[0]?.lastResult === 'not-modified')
  } finally {
    for (const d of daemons) {
      if (d.exitCode === null) {
        const gone = new Promise((r) => d.once('exit', r))
        d.kill('SIGTERM')
        await gone
      }
    }
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
    server?.closeAllConnections()
    await removeSandboxes(cri, (s) => s.metadata?.namespace === folder.ns || s.metadata?.namespace === remote.ns)
    cri.close()
    for (const w of [folder, remote]) fs.rmSync(w.work, {recursive: true, force: true})
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
