// podrun version: podrun's own version and what the container runtime reports, as crictl prints it.
import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {connect} from '../lib/connect.js'
import {printObject} from '../lib/output.js'

export interface VersionInfo {
  version: string
  runtimeName: string
  runtimeVersion: string
  runtimeApiVersion: string
}

export default class Version extends BaseCommand<typeof Version> {
  static override summary = 'Show the podrun version and the container runtime version.'
  static override description =
    'Asks the runtime for its name and versions over CRI, and checks that it speaks CRI v1.'

  static override examples = [
    '<%= config.bin %> version',
    '<%= config.bin %> version -o json',
    '<%= config.bin %> version --runtime-endpoint unix:///run/containerd/containerd.sock',
  ]

  static override flags = {
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json', 'yaml']}),
  }

  public async run(): Promise<void> {
    const cri = await connect({endpoint: this.flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    const info: VersionInfo = {
      version: this.config.version,
      runtimeName: cri.runtimeName,
      runtimeVersion: cri.runtimeVersion,
      runtimeApiVersion: cri.runtimeApiVersion,
    }
    cri.close()

    if (this.flags.output === 'json' || this.flags.output === 'yaml') {
      printObject(info, this.flags.output)
    } else {
      process.stdout.write(
        [
          `Version:  ${info.version}`,
          `RuntimeName:  ${info.runtimeName}`,
          `RuntimeVersion:  ${info.runtimeVersion}`,
          `RuntimeApiVersion:  ${info.runtimeApiVersion}`,
        ].join('\n') + '\n',
      )
    }
  }
}
