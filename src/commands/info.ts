// podrun info: which runtime podrun talks to, and whether it is ready (its Status conditions).
// Exits 2 when RuntimeReady or NetworkReady is false, so scripts can wait on it.
import {renderTable} from '../lib/table.js'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {connect} from '../lib/connect.js'
import {printObject} from '../lib/output.js'
import {ExitCode} from '../lib/errors.js'

export interface RuntimeInfo {
  endpoint: string
  runtimeName: string
  runtimeVersion: string
  runtimeApiVersion: string
  ready: boolean
  conditions: {type: string; status: boolean; reason: string; message: string}[]
}

const REQUIRED = ['RuntimeReady', 'NetworkReady']

export default class Info extends BaseCommand<typeof Info> {
  static override summary = 'Show the container runtime podrun uses and whether it is ready.'
  static override description =
    'Prints the endpoint, the runtime name and version, and each condition the runtime reports ' +
    '(RuntimeReady, NetworkReady). Exits with code 2 when the runtime or its network is not ready.'

  static override examples = ['<%= config.bin %> info', '<%= config.bin %> info -o json']

  static override flags = {
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json', 'yaml']}),
  }

  public async run(): Promise<void> {
    const cri = await connect({endpoint: this.flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    let conditions: RuntimeInfo['conditions']
    try {
      const status = await cri.status()
      conditions = (status.status?.conditions ?? []).map((c) => ({type: c.type, status: c.status, reason: c.reason, message: c.message}))
    } finally {
      cri.close()
    }

    const problems: string[] = []
    for (const type of REQUIRED) {
      const c = conditions.find((x) => x.type === type)
      if (!c) problems.push(`${type} is not reported`)
      else if (!c.status) {
        const why = [c.reason, c.message].filter((s) => s !== '').join(': ')
        problems.push(`${type} is false${why ? ` (${why})` : ''}`)
      }
    }
    const info: RuntimeInfo = {
      endpoint: cri.endpoint,
      runtimeName: cri.runtimeName,
      runtimeVersion: cri.runtimeVersion,
      runtimeApiVersion: cri.runtimeApiVersion,
      ready: problems.length === 0,
      conditions,
    }

    if (this.flags.output === 'json' || this.flags.output === 'yaml') {
      printObject(info, this.flags.output)
    } else {
      process.stdout.write(renderText(info))
    }

    if (problems.length > 0) {
      process.stderr.write(`error: the runtime is not ready: ${problems.join('; ')}\n`)
      this.exit(ExitCode.runtime)
    }
  }
}

function renderText(info: RuntimeInfo): string {
  const lines = [
    `Endpoint:  ${info.endpoint}`,
    `RuntimeName:  ${info.runtimeName}`,
    `RuntimeVersion:  ${info.runtimeVersion}`,
    `RuntimeApiVersion:  ${info.runtimeApiVersion}`,
    'Conditions:',
  ]
  const rows = info.conditions.map((c) => [c.type, String(c.status), c.reason, c.message])
  return lines.join('\n') + '\n' + renderTable(['TYPE', 'STATUS', 'REASON', 'MESSAGE'], rows, {indent: '  '})
}
