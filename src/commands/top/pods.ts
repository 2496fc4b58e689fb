import {Args, Flags} from '@oclif/core'
import {podName} from '../../lib/pod-ref.js'
import {BaseCommand} from '../../lib/base-command.js'
import {ExitCode, PodrunError} from '../../lib/errors.js'
import {connect} from '../../lib/connect.js'
import {checkNamespace} from '../../lib/namespace.js'
import {renderTable} from '../../lib/table.js'
import {compareText} from '../../lib/compare.js'

const mi = (b: number): string => `${Math.round(b / (1024 * 1024))}Mi`
const cores = (m: number | undefined): string => `${m ?? 0}m`

export default class TopPods extends BaseCommand<typeof TopPods> {
  static override summary = 'CPU and memory of pods, as kubectl top pods shows them (from the runtime\'s container stats).'
  static override description = 'CPU is the rate over one second between two samples of each container\'s cumulative usage (millicores); memory is the working set.'
  static override aliases = ['top:pod', 'top:po']
  static override examples = ['<%= config.bin %> top pods', '<%= config.bin %> top pods -A --containers', '<%= config.bin %> top pods web']
  static override args = {name: Args.string({description: 'Only this pod.'})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    'all-namespaces': Flags.boolean({char: 'A', summary: 'Pods of every namespace.'}),
    containers: Flags.boolean({summary: 'One line per container.'}),
    'sort-by': Flags.string({summary: 'cpu or memory (highest first).', options: ['cpu', 'memory']}),
  }

  async run(): Promise<void> {
    const {flags, args} = this
    checkNamespace(flags.namespace)
    const {measureUsage} = await import('../../reconcile/pod-usage.js')
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    try {
      const name = (args.name === undefined ? undefined : podName(args.name))
      const all = (await measureUsage(cri)).filter((u) => (flags['all-namespaces'] || u.namespace === flags.namespace) && (!name || u.pod === name))
      if (name && all.length === 0) throw new PodrunError(`pod "${name}" not found in namespace ${flags.namespace} (or it runs no container)`, {reason: 'NotFound', exitCode: ExitCode.invalid})
      if (all.length === 0) {
        process.stderr.write(`No resources found in ${flags['all-namespaces'] ? 'any' : flags.namespace} namespace.\n`)
        return
      }
      const ns = flags['all-namespaces'] ? ['NAMESPACE'] : []
      type Row = {namespace: string; pod: string; container?: string; m: number; bytes: number}
      let rows: Row[]
      if (flags.containers) rows = all.map((u) => ({namespace: u.namespace, pod: u.pod, container: u.container, m: u.milliCores ?? 0, bytes: u.workingSetBytes}))
      else {
        const byPod = new Map<string, Row>()
        for (const u of all) {
          const key = `${u.namespace}/${u.pod}`
          const r = byPod.get(key) ?? {namespace: u.namespace, pod: u.pod, m: 0, bytes: 0}
          r.m += u.milliCores ?? 0
          r.bytes += u.workingSetBytes
          byPod.set(key, r)
        }
        rows = [...byPod.values()]
      }
      rows.sort((a, b) =>
        flags['sort-by'] === 'cpu' ? b.m - a.m : flags['sort-by'] === 'memory' ? b.bytes - a.bytes : compareText(a.namespace, b.namespace) || compareText(a.pod, b.pod) || compareText(a.container ?? '', b.container ?? ''),
      )
      const headers = [...ns, ...(flags.containers ? ['POD', 'NAME'] : ['NAME']), 'CPU(cores)', 'MEMORY(bytes)']
      process.stdout.write(renderTable(headers, rows.map((r) => [...(flags['all-namespaces'] ? [r.namespace] : []), r.pod, ...(flags.containers ? [r.container ?? ''] : []), cores(r.m), mi(r.bytes)])))
    } finally {
      cri.close()
    }
  }
}
