// The manifest front door for commands that act on pods (apply, diff, delete -f): load and validate
// everything, print every problem as `file:line:col: path: message`, and refuse to go on when any
// is an error, so a bad manifest changes nothing that runs.
import {ExitCode, PodrunError} from './errors.js'
import type {DesiredState} from '../manifest/types.js'
import type {PodSecurityPolicy} from '../manifest/pod-security.js'
import type {RemoteOptions} from '../manifest/remote.js'
import {formatDiagnostic} from '../manifest/format.js'

export async function loadManifests(paths: string[], opts: {recursive?: boolean; source?: (file: string) => string; verb: string; podSecurity?: PodSecurityPolicy; remote?: RemoteOptions}): Promise<DesiredState> {
  const {loadDesiredState} = await import('../manifest/index.js')
  const state = await loadDesiredState(paths, {recursive: opts.recursive, source: opts.source, podSecurity: opts.podSecurity, remote: opts.remote})
  for (const d of state.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n')
  const errors = state.diagnostics.filter((d) => d.severity === 'error')
  if (errors.length > 0) {
    throw new PodrunError(`${errors.length} error${errors.length === 1 ? '' : 's'} in the manifests; nothing was changed`, {
      exitCode: ExitCode.invalid,
      reason: 'ManifestInvalid',
      suggestions: ['fix the problems above; `podrun validate -f ...` checks manifests without touching the runtime'],
    })
  }
  // As kubectl: an empty folder or empty input is a mistake, not "nothing to do".
  if (state.pods.length === 0) {
    throw new PodrunError(`no objects passed to ${opts.verb}: ${paths.join(', ')} hold${paths.length === 1 ? 's' : ''} no Pod`, {
      exitCode: ExitCode.invalid,
      reason: 'NoObjects',
      suggestions: ['check the path (-R reads subfolders), or that the manifests are kind: Pod'],
    })
  }
  return state
}
