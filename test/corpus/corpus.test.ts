// The whole k8s-website corpus (145 real manifests from the Kubernetes documentation, 55 of them in
// flow style): each file either validates, or is reported with the specific reason pinned in
// outcomes.json, at the pinned line and path. The corpus lives outside the project, in the
// project's parent folder (shared/corpus/k8s-website); without it these tests say so and skip.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {existsSync, readFileSync, readdirSync, statSync} from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {loadDesiredState} from '../../src/manifest/index.js'

// The reason behind an error message, as named in outcomes.json. Each rule matches the wording of
// one kind of diagnostic from src/manifest/; an error no rule matches is "other" (and fails the test).
type Reason =
  | 'yaml-syntax'
  | 'missing-apiVersion'
  | 'unsupported-kind'
  | 'field-newer-than-schema'
  | 'unknown-field'
  | 'wrong-type'
  | 'standalone-unsupported'
  | 'missing-reference'
  | 'dangling-volume-mount'
  | 'invalid-image'
  | 'other'

const RULES: Array<[RegExp, Reason]> = [
  [/^YAML syntax error/, 'yaml-syntax'],
  [/^missing "apiVersion"/, 'missing-apiVersion'],
  [/^kind "[^"]*"(?: \([^)]*\))? is not supported/, 'unsupported-kind'],
  [/^field ".*" is not in the Kubernetes \d+\.\d+ API .* came in Kubernetes/, 'field-newer-than-schema'],
  [/^unknown field /, 'unknown-field'],
  [/^expected .*, got /, 'wrong-type'],
  [/^not supported on a standalone node/, 'standalone-unsupported'],
  [/is not among the manifests given/, 'missing-reference'],
  [/^no volume named /, 'dangling-volume-mount'],
  [/is not a valid image reference/, 'invalid-image'],
]

function classify(message: string): Reason {
  for (const [re, reason] of RULES) if (re.test(message)) return reason
  return 'other'
}

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const corpusDir = path.resolve(projectRoot, '..', 'shared', 'corpus', 'k8s-website')

interface PinnedError {
  line: number
  col: number
  path: string
  message: string
}

interface Outcome {
  with?: string[]
  outcome: 'valid' | 'invalid'
  reasons?: string[]
  objects: string[]
  errors?: PinnedError[]
  warnings?: Array<{line: number; path: string}>
}

const pinned = JSON.parse(readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), 'outcomes.json'), 'utf8')) as {
  files: Record<string, Outcome>
}

function corpusFiles(dir: string): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const p = path.join(d, name)
      if (statSync(p).isDirectory()) walk(p)
      else if (/\.(ya?ml|json)$/.test(name)) out.push(path.relative(dir, p).split(path.sep).join('/'))
    }
  }
  walk(dir)
  return out
}

const present = existsSync(corpusDir)

test('every corpus file has a pinned outcome, and every pinned file exists', (t) => {
  if (!present) {
    t.skip(`corpus not found at ${corpusDir}, skipped`)
    return
  }
  assert.deepEqual(corpusFiles(corpusDir), Object.keys(pinned.files).sort())
})

test('corpus files validate or fail with their pinned reasons', async (t) => {
  if (!present) {
    t.skip(`corpus not found at ${corpusDir}, skipped`)
    return
  }
  const cwd = process.cwd()
  process.chdir(corpusDir)
  try {
    for (const [file, expected] of Object.entries(pinned.files)) {
      await t.test(file, async () => {
        const state = await loadDesiredState([file, ...(expected.with ?? [])])
        const mine = state.diagnostics.filter((d) => d.file === file)
        const errors = mine.filter((d) => d.severity === 'error')
        const warnings = mine.filter((d) => d.severity === 'warning')

        assert.equal(errors.length === 0 ? 'valid' : 'invalid', expected.outcome)
        assert.deepEqual(
          state.objects.filter((o) => o.file === file).map((o) => `${o.kind} ${o.key}`),
          expected.objects,
        )
        assert.deepEqual(
          errors.map((e) => ({line: e.line, col: e.col, path: e.path, message: e.message})),
          expected.errors ?? [],
        )
        assert.deepEqual(
          warnings.map((w) => ({line: w.line, path: w.path})),
          expected.warnings ?? [],
        )
        const reasons = [...new Set(errors.map((e) => classify(e.message)))].sort()
        assert.ok(!reasons.includes('other'), `an error has no known reason: ${errors.map((e) => e.message).join(' | ')}`)
        assert.deepEqual(reasons, expected.reasons ?? [])
        if (expected.outcome === 'valid') {
          const pods = expected.objects.filter((o) => o.startsWith('Pod ')).length
          assert.equal(state.pods.filter((p) => p.origin.file === file).length, pods, 'every valid pod is in the desired state')
        }
      })
    }
  } finally {
    process.chdir(cwd)
  }
})

test('the whole corpus at once: each flow-style (KYAML) and block file loads, and one bad file hides no valid pod of another', async (t) => {
  if (!present) {
    t.skip(`corpus not found at ${corpusDir}, skipped`)
    return
  }
  const state = await loadDesiredState([corpusDir], {recursive: true})
  assert.equal(state.files.length, Object.keys(pinned.files).length)
  // Validated together, pods with the same name in different files are duplicates; every other
  // pod that is valid on its own is valid in the whole set too.
  const dupKeys = new Set(
    state.diagnostics.filter((d) => /is defined more than once/.test(d.message)).map((d) => d.object),
  )
  const validAlone = Object.entries(pinned.files)
    .filter(([, o]) => o.outcome === 'valid' && !o.with)
    .flatMap(([, o]) => o.objects.filter((x) => x.startsWith('Pod ')))
    .filter((x) => !dupKeys.has(x))
  const validTogether = new Set(state.pods.map((p) => `Pod ${p.key}`))
  for (const key of validAlone) assert.ok(validTogether.has(key), `${key} is valid on its own and in the whole set`)
})
