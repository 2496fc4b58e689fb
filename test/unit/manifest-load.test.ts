// Loading: which files -f takes from a directory (and in what order), stdin, symlink loops, and the
// limits against hostile input: size, document count, alias expansion, encoding.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {Readable} from 'node:stream'
import {loadDesiredState, desiredStateFromTexts} from '../../src/manifest/index.js'
import {collectInputs, decodeText, isManifestName} from '../../src/manifest/load.js'
import {DEFAULT_LIMITS} from '../../src/manifest/types.js'

const podYaml = (name: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\nspec:\n  containers:\n  - name: app\n    image: busybox:1.36\n`

function tempDir(t: {after: (fn: () => void) => void}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'podrun-load-'))
  t.after(() => rmSync(dir, {recursive: true, force: true}))
  return dir
}

test('which directory entries are manifests', () => {
  for (const name of ['pod.yaml', 'pod.yml', 'pod.json', 'POD.YAML', 'a.b.yaml']) assert.ok(isManifestName(name), name)
  for (const name of ['.pod.yaml', '.pod.yaml.swp', 'pod.yaml~', '#pod.yaml#', '.#pod.yaml', 'pod.yaml.bak', 'pod.txt', 'README.md', '4913']) {
    assert.ok(!isManifestName(name), name)
  }
})

test('a directory: its manifests sorted by name, dotfiles and backups skipped, not recursive without -R', async (t) => {
  const dir = tempDir(t)
  for (const name of ['b.yaml', 'a.yml', 'c.json', '.hidden.yaml', 'b.yaml~', 'notes.txt']) writeFileSync(path.join(dir, name), '')
  mkdirSync(path.join(dir, 'sub'))
  writeFileSync(path.join(dir, 'sub', 'd.yaml'), '')
  mkdirSync(path.join(dir, '.git'))
  writeFileSync(path.join(dir, '.git', 'e.yaml'), '')
  const flat = await collectInputs([dir], {recursive: false, limits: DEFAULT_LIMITS})
  assert.deepEqual(flat.files.map((f) => path.relative(dir, f.display)), ['a.yml', 'b.yaml', 'c.json'])
  const deep = await collectInputs([dir], {recursive: true, limits: DEFAULT_LIMITS})
  assert.deepEqual(deep.files.map((f) => path.relative(dir, f.display)), ['a.yml', 'b.yaml', 'c.json', path.join('sub', 'd.yaml')])
  assert.deepEqual(deep.diagnostics, [])
})

test('paths are shown as given, joined onto the directory as given', async (t) => {
  const dir = tempDir(t)
  writeFileSync(path.join(dir, 'web.yaml'), podYaml('web'))
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    const state = await loadDesiredState(['.'])
    assert.deepEqual(state.files, ['web.yaml'])
    assert.equal(state.pods[0].origin.file, 'web.yaml')
    assert.equal(state.pods[0].source, path.join(dir, 'web.yaml'), 'the default source label is the absolute path')
  } finally {
    process.chdir(cwd)
  }
})

test('-f may be repeated; a file reached twice is read once', async (t) => {
  const dir = tempDir(t)
  writeFileSync(path.join(dir, 'web.yaml'), podYaml('web'))
  writeFileSync(path.join(dir, 'explicit.txt'), podYaml('other'))
  const state = await loadDesiredState([dir, path.join(dir, 'web.yaml'), path.join(dir, 'explicit.txt')])
  assert.equal(state.files.length, 2, 'an explicit file is read whatever its extension')
  assert.deepEqual(state.pods.map((p) => p.name).sort(), ['other', 'web'])
  assert.deepEqual(state.diagnostics, [])
})

test('"-" reads standard input', async () => {
  const stdin = Readable.from([Buffer.from(podYaml('from-stdin'))])
  const state = await loadDesiredState(['-'], {stdin})
  assert.deepEqual(state.files, ['<stdin>'])
  assert.equal(state.pods[0].name, 'from-stdin')
  assert.equal(state.pods[0].source, '<stdin>')
})

test('standard input larger than the limit is refused', async () => {
  const stdin = Readable.from([Buffer.alloc(3000, 'a'), Buffer.alloc(3000, 'b')])
  const state = await loadDesiredState(['-'], {stdin, limits: {maxFileBytes: 4096}})
  assert.match(state.diagnostics[0].message, /file is too large \(more than 4 KiB; limit 4 KiB\); refused/)
})

test('a missing path is an error of its own, and other files still load', async (t) => {
  const dir = tempDir(t)
  writeFileSync(path.join(dir, 'web.yaml'), podYaml('web'))
  const state = await loadDesiredState([path.join(dir, 'nope.yaml'), dir])
  assert.deepEqual(
    state.diagnostics.map((d) => [d.severity, d.line, d.message]),
    [['error', 0, 'no such file or directory']],
  )
  assert.equal(state.pods.length, 1)
})

test('symlink loops in a directory are skipped with a warning, and loading finishes', async (t) => {
  const dir = tempDir(t)
  writeFileSync(path.join(dir, 'web.yaml'), podYaml('web'))
  mkdirSync(path.join(dir, 'sub'))
  symlinkSync('..', path.join(dir, 'sub', 'up'))
  symlinkSync('self.yaml', path.join(dir, 'self.yaml'))
  symlinkSync('missing.yaml', path.join(dir, 'dangling.yaml'))
  const started = Date.now()
  const state = await loadDesiredState([dir], {recursive: true})
  assert.ok(Date.now() - started < 2000)
  assert.equal(state.pods.length, 1)
  const warnings = state.diagnostics.map((d) => [d.severity, path.relative(dir, d.file), d.message])
  assert.deepEqual(warnings, [
    ['warning', 'dangling.yaml', 'skipped: broken symlink'],
    ['warning', 'self.yaml', 'skipped: symlink loop'],
    ['warning', path.join('sub', 'up'), 'skipped: directory already visited (a symlink loop)'],
  ])
})

test('a YAML "billion laughs" is refused quickly and with bounded memory', async (t) => {
  const dir = tempDir(t)
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  for (let i = 1; i <= 9; i++) {
    const [prev, cur] = [String.fromCharCode(96 + i), String.fromCharCode(97 + i)]
    lines.push(`${cur}: &${cur} [${Array(10).fill('*' + prev).join(',')}]`)
  }
  writeFileSync(path.join(dir, 'lol.yaml'), lines.join('\n') + '\n')
  const before = process.memoryUsage().heapUsed
  const started = performance.now()
  const state = await loadDesiredState([path.join(dir, 'lol.yaml')])
  const elapsed = performance.now() - started
  const grown = process.memoryUsage().heapUsed - before
  assert.match(state.diagnostics[0].message, /document expands to more than 100000 nodes/)
  assert.ok(elapsed < 1000, `refused in ${elapsed.toFixed(0)} ms`)
  assert.ok(grown < 64 * 1024 * 1024, `heap grew by ${(grown / 1048576).toFixed(1)} MiB`)
})

test('a file over the size limit is refused before it is read', async (t) => {
  const dir = tempDir(t)
  const big = path.join(dir, 'big.yaml')
  writeFileSync(big, Buffer.alloc(DEFAULT_LIMITS.maxFileBytes + 1, 0x20))
  const state = await loadDesiredState([big])
  assert.deepEqual(
    state.diagnostics.map((d) => d.message),
    ['file is too large (4.0 MiB; limit 4 MiB); refused'],
  )
})

test('more files than the limit: an error, and the rest are not read', async (t) => {
  const dir = tempDir(t)
  for (let i = 0; i < 5; i++) writeFileSync(path.join(dir, `p${i}.yaml`), podYaml(`p${i}`))
  const state = await loadDesiredState([dir], {limits: {maxFiles: 3}})
  assert.equal(state.pods.length, 3)
  assert.match(state.diagnostics[0].message, /too many files \(limit 3\)/)
})

test('encodings: a UTF-8 byte-order mark is fine; UTF-16, NUL bytes and invalid UTF-8 are refused', () => {
  assert.equal(decodeText(Buffer.from('\ufeffa: 1\n')), 'a: 1\n')
  assert.match((decodeText(Buffer.from([0xfe, 0xff, 0, 0x61])) as {message: string}).message, /UTF-16/)
  assert.deepEqual(decodeText(Buffer.from('a: 1\nb: \u0000\n')), {line: 2, col: 4, message: 'binary file (it contains NUL bytes), not a YAML or JSON manifest; refused'})
  assert.deepEqual(decodeText(Buffer.from([0x61, 0x3a, 0x20, 0xc3, 0xa9, 0x0a, 0x62, 0x3a, 0x20, 0xc3, 0x28])), {
    line: 2,
    col: 4,
    message: 'file is not valid UTF-8 (byte 0xc3); save it as UTF-8',
  })
  assert.equal(decodeText(Buffer.from('name: café ✓ 🚀\n')), 'name: café ✓ 🚀\n')
})

test('one bad file hides no valid pod of another, and each object is attributed to its file', () => {
  const state = desiredStateFromTexts([
    {file: 'good.yaml', text: podYaml('good')},
    {file: 'broken.yaml', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: broken\n'},
    {file: 'mixed.yaml', text: podYaml('fine') + '---\n' + podYaml('Bad_Name')},
  ])
  assert.deepEqual(state.pods.map((p) => p.key), ['default/good', 'default/fine'])
  assert.deepEqual(state.objects, [
    {file: 'good.yaml', kind: 'Pod', key: 'default/good', valid: true},
    {file: 'mixed.yaml', kind: 'Pod', key: 'default/fine', valid: true},
    {file: 'mixed.yaml', kind: 'Pod', key: 'default/Bad_Name', valid: false},
  ])
  assert.deepEqual(
    state.diagnostics.map((d) => [d.file, d.line, d.object ?? null]),
    [
      ['broken.yaml', 4, null],
      ['mixed.yaml', 13, 'Pod default/Bad_Name'],
    ],
  )
  assert.equal(state.pods[1].origin.doc, 0)
})

test('a v1 List: each item is an object, with paths and lines inside the list', () => {
  const text = [
    'apiVersion: v1',
    'kind: List',
    'items:',
    '- apiVersion: v1',
    '  kind: ConfigMap',
    '  metadata: {name: conf}',
    '  data: {a: b}',
    '- apiVersion: v1',
    '  kind: Pod',
    '  metadata: {name: web}',
    '  spec:',
    '    containers:',
    '    - {name: web, image: nginx, envFrom: [{configMapRef: {name: conf}}]}',
    '',
  ].join('\n')
  const state = desiredStateFromTexts([{file: 'list.yaml', text}])
  assert.deepEqual(state.diagnostics, [])
  assert.deepEqual(state.pods[0].origin, {file: 'list.yaml', doc: 0, line: 8, col: 3})
  assert.equal(state.configMaps[0].key, 'default/conf')
})
