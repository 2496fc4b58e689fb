// `podrun validate` over 1,000 pod manifests, timed as a whole process (node start-up included),
// against `node -e 0` measured in the same run. Target: under 1 s.
// Run: npm run build && node --import tsx bench/validate.bench.ts
// (Without a build it falls back to bin/dev.js, which compiles TypeScript on the fly and is slower.)
import {spawnSync} from 'node:child_process'
import {existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const PODS = 1000
const RUNS = 5
const TARGET_MS = 1000

/** A realistic pod: ports, env, resources, probes, a volume, an init container on every tenth. */
function podManifest(i: number): string {
  const name = `bench-${String(i).padStart(4, '0')}`
  const init = i % 10 === 0 ? `  initContainers:\n  - name: setup\n    image: busybox:1.36\n    command: [sh, -c, "echo ready > /data/ready"]\n    volumeMounts: [{name: data, mountPath: /data}]\n` : ''
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: bench
  labels:
    app.kubernetes.io/name: ${name}
    tier: ${i % 2 === 0 ? 'web' : 'worker'}
spec:
  restartPolicy: Always
${init}  containers:
  - name: app
    image: registry.example:5000/bench/app:1.${i % 50}
    command: [/app, --port, "8080"]
    ports:
    - {name: http, containerPort: 8080}
    env:
    - {name: INDEX, value: "${i}"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      requests: {cpu: 100m, memory: 64Mi}
      limits: {cpu: 500m, memory: 256Mi}
    readinessProbe:
      httpGet: {path: /ready, port: http}
      periodSeconds: 5
    livenessProbe:
      tcpSocket: {port: 8080}
    volumeMounts:
    - {name: data, mountPath: /data}
  volumes:
  - name: data
    emptyDir: {sizeLimit: 100Mi}
`
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

function time(argv: string[], runs: number, check?: (stdout: string, code: number | null) => void): number {
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now()
    const r = spawnSync(argv[0], argv.slice(1), {encoding: 'utf8', maxBuffer: 64 * 1024 * 1024})
    samples.push(performance.now() - t0)
    check?.(r.stdout, r.status)
  }
  return median(samples)
}

function cli(): {argv: string[]; label: string} {
  const manifest = path.join(root, 'oclif.manifest.json')
  const built =
    existsSync(path.join(root, 'dist', 'commands', 'validate.js')) &&
    existsSync(manifest) &&
    readFileSync(manifest, 'utf8').includes('"validate"')
  if (built) return {argv: [process.execPath, path.join(root, 'bin', 'run.js')], label: 'bin/run.js (built)'}
  return {argv: [process.execPath, '--import', 'tsx', path.join(root, 'bin', 'dev.js')], label: 'bin/dev.js (sources through tsx; run `npm run build` for the real figure)'}
}

const dir = mkdtempSync(path.join(tmpdir(), 'podrun-bench-validate-'))
try {
  for (let i = 0; i < PODS; i++) writeFileSync(path.join(dir, `pod-${String(i).padStart(4, '0')}.yaml`), podManifest(i))
  const {argv, label} = cli()
  const base = time([process.execPath, '-e', '0'], 9)
  const validate = time([...argv, 'validate', '-f', dir], RUNS, (stdout, code) => {
    const summary = stdout.trim().split('\n').pop() ?? ''
    if (code !== 0 || summary !== `${PODS} files, ${PODS} pods: 0 errors, 0 warnings`) {
      throw new Error(`validate did not accept the generated manifests (exit ${code}): ${summary}`)
    }
  })
  console.log(`podrun validate, ${PODS} pod manifests (one per file), median of ${RUNS} runs; CLI: ${label}`)
  console.log(`  node -e 0            ${base.toFixed(0).padStart(6)} ms`)
  console.log(`  podrun validate      ${validate.toFixed(0).padStart(6)} ms   ${(validate / base).toFixed(1)}x node -e 0`)
  console.log(`  per manifest         ${((validate - base) / PODS).toFixed(3).padStart(6)} ms (above node start-up)`)
  console.log(`  target               ${TARGET_MS} ms: ${validate < TARGET_MS ? 'met' : 'MISSED'}`)
  if (validate >= TARGET_MS) process.exitCode = 1
} finally {
  rmSync(dir, {recursive: true, force: true})
}
