import {Args, Flags} from '@oclif/core'
import {podName, prefixedPodName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {checkNamespace} from '../lib/namespace.js'
import {DEFAULT_DAEMON_SOCKET} from '../daemon/options.js'

export default class Describe extends BaseCommand<typeof Describe> {
  static override summary = 'Show a pod in detail, as kubectl describe pod does: containers, states, probes, mounts, conditions, volumes, events.'
  static override examples = ['<%= config.bin %> describe pod web', '<%= config.bin %> describe pod/web -n prod', '<%= config.bin %> describe pods -l app=web']
  static override strict = false
  static override args = {what: Args.string({description: 'pod (or pods, po) then NAME..., or pod/NAME.', required: true})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    selector: Flags.string({char: 'l', summary: 'The pods whose labels match.'}),
    'daemon-socket': Flags.string({summary: 'API socket of the `podrun daemon` (events, probes, back-off).', env: 'PODRUN_DAEMON_SOCKET', default: DEFAULT_DAEMON_SOCKET}),
  }

  async run(): Promise<void> {
    const {flags} = this
    checkNamespace(flags.namespace)
    const [what, ...rest] = this.positionals
    const named = prefixedPodName(what)
    if (!named && !/^(pods?|po)$/.test(what)) throw new PodrunError(`podrun describes pods: "${what}" is not pod, pods, po or pod/NAME`, {reason: 'Usage', exitCode: ExitCode.invalid})
    const names = [...(named ? [named] : []), ...rest.map(podName)]
    if (names.length === 0 && !flags.selector) throw new PodrunError('name the pods, or give -l SELECTOR', {reason: 'Usage', exitCode: ExitCode.invalid})
    const {listPods} = await import('../daemon/pod-list.js')
    const {fetchDaemonPods} = await import('../daemon/client.js')
    const {parseSelector} = await import('../lib/selector.js')
    const {describePod} = await import('../lib/describe-pod.js')
    const matches = flags.selector === undefined ? () => true : parseSelector(flags.selector)
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    try {
      const {all, daemon} = await listPods(cri, fetchDaemonPods(flags['daemon-socket']))
      const here = all.filter((v) => v.namespace === flags.namespace && (names.length ? names.includes(v.name) : matches(v.pod.metadata?.labels)))
      const infos = new Map(daemon?.pods.map((p) => [p.key, p]))
      process.stdout.write(here.map((v) => describePod(v.pod, daemon ? (infos.get(v.key)?.events ?? []) : undefined)).join('\n\n'))
      const missing = names.filter((n) => !here.some((v) => v.name === n))
      if (missing.length) throw new PodrunError(`${missing.map((n) => `pods "${n}"`).join(', ')} not found in namespace ${flags.namespace}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
      if (here.length === 0) process.stderr.write(`No resources found in ${flags.namespace} namespace.\n`)
    } finally {
      cri.close()
    }
  }
}
