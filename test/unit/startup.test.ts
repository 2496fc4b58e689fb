// Start-up stays light: commands that never talk to the runtime must not load gRPC. Runs the
// built CLI (npm run build) with a hook that reports, at exit, whether @grpc/grpc-js was loaded.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {test} from 'node:test'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const HOOK = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-startup-')), 'hook.mjs')
fs.writeFileSync(
  HOOK,
  `import {createRequire} from 'node:module'
const r = createRequire(import.meta.url)
process.on('exit', () => process.stderr.write(Object.keys(r.cache).some((k) => k.includes('@grpc')) ? '\\nGRPC:loaded\\n' : '\\nGRPC:not-loaded\\n'))
`,
)

function run(args: string[]): {code: number | null; stdout: string; stderr: string} {
  const r = spawnSync(process.execPath, ['--import', HOOK, path.join(root, 'bin/run.js'), ...args], {cwd: root, encoding: 'utf8'})
  return {code: r.status, stdout: r.stdout, stderr: r.stderr}
}

test('the CLI is built', () => {
  assert.ok(fs.existsSync(path.join(root, 'dist/commands/version.js')), 'run `npm run build` first')
})

for (const args of [['--version'], ['--help'], ['version', '--help'], ['validate', '-f', path.join(root, 'examples'), '--allowed-host-ports', '18080']]) {
  test(`podrun ${args.join(' ')} does not load gRPC`, () => {
    const r = run(args)
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /GRPC:not-loaded/)
  })
}

test('podrun version does load gRPC (the hook sees it)', () => {
  const r = run(['version', '--runtime-endpoint', 'unix:///nonexistent-podrun.sock'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /GRPC:loaded/)
  assert.match(r.stderr, /nonexistent-podrun\.sock/)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
})

test('exit codes as the README states them: a usage error is invalid input (1), not "runtime unreachable" (2)', () => {
  const r = run(['get', 'pods', '--no-such-flag'])
  assert.equal(r.code, 1, r.stderr)
  assert.match(r.stderr, /no-such-flag/)
})

test('apply, diff and delete -f of a folder with no pods are an error (kubectl: "no objects passed to apply")', () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-empty-'))
  for (const verb of ['apply', 'diff', 'delete']) {
    const r = run([verb, '-f', empty, '--runtime-endpoint', 'unix:///nonexistent-podrun.sock'])
    assert.equal(r.code, 1, `${verb}: ${r.stderr}`)
    assert.match(r.stderr, new RegExp(`no objects passed to ${verb}: .* holds no Pod`))
  }
  fs.rmSync(empty, {recursive: true})
})

test('a namespace that is not a DNS label is refused by get and delete (not an empty answer)', () => {
  for (const args of [['get', 'pods', '-n', 'Bad_NS'], ['delete', 'pod', 'x', '-n', 'Bad_NS']]) {
    const r = run([...args, '--runtime-endpoint', 'unix:///nonexistent-podrun.sock'])
    assert.equal(r.code, 1, r.stderr)
    assert.match(r.stderr, /invalid namespace "Bad_NS": must be a DNS-1123 label/)
  }
})

test('the daemon refuses a --manifest-dir that is a file and a --state-dir under /proc', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-flags-'))
  const file = path.join(dir, 'web.yaml')
  fs.writeFileSync(file, '')
  const a = run(['daemon', '--manifest-dir', file, '--state-dir', path.join(dir, 'state')])
  assert.equal(a.code, 1, a.stderr)
  assert.match(a.stderr, /--manifest-dir .*web\.yaml is not a folder/)
  const b = run(['daemon', '--state-dir', '/proc/podrun'])
  assert.equal(b.code, 1, b.stderr)
  assert.match(b.stderr, /--state-dir \/proc\/podrun: a kernel file system/)
  fs.rmSync(dir, {recursive: true})
})

test('the daemon survives the reader of its log going away (a closed stderr pipe)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-epipe-'))
  const child = spawn(
    process.execPath,
    [path.join(root, 'bin/run.js'), 'daemon', '--state-dir', path.join(dir, 'state'), '--log-level', 'debug', '--runtime-endpoint', `unix://${path.join(dir, 'none.sock')}`],
    {env: {...process.env, PODRUN_ROOT: path.join(dir, 'root')}, stdio: ['ignore', 'ignore', 'pipe']},
  )
  try {
    await new Promise((r) => child.stderr!.once('data', r))
    child.stderr!.destroy() // the reader is gone: every later log line meets EPIPE
    await new Promise((r) => setTimeout(r, 2500))
    assert.equal(child.exitCode, null, 'the daemon is still running')
    assert.ok(fs.existsSync(path.join(dir, 'state', 'podrun.sock')))
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => (child.exitCode !== null ? r(undefined) : child.once('exit', r)))
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('shell completion (oclif autocomplete): bash completes commands and flags', () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-complete-'))
  const env = {...process.env, HOME: home, XDG_CACHE_HOME: path.join(home, '.cache')}
  const bin = path.join(root, 'bin/run.js')
  const complete = (line: string): string[] => {
    const words = line.split(' ')
    const script = `eval "$(${process.execPath} ${bin} autocomplete script bash)"
COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; COMP_LINE='${line}'; COMP_POINT=${line.length}
_podrun_autocomplete; printf '%s\\n' "\${COMPREPLY[@]}"`
    const r = spawnSync('bash', ['-c', script], {env, encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    return r.stdout.split('\n').filter(Boolean)
  }
  try {
    const r = spawnSync(process.execPath, [bin, 'autocomplete', '--refresh-cache'], {env, encoding: 'utf8'})
    assert.equal(r.status, 0, r.stderr)
    assert.deepEqual(complete('podrun ex'), ['exec'])
    assert.ok(complete('podrun ').includes('port-forward'))
    assert.deepEqual(complete('podrun get pods --show-l'), ['--show-labels'])
  } finally {
    fs.rmSync(home, {recursive: true, force: true})
  }
})
