import {Flags} from '@oclif/core'
import type {Event as K8sEvent} from 'kubernetes-types/core/v1.js'
import {prefixedPodName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {checkNamespace} from '../lib/namespace.js'
import {seenAgo} from '../lib/duration.js'
import {renderTable} from '../lib/table.js'
import {printObject} from '../lib/output.js'
import {compareText} from '../lib/compare.js'
import {DEFAULT_DAEMON_SOCKET} from '../daemon/options.js'
import type {DaemonPodList} from '../daemon/view.js'

/** The daemon's events as Kubernetes Event objects, oldest last seen first. */
function eventsOf(list: DaemonPodList, keep: (namespace: string, name: string) => boolean): K8sEvent[] {
  const out: K8sEvent[] = []
  for (const p of list.pods) {
    if (!keep(p.namespace, p.name)) continue
    for (const e of p.events) {
      out.push({
        apiVersion: 'v1',
        kind: 'Event',
        metadata: {name: `${p.name}.${Date.parse(e.firstTime ?? e.time).toString(16)}.${e.reason}`, namespace: p.namespace},
        involvedObject: {kind: 'Pod', namespace: p.namespace, name: p.name},
        type: e.type,
        reason: e.reason,
        message: e.message,
        count: e.count ?? 1,
        firstTimestamp: e.firstTime ?? e.time,
        lastTimestamp: e.time,
        source: {component: 'podrun'},
      })
    }
  }
  return out.sort((a, b) => compareText(a.lastTimestamp ?? '', b.lastTimestamp ?? ''))
}

export default class Events extends BaseCommand<typeof Events> {
  static override summary = 'List the events of pods, as kubectl events does (kept by the podrun daemon).'
  static override description =
    'Events (Pulling, Pulled, Created, Started, Killing, BackOff, Unhealthy, Failed, FailedMount, RolledBack...) are recorded by the daemon as it works, repeated ones counted, a bounded number per pod. Without a daemon there are none: get pods and logs show what the runtime itself knows.'
  static override examples = ['<%= config.bin %> events', '<%= config.bin %> events --for pod/web -w', '<%= config.bin %> events -A -o yaml']
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    'all-namespaces': Flags.boolean({char: 'A', summary: 'Events of every namespace.'}),
    for: Flags.string({summary: 'Only the events of this pod: pod/NAME.'}),
    watch: Flags.boolean({char: 'w', summary: 'After the list, print each new or repeated event (Ctrl-C ends).'}),
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json', 'yaml']}),
    'daemon-socket': Flags.string({summary: 'API socket of the `podrun daemon`.', env: 'PODRUN_DAEMON_SOCKET', default: DEFAULT_DAEMON_SOCKET}),
  }

  async run(): Promise<void> {
    const {flags} = this
    checkNamespace(flags.namespace)
    const only = flags.for === undefined ? undefined : prefixedPodName(flags.for)
    if (flags.for !== undefined && !only) throw new PodrunError(`--for takes pod/NAME, not "${flags.for}"`, {reason: 'Usage', exitCode: ExitCode.invalid})
    const keep = (ns: string, name: string) => (flags['all-namespaces'] || ns === flags.namespace) && (only === undefined || name === only)
    const {fetchDaemonPods} = await import('../daemon/client.js')
    const list = await fetchDaemonPods(flags['daemon-socket'])
    if (!list) {
      process.stderr.write(
        `No events: no podrun daemon answers on ${flags['daemon-socket']}. Events are recorded by the daemon as it works (\`podrun daemon\`); without one, \`podrun get pods\` and \`podrun logs\` show what the runtime itself knows (states, exit codes, reasons, logs).\n`,
      )
      return
    }
    const events = eventsOf(list, keep)
    if (flags.output) {
      printObject({apiVersion: 'v1', kind: 'List', metadata: {resourceVersion: ''}, items: events}, flags.output as 'json' | 'yaml')
      return
    }
    const headers = [...(flags['all-namespaces'] ? ['NAMESPACE'] : []), 'LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']
    const row = (e: K8sEvent, now: number): string[] => {
      const seen = seenAgo(e.lastTimestamp!, e.firstTimestamp!, e.count ?? 1, now)
      return [...(flags['all-namespaces'] ? [e.involvedObject.namespace ?? ''] : []), seen, e.type ?? '', e.reason ?? '', `pod/${e.involvedObject.name}`, e.message ?? '']
    }
    if (events.length === 0 && !flags.watch) {
      process.stderr.write(flags['all-namespaces'] ? 'No events found.\n' : `No events found in ${flags.namespace} namespace.\n`)
      return
    }
    const now = Date.now()
    process.stdout.write(renderTable(headers, events.map((e) => row(e, now))))
    if (!flags.watch) return
    // -w: each event again when it is new or happened once more.
    const seen = new Map(events.map((e) => [`${e.involvedObject.namespace}/${e.metadata?.name}`, e.count]))
    for (;;) {
      await new Promise((r) => setTimeout(r, 1000))
      const next = await fetchDaemonPods(flags['daemon-socket'])
      if (!next) continue
      const t = Date.now()
      for (const e of eventsOf(next, keep)) {
        const id = `${e.involvedObject.namespace}/${e.metadata?.name}`
        if (seen.get(id) === e.count) continue
        seen.set(id, e.count)
        process.stdout.write(row(e, t).join('   ') + '\n')
      }
    }
  }
}
