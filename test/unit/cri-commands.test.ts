// `podrun version` and `podrun info` against the fake runtime.
// Their -o json output is a contract: the shapes are pinned here.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {dirname, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'
import {after, before, describe, it} from 'node:test'
import {FakeCri} from '../support/fake-cri.js'

// The commands run in a child process (stdout belongs to the test runner here), from the sources
// through tsx when this file runs from TypeScript, from dist/ when compiled.
const here = dirname(fileURLToPath(import.meta.url))
const fromSource = import.meta.url.endsWith('.ts')
const root = resolve(here, fromSource ? '../..' : '../../..')
const commandFile = (name: string): string => resolve(here, `../../src/commands/${name}.${fromSource ? 'ts' : 'js'}`)

const RUNNER = `
const [file, root, ...argv] = process.argv.slice(1)
const {default: C} = await import(file)
try {
  await C.run(argv, root)
} catch (e) {
  if (e?.oclif?.exit === undefined) throw e
  process.exitCode = e.oclif.exit
}
`

interface Outcome {
  stdout: string
  stderr: string
  exitCode: number
}

function run(command: 'version' | 'info', argv: string[]): Promise<Outcome> {
  const nodeArgs = [...(fromSource ? ['--import', 'tsx'] : []), '--input-type=module', '-e', RUNNER, commandFile(command), root, ...argv]
  return new Promise((res) => {
    execFile(process.execPath, nodeArgs, {cwd: root, env: {...process.env, CONTAINER_RUNTIME_ENDPOINT: ''}}, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0
      res({stdout, stderr, exitCode: code})
    })
  })
}

describe('podrun version', () => {
  let fake: FakeCri
  before(async () => {
    fake = await FakeCri.start({version: {runtimeName: 'containerd', runtimeVersion: 'v1.6.20'}})
  })
  after(() => fake.close())

  it('prints crictl-style lines', async () => {
    const r = await run('version', ['--runtime-endpoint', fake.endpoint])
    assert.equal(r.exitCode, 0)
    assert.match(r.stdout, /^Version: {2}\d+\.\d+\.\d+\nRuntimeName: {2}containerd\nRuntimeVersion: {2}v1\.6\.20\nRuntimeApiVersion: {2}v1\n$/)
  })

  it('prints JSON with -o json', async () => {
    const r = await run('version', ['-r', fake.endpoint, '-o', 'json'])
    const v = JSON.parse(r.stdout)
    assert.deepEqual(Object.keys(v), ['version', 'runtimeName', 'runtimeVersion', 'runtimeApiVersion'])
    assert.deepEqual([v.runtimeName, v.runtimeVersion, v.runtimeApiVersion], ['containerd', 'v1.6.20', 'v1'])
  })

  it('prints YAML with -o yaml', async () => {
    const r = await run('version', ['-r', fake.endpoint, '-o', 'yaml'])
    assert.match(r.stdout, /^version: /m)
    assert.match(r.stdout, /^runtimeName: containerd$/m)
  })

  it('fails with one line naming the socket when nothing listens', async () => {
    const r = await run('version', ['--runtime-endpoint', 'unix:///nonexistent.sock'])
    assert.equal(r.exitCode, 2)
    assert.equal(r.stdout, '')
    const [first, ...rest] = r.stderr.trimEnd().split('\n')
    assert.equal(first, 'error: cannot reach the container runtime at /nonexistent.sock: nothing is listening there (no such socket)')
    assert.ok(rest.every((l) => l.startsWith('  hint: ')), 'only hints follow')
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  })
})

describe('podrun info', () => {
  let fake: FakeCri
  before(async () => {
    fake = await FakeCri.start({version: {runtimeName: 'containerd', runtimeVersion: 'v1.6.20'}})
  })
  after(() => fake.close())

  it('shows the endpoint, runtime and conditions', async () => {
    const r = await run('info', ['-r', fake.endpoint])
    assert.equal(r.exitCode, 0)
    assert.match(r.stdout, new RegExp(`^Endpoint: {2}${fake.endpoint}$`, 'm'))
    assert.match(r.stdout, /^RuntimeName: {2}containerd$/m)
    assert.match(r.stdout, /^ {2}RuntimeReady +true$/m)
    assert.match(r.stdout, /^ {2}NetworkReady +true$/m)
  })

  it('pins the -o json shape', async () => {
    const r = await run('info', ['-r', fake.endpoint, '-o', 'json'])
    assert.deepEqual(JSON.parse(r.stdout), {
      endpoint: fake.endpoint,
      runtimeName: 'containerd',
      runtimeVersion: 'v1.6.20',
      runtimeApiVersion: 'v1',
      ready: true,
      conditions: [
        {type: 'RuntimeReady', status: true, reason: '', message: ''},
        {type: 'NetworkReady', status: true, reason: '', message: ''},
      ],
    })
  })

  it('exits 2 and says which condition is false and why', async () => {
    fake.setCondition('NetworkReady', false, 'NetworkPluginNotReady', 'cni plugin not initialized')
    try {
      const r = await run('info', ['-r', fake.endpoint])
      assert.equal(r.exitCode, 2)
      assert.match(r.stdout, /^ {2}NetworkReady +false +NetworkPluginNotReady +cni plugin not initialized$/m)
      assert.equal(r.stderr, 'error: the runtime is not ready: NetworkReady is false (NetworkPluginNotReady: cni plugin not initialized)\n')
      const j = await run('info', ['-r', fake.endpoint, '-o', 'json'])
      assert.equal(j.exitCode, 2)
      assert.equal(JSON.parse(j.stdout).ready, false)
    } finally {
      fake.setCondition('NetworkReady', true)
    }
  })

  it('treats a missing RuntimeReady as not ready', async () => {
    const saved = fake.conditions
    fake.conditions = [{type: 'NetworkReady', status: true, reason: '', message: ''}]
    try {
      const r = await run('info', ['-r', fake.endpoint])
      assert.equal(r.exitCode, 2)
      assert.match(r.stderr, /RuntimeReady is not reported/)
    } finally {
      fake.conditions = saved
    }
  })

  it('renders an unreachable runtime as a JSON error with -o json', async () => {
    const r = await run('info', ['-r', 'unix:///nonexistent.sock', '-o', 'json'])
    assert.equal(r.exitCode, 2)
    const e = JSON.parse(r.stdout).error
    assert.equal(e.reason, 'RuntimeUnavailable')
    assert.match(e.message, /\/nonexistent\.sock/)
  })
})
