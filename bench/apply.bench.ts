// apply/delete benchmark: podrun against the floor (bench/raw-cri.ts, the same CRI calls with no
// CLI, parsing or planning around them) and against `podman kube play` when podman is installed.
//
//   node --import tsx bench/apply.bench.ts [--sizes 20,100] [--runs 3] [--noop-runs 3] [--parallel 4]
//                                          [--no-podman] [--profile] [--json FILE]
//
// Needs a built podrun (`npm run build`) and a CRI runtime: CONTAINER_RUNTIME_ENDPOINT and
// PODRUN_TEST_IMAGE set (scripts/runtime.sh up / env). Every measurement is a whole process, timed
// from spawn to exit, node start-up included: `node bin/run.js apply|delete` for podrun, `node
// raw-cri.mjs up|down|check` for the floor, `podman kube play|down` for podman. For each size the
// tools take turns within each run (the order rotates), so they share the machine's noise; the
// table shows medians. Targets: podrun within 1.15x of the floor for apply and delete; a no-op
// re-apply of 100 pods under 0.5 s. Misses print MISS and still exit 0; errors exit 1. Every pod
// the benchmark made is removed at the end, also after a failure or Ctrl-C.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import type {CriClient} from '../src/cri/client.js'
import {mustRun, onPath, run, stopChildren, type Run} from './lib/proc.js'
import {max, median, min, ratio, sec, table} from './lib/stats.js'
import {writePodDir, writePodFile, type PodSet} from './lib/manifests.js'
import {buildFloor, buildTracePreload} from './lib/floor.js'
import {countRunning, openCri, removeNamespaces} from './lib/cluster.js'
import {summarizeProfile} from './lib/cpuprofile.js'
import type {Trace} from './lib/cri-trace.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const APPLY_RATIO_TARGET = 1.15
const DELETE_RATIO_TARGET = 1.15
const NOOP_TARGET_S = 0.5
const NOOP_TARGET_PODS = 100
const GRACE_SECONDS = 0

// ---- options ----

interface Options {
  sizes: number[]
  runs: number
  noopRuns: number
  parallel: number
  podman: boolean
  profile: boolean
  json?: string
}

