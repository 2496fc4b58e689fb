import {Args, Flags} from '@oclif/core'
import {podName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {checkNamespace} from '../lib/namespace.js'
import {parseDuration} from '../lib/duration.js'

export default class Logs extends BaseCommand<typeof Logs> {
  static override summary = "Print a container's log, as kubectl logs does."
  static override description =
    'Reads the log file the runtime writes for the container (CRI format, partial lines joined). Without -c, a pod with several containers shows its default one (the kubectl.kubernetes.io/default-container annotation, else the first) and says so.'
  static override examples = [
    '<%= config.bin %> logs web',
    '<%= config.bin %> logs web -c sidecar --tail 20 -f',
    '<%= config.bin %> logs pod/web --previous',
    '<%= config.bin %> logs -l app=web --all-containers --prefix',
  ]
  static override args = {pod: Args.string({description: 'The pod: NAME or pod/NAME.'})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    container: Flags.string({char: 'c', summary: 'The container.'}),
    'all-containers': Flags.boolean({summary: 'Every container of the pod (init containers first).'}),
    follow: Flags.boolean({char: 'f', summary: 'Keep printing new lines, across log rotations and container restarts.'}),
    previous: Flags.boolean({char: 'p', summary: 'The previous instance of the container (the one that ended last).'}),
    tail: Flags.integer({summary: 'Only the last N lines (-1: all).', default: -1, min: -1}),
    since: Flags.string({summary: 'Only lines newer than this duration, e.g. 5s, 2m, 1h.'}),
    timestamps: Flags.boolean({summary: 'Start each line with its time.'}),
    prefix: Flags.boolean({summary: 'Start each line with pod/NAME/CONTAINER.'}),
    selector: Flags.string({char: 'l', summary: 'Pods whose labels match this selector, e.g. app=web,tier!=db.'}),
  }

  async run(): Promise<void> {
    const {flags, args} = this
    checkNamespace(flags.namespace)
    const name = (args.pod === undefined ? undefined : podName(args.pod))
    if (!name && !flags.selector) throw new PodrunError('a pod name or -l SELECTOR is needed', {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: ['podrun logs NAME, or podrun logs -l app=web']})
    if (name && flags.selector) throw new PodrunError('a pod name and -l cannot be used together', {reason: 'Usage', exitCode: ExitCode.invalid})
    const {podLogs} = await import('../reconcile/pod-logs.js')
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    try {
      await podLogs(cri, {
        namespace: flags.namespace,
        name,
        selector: flags.selector,
        container: flags.container,
        allContainers: flags['all-containers'],
        follow: flags.follow,
        previous: flags.previous,
        tail: flags.tail,
        sinceMs: flags.since === undefined ? undefined : parseDuration(flags.since, '--since'),
        timestamps: flags.timestamps,
        prefix: flags.prefix,
        out: process.stdout,
        note: (text) => process.stderr.write(`${text}\n`),
      })
    } finally {
      cri.close()
    }
  }
}
