// Seeing inside, against the floor: `podrun get pods` of 100 pods, `podrun logs --tail 100` of a
// 50 MB log and `podrun exec -- true`, each next to the raw CRI calls crictl makes for the same
// answer (bench/raw-inside.ts, plain node on the same bindings), and the start-up of `logs` and
// `exec` next to `node -e 0`, all measured in the same run. Prints medians and ratios; a missed
// target prints MISS and still exits 0; errors exit 1.
//
//   npm run build && eval "$(bash scripts/runtime.sh env)" && node --import tsx bench/inside.bench.ts [--pods 100] [--log-mb 50] [--runs 7]
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {buildFloor} from './lib/floor.js'
import {writePodDir} from './lib/manifests.js'
import {fmtMs, timeProcess} from './lib/timing.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')
const node = process.execPath
const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(`--${name}`)
  return i < 0 ? d : Number(process.argv[i + 1])
}
const PODS = arg('pods', 100)
const LOG_MB = arg('log-mb', 50)
const RUNS = arg('runs', 7)
// Targets: podrun's answer within this many times the floor's (start-up included on both sides).
const TARGET_VS_FLOOR = 2
const TARGET_VS_NODE = 6

const image = process.env.PODRUN_TEST_IMAGE
if (!process.env.CONTAINER_RUNTIME_ENDPOINT || !image) {
  console.error('needs a runtime: bash scripts/runtime.sh up && eval "$(bash scripts/runtime.sh env)"')
  process.exit(1)
}
const ns = `bench-inside-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-bench-inside-'))
const env = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs'), PODRUN_DAEMON_SOCKET: path.join(work, 'none.sock')}
const podrun = (...args: string[]) => {
  const r = spawnSync(node, [bin, ...args], {env, encoding: 'utf8', maxBuffer: 64 << 20})
  if (r.status !== 0) throw new Error(`podrun ${args.join(' ')} exited ${r.status}: ${r.stderr}`)
  return r.stdout
}

function lastBytes(file: string, n: number): string {
  const fd = fs.openSync(file, 'r')
  try {
    const size = fs.fstatSync(fd).size
    const buf = Buffer.alloc(Math.min(n, size))
    fs.readSync(fd, buf, 0, buf.length, size - buf.length)
    return buf.toString()
  } finally {
    fs.closeSync(fd)
  }
}

try {
  const dir = writePodDir(path.join(work, 'pods'), ns, {n: PODS, image, graceSeconds: 0, labels: {}})
  // The chatty pod: LOG_MB of numbered lines, then it sleeps.
  fs.writeFileSync(
    path.join(dir, 'chatty.yaml'),
    `apiVersion: v1
kind: Pod
metadata: {name: chatty, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
  containers:
    - name: main
      image: ${image}
      command: [sh, -c, "awk 'BEGIN { for (i = 0; i < ${LOG_MB * 10240}; i++) printf \\"line %08d %s\\\\n\\", i, \\"${'.'.repeat(84)}\\" }'; echo END; exec sleep 3600"]
`,
  )
  console.log(`applying ${PODS} pods and one writing ${LOG_MB} MB of log...`)
  podrun('apply', '-f', dir, '--wait-timeout', '10m')
  const logDir = () => fs.readdirSync(env.PODRUN_LOG_ROOT).find((n) => n.startsWith(`${ns}_chatty_`))
  const deadline = Date.now() + 600_000
  for (;;) {
    const d = logDir()
    const f = d && path.join(env.PODRUN_LOG_ROOT, d, 'main', '0.log')
    if (f && fs.existsSync(f) && lastBytes(f, 8).endsWith(' END\n')) {
      console.log(`log: ${(fs.statSync(f).size / 1e6).toFixed(1)} MB`)
      break
    }
    if (Date.now() > deadline) throw new Error('the chatty pod did not finish writing its log in 10 min')
    spawnSync('sleep', ['1'])
  }
  const floor = buildFloor(root, path.join(work, 'floor'), 'bench/raw-inside.ts')

  // The answers must be the same before their times are compared.
  const ours = podrun('logs', 'chatty', '-n', ns, '--tail', '100')
  const theirs = spawnSync(node, [floor, 'logs', ns, 'chatty', 'main', '100'], {env, encoding: 'utf8'}).stdout
  if (ours !== theirs || ours.split('\n').length !== 101) throw new Error(`logs --tail 100 and the floor disagree:\n${ours.slice(0, 300)}\n---\n${theirs.slice(0, 300)}`)
  const listed = podrun('get', 'pods', '-n', ns).trim().split('\n').length - 1
  if (listed !== PODS + 1) throw new Error(`get pods listed ${listed} pods, not ${PODS + 1}`)

  const t = (argv: string[]) => timeProcess(argv, RUNS, env).medianMs
  const base = t([node, '-e', '0'])
  const rows: {what: string; ms: number; vs: string; ratio: number; target: number}[] = []
  const pair = (what: string, mine: string[], raw: string[]) => {
    const f = t([node, floor, ...raw])
    const p = t([node, bin, ...mine])
    rows.push({what: `${what}: floor (crictl's calls)`, ms: f, vs: '', ratio: NaN, target: NaN})
    rows.push({what: `${what}: podrun`, ms: p, vs: 'floor', ratio: p / f, target: TARGET_VS_FLOOR})
  }
  pair(`get pods, ${PODS + 1} pods`, ['get', 'pods', '-n', ns], ['pods', ns])
  pair(`logs --tail 100, ${LOG_MB} MB log`, ['logs', 'chatty', '-n', ns, '--tail', '100'], ['logs', ns, 'chatty', 'main', '100'])
  pair('exec -- true', ['exec', 'chatty', '-n', ns, '--', 'true'], ['exec', ns, 'chatty', 'main', 'true'])
  rows.push({what: 'node -e 0', ms: base, vs: '', ratio: NaN, target: NaN})
  for (const [what, argv] of [
    ['start-up: logs --tail 1 (empty log)', ['logs', 'pod-000', '-n', ns, '--tail', '1']],
    ['start-up: exec -- true', ['exec', 'pod-000', '-n', ns, '--', 'true']],
  ] as const) {
    const ms = t([node, bin, ...argv])
    rows.push({what, ms, vs: 'node -e 0', ratio: ms / base, target: TARGET_VS_NODE})
  }
  console.log(`\n${'what'.padEnd(50)} ${'median'.padStart(8)}   ratio`)
  for (const r of rows) {
    const verdict = Number.isNaN(r.ratio) ? '' : `${r.ratio.toFixed(2)}x ${r.vs} (target <= ${r.target}x) ${r.ratio <= r.target ? 'ok' : 'MISS'}`
    console.log(`${r.what.padEnd(50)} ${fmtMs(r.ms).padStart(8)}   ${verdict}`)
  }
} catch (e) {
  console.error((e as Error).message)
  process.exitCode = 1
} finally {
  spawnSync(node, [bin, 'delete', 'pods', '--all', '-n', ns, '--grace-period', '0'], {env, stdio: 'ignore'})
  fs.rmSync(work, {recursive: true, force: true})
}
