import {Args, Flags} from '@oclif/core'
import {podName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {checkNamespace} from '../lib/namespace.js'

export default class Exec extends BaseCommand<typeof Exec> {
  static override summary = 'Run a command in a running container and exit with its exit code.'
  static override description =
    'Runs the command through the runtime (CRI ExecSync): its output is printed when it ends, on stdout and stderr, and podrun exits with its exit code. Without -c, a pod with several containers uses its default one and says so. --timeout bounds the command.'
  static override examples = ['<%= config.bin %> exec web -- cat /etc/hostname', '<%= config.bin %> exec web -c sidecar --timeout 30s -- sh -c "ls /data"']
  static override strict = false
  static override args = {pod: Args.string({description: 'The pod: NAME or pod/NAME.', required: true})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    container: Flags.string({char: 'c', summary: 'The container.'}),
  }

  async run(): Promise<void> {
    const {flags, args} = this
    checkNamespace(flags.namespace)
    const dash = this.argv.indexOf('--')
    const cmd = dash < 0 ? [] : this.argv.slice(dash + 1)
    if (cmd.length === 0) {
      throw new PodrunError('no command: put it after --', {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: [`podrun exec ${args.pod} -- sh -c 'echo hello'`]})
    }
    const {execInPod} = await import('../reconcile/pod-exec.js')
    // --timeout bounds the command; the runtime's calls keep their usual deadline beside it.
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: 10_000})
    try {
      const r = await execInPod(cri, {
        namespace: flags.namespace,
        name: podName(args.pod),
        container: flags.container,
        cmd,
        timeoutSeconds: Math.ceil(this.callTimeoutMs / 1000),
        note: (text) => process.stderr.write(`${text}\n`),
      })
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      if (r.exitCode !== 0) this.exit(r.exitCode)
    } finally {
      cri.close()
    }
  }
}
