import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode} from '../lib/errors.js'
import {loadDesiredState} from '../manifest/index.js'
import {podSecurityFlags, podSecurityPolicy} from '../lib/pod-security-flags.js'
import {remoteFlags, remoteOptions} from '../lib/remote-flags.js'
import {formatDiagnostic, formatSummary, summarize} from '../manifest/format.js'

export default class Validate extends BaseCommand<typeof Validate> {
  static override summary = 'Check manifests without touching the runtime.'
  static override description =
    'Loads the manifests, validates them against the Kubernetes API schema and pod rules, and checks what a standalone node cannot do. Prints every problem of every file as file:line:col: path: message, then a summary. Exits 0 when valid (warnings allowed), 1 when not.'
  static override examples = [
    '<%= config.bin %> validate -f pod.yaml',
    '<%= config.bin %> validate -f manifests/ -R',
    'cat pod.yaml | <%= config.bin %> validate -f -',
    '<%= config.bin %> validate -f manifests/ -o json',
  ]
  static override flags = {
    filename: Flags.string({char: 'f', summary: 'Manifest file, directory, https URL, or - for stdin.', multiple: true, required: true}),
    ...podSecurityFlags,
    ...remoteFlags,
    recursive: Flags.boolean({char: 'R', summary: 'Read directories recursively.'}),
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json']}),
  }

  async run(): Promise<void> {
    const {flags} = this
    const state = await loadDesiredState(flags.filename, {recursive: flags.recursive, podSecurity: podSecurityPolicy(flags), remote: remoteOptions(flags)})
    const summary = summarize(state)
    const valid = summary.errors === 0
    if (flags.output === 'json') {
      const out = {valid, summary, diagnostics: state.diagnostics, objects: state.objects}
      process.stdout.write(JSON.stringify(out, null, 2) + '\n')
    } else {
      const lines = state.diagnostics.map(formatDiagnostic)
      lines.push(formatSummary(summary))
      process.stdout.write(lines.join('\n') + '\n')
    }
    if (!valid) process.exitCode = ExitCode.invalid
  }
}