function parseOptions(argv: string[]): Options {
  const o: Options = {sizes: [20, 100], runs: 3, noopRuns: 3, parallel: 4, podman: true, profile: false}
  const num = (flag: string, v: string | undefined): number => {
    const n = Number(v)
    if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} needs a positive whole number`)
    return n
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--sizes') o.sizes = (argv[++i] ?? '').split(',').map((s) => num('--sizes', s))
    else if (a === '--runs') o.runs = num(a, argv[++i])
    else if (a === '--noop-runs') o.noopRuns = num(a, argv[++i])
    else if (a === '--parallel') o.parallel = num(a, argv[++i])
    else if (a === '--no-podman') o.podman = false
    else if (a === '--profile') o.profile = true
    else if (a === '--json') o.json = argv[++i]
    else if (a === '--help' || a === '-h') {
      process.stdout.write(fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(0, 14).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n')
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  return o
}

const log = (s: string): void => {
  process.stderr.write(s + '\n')
}

// ---- the run's identity and places ----

const id = String(process.pid)
const NS_PODRUN = `podrun-bench-${id}`
const NS_RAW = `podrun-bench-${id}-raw`
const PODMAN_PREFIX = `podrun-bench-${id}`
const LABEL = 'podrun-bench'
const ours = (ns: string): boolean => ns === NS_PODRUN || ns === NS_RAW

const work = fs.mkdtempSync(path.join(os.tmpdir(), `podrun-bench-${id}-`))
const childEnv: NodeJS.ProcessEnv = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs')}
// Children run as they would for a user: no loader or flags inherited from this process.
delete childEnv.NODE_OPTIONS

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Namespaces and podman pods of earlier benchmark runs that died without cleaning up. */
const stale = (ns: string): boolean => {
  const m = /^podrun-bench-(\d+)(-raw)?$/.exec(ns)
  return m !== null && m[1] !== id && !pidAlive(Number(m[1]))
}

// ---- tools ----

type Step = 'apply' | 'noop' | 'delete'
type Tool = 'podrun' | 'raw' | 'podman'
type Samples = Record<Tool, Record<Step, number[]>>

interface Ctx {
  o: Options
  cri: CriClient
  floor: string
  image: string
  /** Per size: podrun's manifest folder and podman's manifest file. */
  dirs: Map<number, {podrun: string; podman: string}>
}

function manifests(ctx: Ctx, n: number): {podrun: string; podman: string} {
  let d = ctx.dirs.get(n)
  if (!d) {
    const set: PodSet = {n, image: ctx.image, graceSeconds: GRACE_SECONDS, labels: {[LABEL]: id}}
    d = {podrun: writePodDir(path.join(work, `pods-${n}`), NS_PODRUN, set), podman: writePodFile(path.join(work, `podman-${n}.yaml`), PODMAN_PREFIX, set)}
    ctx.dirs.set(n, d)
  }
  return d
}

const podrunArgs = (...args: string[]): string[] => [path.join(root, 'bin/run.js'), ...args]

async function expectCri(ctx: Ctx, ns: string, n: number, what: string): Promise<void> {
  const c = await countRunning(ctx.cri, ns)
  const ok = n === 0 ? c.sandboxes === 0 : c.ready === n && c.running === n && c.sandboxes === n
  if (!ok) throw new Error(`${what}: expected ${n} running pods in ${ns}, the runtime has ${c.sandboxes} sandboxes (${c.ready} ready), ${c.running} running containers`)
}

async function podmanPods(): Promise<{id: string; status: string}[]> {
  const r = await mustRun('podman pod ps', 'podman', ['pod', 'ps', '--filter', `label=${LABEL}=${id}`, '--format', '{{.Id}} {{.Status}}'])
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pid, status] = l.split(' ')
      return {id: pid, status}
    })
}

function parseJson(r: Run, what: string): {pods: {ok: boolean; change: string; name: string; message?: string}[]; mutations: number} {
  try {
    return JSON.parse(r.stdout)
  } catch {
    throw new Error(`${what}: output is not JSON:\n${r.stdout.slice(0, 500)}`)
  }
}

/** One full cycle of a tool on n pods: create, no-op (podrun and floor), delete. Returns seconds per step. */
async function cycle(ctx: Ctx, tool: Tool, n: number, noopRuns: number): Promise<Record<Step, number[]>> {
  const m = manifests(ctx, n)
  const out: Record<Step, number[]> = {apply: [], noop: [], delete: []}
  const P = String(ctx.o.parallel)
  if (tool === 'podrun') {
    const a = await mustRun('podrun apply', process.execPath, podrunArgs('apply', '-f', m.podrun, '-o', 'json', '--parallel', P), {env: childEnv, cwd: root})
    const res = parseJson(a, 'podrun apply')
    if (res.pods.length !== n || !res.pods.every((p) => p.ok && p.change === 'created')) throw new Error(`podrun apply: not every pod was created: ${a.stdout.slice(0, 500)}`)
    await expectCri(ctx, NS_PODRUN, n, 'podrun apply')
    out.apply.push(a.seconds)
    for (let i = 0; i < noopRuns; i++) {
      const r = await mustRun('podrun apply (no-op)', process.execPath, podrunArgs('apply', '-f', m.podrun, '-o', 'json', '--parallel', P), {env: childEnv, cwd: root})
      const j = parseJson(r, 'podrun apply (no-op)')
      if (j.mutations !== 0 || !j.pods.every((p) => p.ok && p.change === 'unchanged')) throw new Error(`podrun apply (no-op) changed something: ${r.stdout.slice(0, 500)}`)
      out.noop.push(r.seconds)
    }
    const d = await mustRun('podrun delete', process.execPath, podrunArgs('delete', '-f', m.podrun, '--parallel', P), {env: childEnv, cwd: root})
    await expectCri(ctx, NS_PODRUN, 0, 'podrun delete')
    out.delete.push(d.seconds)
  } else if (tool === 'raw') {
    const common = ['--namespace', NS_RAW, '--image', ctx.image, '--grace', String(GRACE_SECONDS), '--log-root', path.join(work, 'logs-raw')]
    const u = await mustRun('raw up', process.execPath, [ctx.floor, 'up', String(n), P, ...common], {env: childEnv, cwd: root})
    await expectCri(ctx, NS_RAW, n, 'raw up')
    out.apply.push(u.seconds)
    for (let i = 0; i < noopRuns; i++) out.noop.push((await mustRun('raw check', process.execPath, [ctx.floor, 'check', String(n), ...common], {env: childEnv, cwd: root})).seconds)
    const d = await mustRun('raw down', process.execPath, [ctx.floor, 'down', String(n), P, ...common], {env: childEnv, cwd: root})
    await expectCri(ctx, NS_RAW, 0, 'raw down')
    out.delete.push(d.seconds)
  } else {
    const p = await mustRun('podman kube play', 'podman', ['kube', 'play', m.podman])
    const pods = await podmanPods()
    if (pods.length !== n || !pods.every((x) => x.status === 'Running')) throw new Error(`podman kube play: expected ${n} running pods, podman has ${pods.map((x) => x.status).join(',') || 'none'}`)
    out.apply.push(p.seconds)
    const d = await mustRun('podman kube down', 'podman', ['kube', 'down', m.podman])
    if ((await podmanPods()).length !== 0) throw new Error('podman kube down left pods behind')
    out.delete.push(d.seconds)
  }
  return out
}

// ---- set-up and clean-up ----

const CONTAINERS_CONF = '/etc/containers/containers.conf'

async function preparePodman(image: string): Promise<string | undefined> {
  if (!(await onPath('podman'))) return 'skipped: podman not installed'
  if (!fs.existsSync(CONTAINERS_CONF)) {
    // runc fails to set podman's default rlimits on these machines without it.
    fs.mkdirSync(path.dirname(CONTAINERS_CONF), {recursive: true})
    fs.writeFileSync(CONTAINERS_CONF, '[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]\n')
    log(`note: wrote ${CONTAINERS_CONF} (it was absent): default_ulimits nofile/nproc 16384, which podman kube play needs here; left in place`)
  }
  const have = await run('podman', ['image', 'exists', image])
  if (have.code !== 0) {
    // The test image lives in the local registry on loopback, plain HTTP.
    const r = await run('podman', ['pull', '--tls-verify=false', '-q', image])
    if (r.code !== 0) return `skipped: podman cannot pull ${image}: ${r.stderr.trim().split('\n').pop()}`
  }
  return undefined
}

async function removePodmanPods(match: (value: string) => boolean): Promise<number> {
  const r = await run('podman', ['pod', 'ps', '--filter', `label=${LABEL}`, '--format', `{{.Id}} {{index .Labels "${LABEL}"}}`]).catch(() => undefined)
  if (!r || r.code !== 0) return 0
  const ids = r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' '))
    .filter(([, v]) => match(v ?? ''))
    .map(([pid]) => pid)
  if (ids.length > 0) await run('podman', ['pod', 'rm', '-f', '-t', '0', ...ids])
  return ids.length
}

// What clean-up needs, set as main() gets them; clean-up runs once, whoever asks first (the end of
// main, an error, or a signal) and everyone else waits for the same promise.
const state: {cri?: CriClient; podman: boolean; signal?: NodeJS.Signals} = {podman: false}
let cleaning: Promise<void> | undefined

function cleanup(): Promise<void> {
  cleaning ??= doCleanup(state.cri, state.podman).finally(() => state.cri?.close())
  return cleaning
}

async function doCleanup(cri: CriClient | undefined, podman: boolean): Promise<void> {
  stopChildren()
  try {
    if (cri) {
      const n = await removeNamespaces(cri, ours)
      if (n > 0) log(`clean-up: removed ${n} leftover sandbox(es) of this run`)
    }
    if (podman) {
      const n = await removePodmanPods((v) => v === id)
      if (n > 0) log(`clean-up: removed ${n} leftover podman pod(s) of this run`)
    }
  } finally {
    fs.rmSync(work, {recursive: true, force: true})
  }
}

// ---- baselines ----

async function baseline(cmd: string, args: string[], times: number): Promise<number> {
  const xs: number[] = []
  for (let i = 0; i < times; i++) xs.push((await mustRun(`${cmd} ${args.join(' ')}`, cmd, args, {env: childEnv, cwd: root})).seconds)
  return median(xs)
}

// ---- profile ----

interface TraceSummary {
  calls: Map<string, {count: number; ms: number}>
  /** From process start to the first CRI call: node, module loading, the process's own work. */
  toFirstCall: number
  /** First call start to last call end. */
  span: number
  /** Last call end to exit. */
  tail: number
}

function summarizeTrace(file: string): TraceSummary {
  const t = JSON.parse(fs.readFileSync(file, 'utf8')) as Trace
  const calls = new Map<string, {count: number; ms: number}>()
  for (const c of t.calls) {
    const e = calls.get(c.method) ?? {count: 0, ms: 0}
    e.count++
    e.ms += c.end - c.start
    calls.set(c.method, e)
  }
  const first = Math.min(...t.calls.map((c) => c.start))
  const last = Math.max(...t.calls.map((c) => c.end))
  return {calls, toFirstCall: first, span: last - first, tail: t.exitAt - last}
}

async function profile(ctx: Ctx, n: number): Promise<void> {
  const m = manifests(ctx, n)
  const dir = path.join(work, 'profile')
  fs.mkdirSync(dir, {recursive: true})
  const P = String(ctx.o.parallel)
  const common = ['--namespace', NS_RAW, '--image', ctx.image, '--grace', String(GRACE_SECONDS), '--log-root', path.join(work, 'logs-raw')]
  const steps: {label: string; tool: 'podrun' | 'raw'; args: string[]; verify: () => Promise<void>}[] = [
    {label: 'podrun apply', tool: 'podrun', args: podrunArgs('apply', '-f', m.podrun, '-o', 'json', '--parallel', P), verify: () => expectCri(ctx, NS_PODRUN, n, 'podrun apply')},
    {label: 'podrun no-op', tool: 'podrun', args: podrunArgs('apply', '-f', m.podrun, '-o', 'json', '--parallel', P), verify: async () => undefined},
    {label: 'podrun delete', tool: 'podrun', args: podrunArgs('delete', '-f', m.podrun, '--parallel', P), verify: () => expectCri(ctx, NS_PODRUN, 0, 'podrun delete')},
    {label: 'raw up', tool: 'raw', args: [ctx.floor, 'up', String(n), P, ...common], verify: () => expectCri(ctx, NS_RAW, n, 'raw up')},
    {label: 'raw check', tool: 'raw', args: [ctx.floor, 'check', String(n), ...common], verify: async () => undefined},
    {label: 'raw down', tool: 'raw', args: [ctx.floor, 'down', String(n), P, ...common], verify: () => expectCri(ctx, NS_RAW, 0, 'raw down')},
  ]
  log(`\nprofile: ${n} pods, each step once with CRI tracing, then once with --cpu-prof`)
  const traces = new Map<string, TraceSummary>()
  const profiles = new Map<string, ReturnType<typeof summarizeProfile>>()
  // Pass 1: CRI call traces (a small compiled preload; plain node otherwise).
  const preload = ['--import', buildTracePreload(root, path.join(work, 'bin'))]
  for (const [i, s] of steps.entries()) {
    const file = path.join(dir, `trace-${i}.json`)
    await mustRun(s.label, process.execPath, [...preload, ...s.args], {env: {...childEnv, PODRUN_BENCH_TRACE: file}, cwd: root})
    await s.verify()
    traces.set(s.label, summarizeTrace(file))
  }
  // Pass 2: CPU profiles, plain node as in the timed runs.
  for (const [i, s] of steps.entries()) {
    const pdir = path.join(dir, `cpu-${i}`)
    const r = await mustRun(s.label, process.execPath, ['--cpu-prof', '--cpu-prof-dir', pdir, ...s.args], {env: childEnv, cwd: root})
    await s.verify()
    const f = fs.readdirSync(pdir).find((x) => x.endsWith('.cpuprofile'))
    if (f) profiles.set(s.label, {...summarizeProfile(path.join(pdir, f)), totalMs: r.seconds * 1000})
  }

  const pairs: [string, string][] = [
    ['podrun apply', 'raw up'],
    ['podrun no-op', 'raw check'],
    ['podrun delete', 'raw down'],
  ]
  const out: string[] = []
  for (const [a, b] of pairs) {
    const ta = traces.get(a)!
    const tb = traces.get(b)!
    out.push(`\n${a} vs ${b} (${n} pods): CRI calls, count and mean latency`)
    const methods = [...new Set([...ta.calls.keys(), ...tb.calls.keys()])]
    const rows = [['method', 'podrun n', 'podrun mean ms', 'floor n', 'floor mean ms']]
    for (const mth of methods) {
      const x = ta.calls.get(mth)
      const y = tb.calls.get(mth)
      rows.push([mth, String(x?.count ?? 0), x ? (x.ms / x.count).toFixed(1) : '-', String(y?.count ?? 0), y ? (y.ms / y.count).toFixed(1) : '-'])
    }
    out.push(table(rows))
    out.push(
      table([
        ['phase (ms)', 'podrun', 'floor'],
        ['start-up (process start -> first call)', ta.toFirstCall.toFixed(0), tb.toFirstCall.toFixed(0)],
        ['CRI span (first call -> last reply)', ta.span.toFixed(0), tb.span.toFixed(0)],
        ['tail (last reply -> exit)', ta.tail.toFixed(0), tb.tail.toFixed(0)],
      ]),
    )
    for (const label of [a, b]) {
      const p = profiles.get(label)
      if (!p) continue
      const busy = p.byModule.reduce((s, x) => s + x.ms, 0)
      out.push(`${label}: wall ${p.totalMs.toFixed(0)} ms, CPU busy ~${busy.toFixed(0)} ms; by module: ${p.byModule.slice(0, 8).map((x) => `${x.name} ${x.ms.toFixed(0)}`).join(', ')}`)
      if (label.startsWith('podrun')) out.push(`  top functions: ${p.byFunction.slice(0, 8).map((x) => `${x.name} ${x.ms.toFixed(0)}`).join('; ')}`)
    }
  }
  process.stdout.write(out.join('\n') + '\n')
}

// ---- main ----

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2))
  const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
  const image = process.env.PODRUN_TEST_IMAGE
  if (!endpoint || !image) throw new Error('set CONTAINER_RUNTIME_ENDPOINT and PODRUN_TEST_IMAGE: `bash scripts/runtime.sh up && eval "$(bash scripts/runtime.sh env)"`')
  if (!fs.existsSync(path.join(root, 'dist/commands/apply.js'))) throw new Error('podrun is not built: run `npm run build`')
  if (process.env.NODE_OPTIONS) log(`note: NODE_OPTIONS (${process.env.NODE_OPTIONS}) is not passed to the measured processes`)

  let podman = false
  state.podman = o.podman

  const cri = await openCri(endpoint)
  state.cri = cri
  const floor = buildFloor(root, path.join(work, 'bin'))
  const ctx: Ctx = {o, cri, floor, image, dirs: new Map()}

  // Leftovers of earlier runs that were killed: their namespaces and folders carry a pid that is gone.
  const old = await removeNamespaces(cri, stale)
  for (const d of fs.readdirSync(os.tmpdir())) if (stale(d.replace(/-[^-]+$/, ''))) fs.rmSync(path.join(os.tmpdir(), d), {recursive: true, force: true})
  if (old > 0) log(`removed ${old} sandbox(es) left by earlier benchmark runs`)
  let podmanNote: string | undefined = 'skipped: --no-podman'
  if (o.podman) {
    podmanNote = await preparePodman(image)
    podman = podmanNote === undefined
    if (await onPath('podman')) {
      const n = await removePodmanPods((v) => /^\d+$/.test(v) && v !== id && !pidAlive(Number(v)))
      if (n > 0) log(`removed ${n} podman pod(s) left by earlier benchmark runs`)
    }
  }
  if (podmanNote) log(`podman: ${podmanNote}`)
  const tools: Tool[] = podman ? ['podrun', 'raw', 'podman'] : ['podrun', 'raw']

  // Make sure the runtime has the image before anything is timed (both sides then only check it).
  if (!(await cri.imageStatus(image))) await cri.pullImage(image)

  const runtime = `${cri.runtimeName} ${cri.runtimeVersion}`
  const load0 = os.loadavg()[0]
  // Other pods on the runtime slow it down, and podrun lists (and, waiting, inspects) every pod it manages.
  const others = (await cri.listPodSandbox()).filter((x) => !ours(x.labels['io.kubernetes.pod.namespace'] ?? ''))
  const otherPodrun = others.filter((x) => x.labels['podrun.io/managed-by'] === 'podrun').length
  log(`runtime ${runtime}, node ${process.version}, parallel ${o.parallel}, ${o.runs} run(s) per size, sizes ${o.sizes.join(', ')}`)

  const base = {
    node: await baseline(process.execPath, ['-e', '0'], 5),
    podrunConnect: await baseline(process.execPath, podrunArgs('version'), 5),
    floorConnect: await baseline(process.execPath, [floor, 'check', '0', '--namespace', `${NS_RAW}-none`], 5),
  }
  log(`baseline: node -e 0 ${sec(base.node)} s, podrun version ${sec(base.podrunConnect)} s, floor connect+list ${sec(base.floorConnect)} s`)

  // Warm-up, untimed: page cache, snapshots, podman's pause image.
  for (const t of tools) await cycle(ctx, t, 4, 1)

  const results = new Map<number, Samples>()
  for (const n of o.sizes) {
    const s: Samples = {podrun: {apply: [], noop: [], delete: []}, raw: {apply: [], noop: [], delete: []}, podman: {apply: [], noop: [], delete: []}}
    results.set(n, s)
    for (let r = 0; r < o.runs; r++) {
      const order = tools.map((_, i) => tools[(i + r) % tools.length])
      for (const t of order) {
        const c = await cycle(ctx, t, n, t === 'podman' ? 0 : o.noopRuns)
        for (const k of ['apply', 'noop', 'delete'] as Step[]) s[t][k].push(...c[k])
        log(`${n} pods, run ${r + 1}/${o.runs}: ${t.padEnd(6)} create ${sec(c.apply[0])} s${c.noop.length ? `, no-op ${sec(median(c.noop))} s` : ''}, delete ${sec(c.delete[0])} s`)
      }
    }
  }

  // ---- report ----
  const spread = (xs: number[]) => (xs.length > 1 ? `${sec(min(xs))}-${sec(max(xs))}` : '')
  const rows = [['pods', 'step', 'podrun s', '(min-max)', 'floor s', '(min-max)', 'podrun/floor', '(paired)', ...(podman ? ['podman s', 'podman/floor'] : [])]]
  // The median of the per-run ratios: each run's podrun and floor ran back to back, sharing noise.
  const paired = (a: number[], b: number[]) => {
    const k = Math.min(a.length, b.length)
    return k === 0 ? NaN : median(Array.from({length: k}, (_, i) => a[i] / b[i]))
  }
  const verdicts: string[] = []
  const verdict = (ok: boolean, text: string) => verdicts.push(`${ok ? 'PASS' : 'MISS'}  ${text}`)
  for (const [n, s] of results) {
    for (const [step, label] of [
      ['apply', 'apply (create, wait running)'],
      ['delete', 'delete'],
      ['noop', 're-apply (no-op) / floor list'],
    ] as [Step, string][]) {
      const p = median(s.podrun[step])
      const f = median(s.raw[step])
      const pm = median(s.podman[step])
      const pr = paired(s.podrun[step], s.raw[step])
      rows.push([String(n), label, sec(p), spread(s.podrun[step]), sec(f), spread(s.raw[step]), ratio(p, f), Number.isFinite(pr) ? `${pr.toFixed(2)}x` : '-', ...(podman ? [step === 'noop' ? '-' : sec(pm), step === 'noop' ? '-' : ratio(pm, f)] : [])])
    }
    const ra = median(s.podrun.apply) / median(s.raw.apply)
    const rd = median(s.podrun.delete) / median(s.raw.delete)
    verdict(ra <= APPLY_RATIO_TARGET, `${n} pods: apply ${ra.toFixed(2)}x the floor (target <= ${APPLY_RATIO_TARGET}x)`)
    verdict(rd <= DELETE_RATIO_TARGET, `${n} pods: delete ${rd.toFixed(2)}x the floor (target <= ${DELETE_RATIO_TARGET}x)`)
    if (n >= NOOP_TARGET_PODS) verdict(median(s.podrun.noop) < NOOP_TARGET_S, `${n} pods: no-op re-apply ${sec(median(s.podrun.noop))} s wall (target < ${NOOP_TARGET_S} s for ${NOOP_TARGET_PODS} pods)`)
  }
  const out = [
    '',
    `podrun apply benchmark: ${runtime}, node ${process.version}, ${os.cpus().length} CPUs, parallel ${o.parallel}, grace ${GRACE_SECONDS} s`,
    `whole-process wall time, median of ${o.runs} run(s) (no-op: ${o.runs}x${o.noopRuns}); floor = bench/raw-cri.ts, the same CRI calls`,
    `baseline: node -e 0 ${sec(base.node)} s | podrun version (CLI start-up + Version call) ${sec(base.podrunConnect)} s | floor connect+list ${sec(base.floorConnect)} s`,
    `load average (1 min) at start ${load0.toFixed(2)}, at end ${os.loadavg()[0].toFixed(2)}: other work on the machine shows as spread`,
    `other sandboxes on the runtime at start: ${others.length} (${otherPodrun} managed by podrun)`,
    `podman: ${podman ? 'podman kube play / podman kube down (one pod after another, as podman does)' : podmanNote}`,
    '',
    table(rows),
    '',
    ...verdicts,
    '',
  ]
  process.stdout.write(out.join('\n'))

  if (o.json) {
    const json = {
      runtime,
      node: process.version,
      parallel: o.parallel,
      runs: o.runs,
      baseline: base,
      podman: podman ? 'measured' : podmanNote,
      sizes: Object.fromEntries([...results].map(([n, s]) => [n, s])),
      verdicts,
    }
    fs.writeFileSync(o.json, JSON.stringify(json, null, 2) + '\n')
  }

  if (o.profile) await profile(ctx, Math.max(...o.sizes))
  return 0
}

async function finish(code: number): Promise<never> {
  try {
    await cleanup()
  } catch (e) {
    process.stderr.write(`bench: clean-up failed: ${(e as Error).message}\n`)
    code = code || 1
  }
  process.exit(state.signal ? (state.signal === 'SIGINT' ? 130 : 143) : code)
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    state.signal = sig
    log(`\n${sig}: stopping and cleaning up`)
    stopChildren()
    void finish(1)
  })
}

main().then(
  (code) => finish(code),
  (e: Error) => {
    if (!state.signal) process.stderr.write(`bench: error: ${e.message}\n`)
    return finish(1)
  },
)
