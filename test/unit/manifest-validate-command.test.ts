// `podrun validate`: the text output, the exit code, and the JSON shape (a contract for machines).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {spawnSync} from 'node:child_process'
import {fileURLToPath, pathToFileURL} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

const GOOD = `apiVersion: v1
kind: Pod
metadata: {name: good}
spec:
  nodeSelector: {disk: ssd}
  containers: [{name: app, image: busybox:1.36}]
`
const BAD = `apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - name: app
    image: busybox:1.36
    imagePullPolcy: Always
---
apiVersion: v1
kind: ConfigMap
metadata: {name: conf}
data: {a: b}
`

/** Runs the command in a child process (its stdout is the test runner's channel here). */
function validate(t: {after: (fn: () => void) => void}, files: Record<string, string>, ...flags: string[]) {
  const dir = mkdtempSync(path.join(tmpdir(), 'podrun-validate-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text)
  const command = pathToFileURL(path.join(root, 'src', 'commands', 'validate.ts')).href
  const code = `const {default: Validate} = await import(${JSON.stringify(command)}); await Validate.run(process.argv.slice(1), ${JSON.stringify(root)})`
  const r = spawnSync(process.execPath, ['--import', import.meta.resolve('tsx'), '--input-type=module', '-e', code, '--', '-f', '.', ...flags], {
    cwd: dir,
    encoding: 'utf8',
  })
  assert.equal(r.stderr, '')
  return {stdout: r.stdout, exitCode: r.status}
}

test('valid manifests: warnings shown, exit 0', (t) => {
  const r = validate(t, {'good.yaml': GOOD})
  assert.equal(r.exitCode, 0)
  assert.equal(
    r.stdout,
    'good.yaml:5:3: spec.nodeSelector: warning: ignored on a standalone node: podrun runs every pod on this machine; there is no scheduler\n' +
      '1 file, 1 pod: 0 errors, 1 warning\n',
  )
})

test('invalid manifests: every problem as file:line:col: path: message, a summary, exit 1', (t) => {
  const r = validate(t, {'bad.yaml': BAD, 'good.yaml': GOOD, 'broken.yml': 'kind: [\n'})
  assert.equal(r.exitCode, 1)
  assert.equal(
    r.stdout,
    [
      'bad.yaml:8:5: spec.containers[0].imagePullPolcy: unknown field "imagePullPolcy"; did you mean "imagePullPolicy"?',
      'broken.yml:2:1: YAML syntax error: unexpected end of the stream within a flow collection',
      'good.yaml:5:3: spec.nodeSelector: warning: ignored on a standalone node: podrun runs every pod on this machine; there is no scheduler',
      '3 files, 2 pods, 1 configmap: 2 errors, 1 warning',
      '',
    ].join('\n'),
  )
})

test('-o json: the shape is a contract', (t) => {
  const r = validate(t, {'bad.yaml': BAD, 'good.yaml': GOOD}, '-o', 'json')
  assert.equal(r.exitCode, 1)
  assert.deepEqual(JSON.parse(r.stdout), {
    valid: false,
    summary: {files: 2, pods: 2, configMaps: 1, secrets: 0, errors: 1, warnings: 1},
    diagnostics: [
      {
        severity: 'error',
        file: 'bad.yaml',
        line: 8,
        col: 5,
        path: 'spec.containers[0].imagePullPolcy',
        message: 'unknown field "imagePullPolcy"; did you mean "imagePullPolicy"?',
        object: 'Pod default/bad',
      },
      {
        severity: 'warning',
        file: 'good.yaml',
        line: 5,
        col: 3,
        path: 'spec.nodeSelector',
        message: 'ignored on a standalone node: podrun runs every pod on this machine; there is no scheduler',
        object: 'Pod default/good',
      },
    ],
    objects: [
      {file: 'bad.yaml', kind: 'Pod', key: 'default/bad', valid: false},
      {file: 'bad.yaml', kind: 'ConfigMap', key: 'default/conf', valid: true},
      {file: 'good.yaml', kind: 'Pod', key: 'default/good', valid: true},
    ],
  })
})
