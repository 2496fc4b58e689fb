// How diagnostics are shown to people: `file:line:col: path.to.field: message`, warnings marked, and
// a one-line summary. (`-o json` prints the Diagnostic objects themselves.)
import type {DesiredState, Diagnostic} from './types.js'

export function formatDiagnostic(d: Diagnostic): string {
  const where = d.line > 0 ? `${d.file}:${d.line}:${d.col}` : d.file
  const kind = d.severity === 'warning' ? 'warning: ' : ''
  return `${where}: ${d.path ? `${d.path}: ` : ''}${kind}${d.message}`
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`

export interface Summary {
  files: number
  pods: number
  configMaps: number
  secrets: number
  errors: number
  warnings: number
}

export function summarize(state: DesiredState): Summary {
  const count = (kind: string): number => state.objects.filter((o) => o.kind === kind).length
  return {
    files: state.files.length,
    pods: count('Pod'),
    configMaps: count('ConfigMap'),
    secrets: count('Secret'),
    errors: state.diagnostics.filter((d) => d.severity === 'error').length,
    warnings: state.diagnostics.filter((d) => d.severity === 'warning').length,
  }
}

/** e.g. "3 files, 5 pods, 1 configmap: 2 errors, 1 warning". */
export function formatSummary(s: Summary): string {
  const what = [plural(s.files, 'file'), plural(s.pods, 'pod')]
  if (s.configMaps > 0) what.push(plural(s.configMaps, 'configmap'))
  if (s.secrets > 0) what.push(plural(s.secrets, 'secret'))
  return `${what.join(', ')}: ${plural(s.errors, 'error')}, ${plural(s.warnings, 'warning')}`
}
