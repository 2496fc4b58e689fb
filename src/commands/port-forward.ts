import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {connect} from '../lib/connect.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {onInterrupt} from '../lib/interrupt.js'
import {checkNamespace} from '../lib/namespace.js'
import {podName} from '../lib/pod-ref.js'

export default class PortForward extends BaseCommand<typeof PortForward> {
  static override summary = 'Forward local ports to ports in a pod, until Ctrl-C.'
  static override description =
    "Each connection to a local port is carried to the pod's port through the runtime's streaming server (CRI PortForward), as kubectl port-forward does. Ports: LOCAL:REMOTE, :REMOTE for a free local port, PORT for the same on both sides; REMOTE may be a container port's name. Listens on 127.0.0.1 unless --address says otherwise."
  static override examples = ['<%= config.bin %> port-forward web 8080:80', '<%= config.bin %> port-forward pod/web :http 9090', '<%= config.bin %> port-forward web 8080:80 --address 127.0.0.1,192.168.1.5']
  static override strict = false
  static override args = {pod: Args.string({description: 'The pod: NAME or pod/NAME.', required: true})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    address: Flags.string({summary: 'Addresses to listen on, comma-separated (localhost means 127.0.0.1).', default: '127.0.0.1'}),
  }

  async run(): Promise<void> {
    const {flags, args} = this
    checkNamespace(flags.namespace)
    const specs = this.positionals.slice(1)
    const {forwardPorts, parsePortPair} = await import('../reconcile/port-forward.js')
    const pairs = specs.map(parsePortPair)
    if (pairs.length === 0) {
      throw new PodrunError('no ports given', {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: [`podrun port-forward ${args.pod} 8080:80`]})
    }
    const addresses = [...new Set(flags.address.split(',').map((a) => a.trim()).map((a) => (a === 'localhost' ? '127.0.0.1' : a)))]
    const note = (text: string): void => {
      process.stderr.write(`${text}\n`)
    }
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    const interrupt = onInterrupt()
    try {
      const handle = await forwardPorts(cri, {namespace: flags.namespace, name: podName(args.pod), pairs, addresses, note})
      for (const f of handle.forwards) process.stdout.write(`Forwarding from ${f.address}:${f.local} -> ${f.remote}\n`)
      const stop = (): void => handle.close()
      process.once('SIGTERM', stop)
      await Promise.race([interrupt.interrupted, handle.closed])
      process.off('SIGTERM', stop)
      handle.close()
    } finally {
      interrupt.dispose()
      cri.close()
    }
  }
}
