// Parsing with positions: every path of a document has the line and column where it was written,
// in block style and in flow style alike; scalars are read as kubectl reads them.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {parseYamlDocuments} from '../../src/manifest/yaml-positions.js'
import {DEFAULT_LIMITS} from '../../src/manifest/types.js'

const parse = (text: string) => parseYamlDocuments(text, DEFAULT_LIMITS)

function at(text: string, pointer: string, which: 'key' | 'value' = 'value', doc = 0): string | undefined {
  const d = parse(text).documents[doc]
  const pos = (which === 'key' ? d.positions.key : d.positions.value).get(pointer)
  return pos ? `${pos.line}:${pos.col}` : undefined
}

const BLOCK = [
  '# a comment first',
  'apiVersion: v1',
  'kind: Pod',
  'metadata:',
  '  name: web',
  '  labels: {app: web, "app.kubernetes.io/part-of": shop}',
  'spec:',
  '  containers:',
  '  - name: web',
  '    image: nginx:1.27',
  '    command: ["sh", "-c"]',
  '    env:',
  '    - name: EMPTY',
  '      value:',
  '    ports:',
  '      - containerPort: 80',
  '',
].join('\n')

test('block style: keys and values have their own positions', () => {
  assert.equal(at(BLOCK, '/kind', 'key'), '3:1')
  assert.equal(at(BLOCK, '/kind'), '3:7')
  assert.equal(at(BLOCK, '/metadata/name'), '5:9')
  assert.equal(at(BLOCK, '/spec/containers/0'), '9:5')
  assert.equal(at(BLOCK, '/spec/containers/0/image', 'key'), '10:5')
  assert.equal(at(BLOCK, '/spec/containers/0/image'), '10:12')
  assert.equal(at(BLOCK, '/spec/containers/0/command/1'), '11:21')
  assert.equal(at(BLOCK, '/spec/containers/0/ports/0/containerPort'), '16:24')
})

test('flow mappings inside block style, and keys that need quoting', () => {
  assert.equal(at(BLOCK, '/metadata/labels/app'), '6:17')
  assert.equal(at(BLOCK, '/metadata/labels/app.kubernetes.io~1part-of', 'key'), '6:22')
})

test('a key with no value is left out of the value and placed at its key', () => {
  const d = parse(BLOCK).documents[0]
  const env = (d.value as {spec: {containers: Array<{env: Array<Record<string, unknown>>}>}}).spec.containers[0].env[0]
  assert.deepEqual(env, {name: 'EMPTY'})
  assert.equal(at(BLOCK, '/spec/containers/0/env/0/value'), '14:7')
})

const KYAML = [
  '---',
  '{',
  '  apiVersion: "v1",',
  '  kind: "Pod",',
  '  metadata: {',
  '    name: "pod1",',
  '  },',
  '  spec: {',
  '    containers: [{',
  '      name: "hello1",',
  '      image: "gcr.io/google-samples/hello-app:2.0",',
  '    }],',
  '  },',
  '}',
  '---',
  '{',
  '  apiVersion: "v1",',
  '  kind: "Pod",',
  '  metadata: {name: "pod2"},',
  '  spec: {containers: [{name: "hello2", image: "busybox"}]},',
  '}',
  '',
].join('\n')

test('flow style (KYAML): positions in every document', () => {
  const r = parse(KYAML)
  assert.equal(r.documents.length, 2)
  assert.deepEqual(r.documents.map((d) => d.index), [0, 1])
  assert.equal(at(KYAML, '/metadata/name', 'value', 0), '6:11')
  assert.equal(at(KYAML, '/spec/containers/0', 'value', 0), '9:18')
  assert.equal(at(KYAML, '/spec/containers/0/image', 'key', 0), '11:7')
  assert.equal(at(KYAML, '/metadata/name', 'value', 1), '19:20')
  assert.equal(at(KYAML, '/spec/containers/0/image', 'value', 1), '20:47')
  assert.deepEqual(r.documents[1].start, {line: 16, col: 1})
})

test('empty documents are skipped but keep the numbering', () => {
  const r = parse('---\n# nothing here\n---\na: 1\n---\n---\nb: 2\n')
  assert.deepEqual(r.documents.map((d) => [d.index, d.value]), [[1, {a: 1}], [3, {b: 2}]])
})

test('CRLF line endings give the same lines and columns', () => {
  const crlf = BLOCK.replace(/\n/g, '\r\n')
  assert.equal(at(crlf, '/spec/containers/0/image'), '10:12')
})

test('aliases are expanded, merge keys merged; aliased fields point at their anchor', () => {
  const text = ['base: &base', '  image: nginx', '  ports: [{containerPort: 80}]', 'a: *base', 'b:', '  <<: *base', '  image: busybox', ''].join('\n')
  const d = parse(text).documents[0]
  assert.deepEqual(d.value, {
    base: {image: 'nginx', ports: [{containerPort: 80}]},
    a: {image: 'nginx', ports: [{containerPort: 80}]},
    b: {image: 'busybox', ports: [{containerPort: 80}]},
  })
  const v = d.value as {a: {ports: unknown[]}; base: {ports: unknown[]}}
  assert.notEqual(v.a.ports, v.base.ports, 'expanded copies, not shared objects')
  assert.equal(at(text, '/a'), '4:4')
  assert.equal(at(text, '/b/image'), '7:10')
})

test('plain scalars are read as kubectl reads them (YAML 1.1): octal modes, yes/no, underscores', () => {
  const d = parse('a: 0644\nb: 0o644\nc: yes\nd: "yes"\ne: off\nf: 1_000\ng: 0x1F\nh: 08\ni: 1.5\nj: ~\nk: "0644"\n').documents[0]
  assert.deepEqual(d.value, {a: 420, b: 420, c: true, d: 'yes', e: false, f: 1000, g: 31, h: 8, i: 1.5, k: '0644'})
})

test('a syntax error gives its line and column, and no documents', () => {
  const r = parse('a: 1\nb: [1, 2\nc: 3\n')
  assert.equal(r.documents.length, 0)
  assert.equal(r.problems.length, 1)
  assert.equal(r.problems[0].message, 'YAML syntax error: missed comma between flow collection entries')
  assert.deepEqual([r.problems[0].line, r.problems[0].col], [3, 1])
})

test('a key given twice is a syntax error at the second one', () => {
  const r = parse('a: 1\nb: 2\na: 3\n')
  assert.deepEqual([r.problems[0].line, r.problems[0].col], [3, 1])
  assert.match(r.problems[0].message, /duplicated mapping key/)
})

test('the escape \\\' (which go-yaml v2 accepts) is refused with advice', () => {
  const r = parse('a: "it\\\'s"\n')
  assert.match(r.problems[0].message, /unknown escape sequence .* write an apostrophe as '/)
})

test('JSON is read as YAML, with positions', () => {
  const json = '{\n  "apiVersion": "v1",\n  "kind": "Pod",\n  "metadata": {"name": "web"}\n}\n'
  assert.equal(at(json, '/metadata/name'), '4:24')
})
