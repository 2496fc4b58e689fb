// podrun's front door: manifests in, desired state and diagnostics out.
//
//   paths -> files (load.ts) -> documents with positions (yaml-positions.ts) -> objects (objects.ts)
//   -> schema (schema.ts) + rules (semantic.ts, standalone.ts) -> across objects (references.ts)
//   -> desired state with defaults and hashes (normalize.ts, hash.ts)
//
// Every problem is a diagnostic attributed to its file (and object), so one bad file never hides
// the valid pods of the others: `pods` holds every pod without errors, and `objects` says which
// objects each file defined and whether they were valid (what a daemon needs to keep a pod's last
// good version while its file is broken). `validate` and `apply` treat any error as failure.
import {ObjectReporter, sortDiagnostics} from './diagnostics.js'
import {collectInputs, readInput} from './load.js'
import {defaultSource, desiredConfigMap, desiredPod} from './normalize.js'
import {desiredSecret} from './normalize.js'
import {objectsOf} from './objects.js'
import {checkDuplicates, checkReferences, type CheckedObject} from './references.js'
import {checkSchema} from './schema.js'
import {checkConfigMap, checkPod, checkSecret} from './semantic.js'
import {standaloneFindings} from './standalone.js'
import {judgePod} from './pod-security.js'
import {DEFAULT_LIMITS, type DesiredState, type Diagnostic, type Limits, type LoadOptions} from './types.js'
import {parseYamlDocuments} from './yaml-positions.js'
import {readFileSync} from 'node:fs'
import {signatureProblem, type VerifyKey} from '../lib/signature.js'
import {objectKey} from '../model/desired.js'

export type {Diagnostic, DesiredState, LoadOptions, Limits, DesiredConfigMap, DesiredSecret, Severity} from './types.js'
export {DEFAULT_LIMITS} from './types.js'
export {KUBERNETES_VERSION} from './schema.js'
export {renderStandaloneTable, STANDALONE_RULES} from './standalone.js'

/** Loads, validates and normalizes the manifests at `paths` (files, directories, "-" for stdin). */
export async function loadDesiredState(paths: string[], opts: LoadOptions = {}): Promise<DesiredState> {
  const limits: Limits = {...DEFAULT_LIMITS, ...opts.limits}
  const diagnostics: Diagnostic[] = []
  // URLs are read with remote.ts (loaded only then: http and tls cost start-up time).
  const isUrl = (p: string) => /^https?:\/\//i.test(p)
  const urls = paths.filter(isUrl)
  const local = paths.filter((p) => !isUrl(p))
  const collected = local.length > 0 ? await collectInputs(local, {recursive: opts.recursive === true, limits}) : {files: [], diagnostics: []}
  diagnostics.push(...collected.diagnostics)
  const texts: Array<{file: string; text?: string}> = []
  const keys = opts.remote?.verifyKeys ?? []
  for (const file of collected.files) {
    const read = await readInput(file, {limits, stdin: opts.stdin})
    // With --verify-key, a file counts only with a valid signature beside it (FILE.sig).
    const unsigned = 'text' in read && keys.length > 0 ? localSignatureProblem(file.absolute, read.text, keys) : undefined
    if ('diagnostic' in read || unsigned) {
      diagnostics.push('diagnostic' in read ? read.diagnostic : {severity: 'error', file: file.display, line: 0, col: 0, path: '', message: unsigned!, code: 'unsigned'})
      texts.push({file: file.display})
    } else texts.push({file: file.display, text: read.text})
  }
  for (const url of urls) {
    const {readRemote} = await import('./remote.js')
    const r = await readRemote(url, {maxBytes: limits.maxFileBytes, ...opts.remote})
    if ('error' in r) {
      diagnostics.push({severity: 'error', file: url, line: 0, col: 0, path: '', message: r.error, ...(r.unsigned ? {code: 'unsigned' as const} : {})})
      texts.push({file: url})
    } else texts.push({file: url, text: r.text})
  }
  const extraFiles = collected.diagnostics.filter((d) => d.severity === 'error').map((d) => d.file)
  return desiredStateOf(texts, diagnostics, limits, opts, extraFiles)
}

/** The same as loadDesiredState, for texts already in memory (tests, editors, the daemon's cache). */
export function desiredStateFromTexts(inputs: Array<{file: string; text: string}>, opts: LoadOptions = {}): DesiredState {
  const limits: Limits = {...DEFAULT_LIMITS, ...opts.limits}
  return desiredStateOf(inputs, [], limits, opts, [])
}

function desiredStateOf(
  inputs: Array<{file: string; text?: string}>,
  diagnostics: Diagnostic[],
  limits: Limits,
  opts: LoadOptions,
  unreadable: string[],
): DesiredState {
  const checked: CheckedObject[] = []
  for (const {file, text} of inputs) {
    if (text === undefined) continue
    const parsed = parseYamlDocuments(text, limits)
    for (const p of parsed.problems) {
      diagnostics.push({severity: 'error', file, line: p.line, col: p.col, path: '', message: p.message})
    }
    for (const doc of parsed.documents) {
      const source = {file, doc: doc.index, value: doc.value, positions: doc.positions, start: doc.start, text}
      for (const obj of objectsOf(source, diagnostics)) {
        const r = new ObjectReporter(diagnostics, obj)
        checkSchema(r)
        if (obj.kind === 'Pod') {
          checkPod(r)
          for (const f of standaloneFindings(obj.value)) {
            if (f.action === 'ignore') r.warning(f.path, f.message)
            else r.error(f.path, f.message, 'key')
          }
          if (opts.podSecurity) {
            const judged = judgePod(obj.value, opts.podSecurity)
            for (const e of judged.errors) r.error(e.path, e.message)
            for (const w of judged.warnings) r.warning(w.path, w.message, 'value')
          }
        } else if (obj.kind === 'ConfigMap') checkConfigMap(r)
        else checkSecret(r)
        checked.push({obj, r})
      }
    }
  }

  checkDuplicates(checked)
  const pods = checked.filter((c) => c.obj.kind === 'Pod')
  const configs = checked.filter((c) => c.obj.kind !== 'Pod')
  checkReferences(pods, configs)

  const source = opts.source ?? defaultSource
  const files = [...new Set([...unreadable, ...inputs.map((i) => i.file)])]
  return {
    pods: pods.filter((c) => c.r.errors === 0).map((c) => desiredPod(c.obj, source(c.obj.source.file))),
    configMaps: configs.filter((c) => c.obj.kind === 'ConfigMap' && c.r.errors === 0).map((c) => desiredConfigMap(c.obj)),
    secrets: configs.filter((c) => c.obj.kind === 'Secret' && c.r.errors === 0).map((c) => desiredSecret(c.obj)),
    diagnostics: sortDiagnostics(diagnostics, files),
    files,
    objects: checked.map((c) => ({
      file: c.obj.source.file,
      kind: c.obj.kind,
      key: objectKey(c.obj.namespace, c.obj.name),
      valid: c.r.errors === 0,
    })),
  }
}

/** Why a local file's signature (FILE.sig beside it) does not make it count, or undefined when it does. */
function localSignatureProblem(file: string | undefined, text: string, keys: VerifyKey[]): string | undefined {
  if (file === undefined) return 'stdin cannot be signed: give files or URLs with --verify-key'
  let sig: string
  try {
    sig = readFileSync(`${file}.sig`, 'utf8')
  } catch {
    return `no signature: ${file}.sig is missing (sign with: ssh-keygen -Y sign -n podrun -f KEY ${file})`
  }
  return signatureProblem(Buffer.from(text), sig, keys)
}
