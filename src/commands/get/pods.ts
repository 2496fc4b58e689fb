import {Args, Flags} from '@oclif/core'
import {podName} from '../../lib/pod-ref.js'
import {BaseCommand} from '../../lib/base-command.js'
import {PodrunError, ExitCode} from '../../lib/errors.js'
import {formatDuration} from '../../lib/duration.js'
import {columnWidths, renderTable, tableLine} from '../../lib/table.js'
import {printObject} from '../../lib/output.js'
import {connect} from '../../lib/connect.js'
import {DEFAULT_DAEMON_SOCKET} from '../../daemon/options.js'
import {compareText} from '../../lib/compare.js'
import {checkNamespace} from '../../lib/namespace.js'
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {PodView} from '../../daemon/pod-list.js'

export default class GetPods extends BaseCommand<typeof GetPods> {
  static override summary = 'List the pods podrun runs, computed from the runtime.'
  static override aliases = ['get:pod', 'get:po']
  static override examples = ['<%= config.bin %> get pods', '<%= config.bin %> get pods -A -o wide', '<%= config.bin %> get pods web -n prod -o yaml', '<%= config.bin %> get pods -l app=web --show-labels -w']
  static override args = {name: Args.string({description: 'Only these pods (NAME or pod/NAME; several may be given).'})}
  static override strict = false
  static override flags = {
    selector: Flags.string({char: 'l', summary: 'Only pods whose labels match, e.g. app=web,tier!=db.'}),
    'show-labels': Flags.boolean({summary: 'Add a LABELS column.'}),
    'sort-by': Flags.string({summary: 'Sort by a field path, e.g. .metadata.name, .status.startTime, {.metadata.creationTimestamp}.'}),
    watch: Flags.boolean({char: 'w', summary: 'After the list, print each pod again whenever its row changes (Ctrl-C ends).'}),
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    'all-namespaces': Flags.boolean({char: 'A', summary: 'Pods of every namespace.'}),
    output: Flags.string({char: 'o', summary: 'Output format: wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=HEADER:.path,...'}),
    'daemon-socket': Flags.string({
      summary: 'API socket of a running `podrun daemon`: adds back-off, image pull and manifest errors it knows.',
      env: 'PODRUN_DAEMON_SOCKET',
      default: DEFAULT_DAEMON_SOCKET,
    }),
  }

  async run(): Promise<void> {
    const {flags} = this
    checkNamespace(flags.namespace)
    const out = flags.output
    if (out !== undefined && !['wide', 'json', 'yaml', 'name'].includes(out) && !/^(jsonpath|custom-columns)=/.test(out)) {
      throw new PodrunError(`unable to match a printer for output format "${out}": use wide, json, yaml, name, jsonpath=TEMPLATE or custom-columns=HEADER:.path,...`, {reason: 'Usage', exitCode: ExitCode.invalid})
    }
    const {statusReason} = await import('../../reconcile/status.js')
    const {fetchDaemonPods} = await import('../../daemon/client.js')
    const {listPods, awaitsRestart, NO_DAEMON} = await import('../../daemon/pod-list.js')
    // A daemon that answers knows what the runtime cannot tell (back-off, pulls, broken manifests).
    const asked = fetchDaemonPods(flags['daemon-socket'])
    const names = this.positionals.map(podName)
    const {parseSelector} = await import('../../lib/selector.js')
    const matches = flags.selector === undefined ? () => true : parseSelector(flags.selector)
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    // The plain table (and names) show no IP and no running container's details: fewer calls.
    const table = (out === undefined || out === 'name') && !flags['sort-by']
    const list = async (daemonAsked: ReturnType<typeof fetchDaemonPods>) => {
      const {all, daemon} = await listPods(cri, daemonAsked, {table})
      const views = all.filter((v) => (flags['all-namespaces'] || v.namespace === flags.namespace) && (names.length === 0 || names.includes(v.name)) && matches(v.pod.metadata?.labels))
      if (flags['sort-by']) sortBy(views, flags['sort-by'])
      return {views, daemon}
    }
    try {
      const {views, daemon} = await list(asked)
      const missing = names.filter((n) => !views.some((v) => v.name === n))
      if (missing.length > 0 && views.length === 0) {
        throw new PodrunError(`${missing.map((n) => `pod "${n}"`).join(', ')} not found in namespace ${flags.namespace}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
      }
      const pods = views.map((v) => v.pod)
      if (flags.output === 'json' || flags.output === 'yaml') {
        printObject(names.length === 1 && pods.length === 1 ? pods[0] : {apiVersion: 'v1', kind: 'List', metadata: {resourceVersion: ''}, items: pods}, flags.output)
      } else if (out?.startsWith('jsonpath=')) {
        const {jsonpath} = await import('../../lib/jsonpath.js')
        process.stdout.write(jsonpath(out.slice('jsonpath='.length), names.length === 1 && pods.length === 1 ? pods[0] : {apiVersion: 'v1', kind: 'List', items: pods}))
      } else if (out?.startsWith('custom-columns=')) {
        const {customColumns} = await import('../../lib/jsonpath.js')
        const {headers, rows} = customColumns(out.slice('custom-columns='.length), pods)
        process.stdout.write(renderTable(headers, rows))
      } else if (flags.output === 'name') {
        for (const p of pods) process.stdout.write(`pod/${p.metadata?.name}\n`)
      } else if (pods.length === 0 && !flags.watch) {
        process.stderr.write(flags['all-namespaces'] ? 'No resources found\n' : `No resources found in ${flags.namespace} namespace.\n`)
      } else {
        const wide = flags.output === 'wide'
        const headers = [...(flags['all-namespaces'] ? ['NAMESPACE'] : []), 'NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', ...(wide ? ['IP', 'NODE', 'SOURCE', 'MESSAGE'] : []), ...(flags['show-labels'] ? ['LABELS'] : [])]
        const rowOf = (v: (typeof views)[number], now: number): string[] => podRow(v, now, {namespace: flags['all-namespaces'], wide, labels: flags['show-labels'], statusReason})
        const now = Date.now()
        const rows = views.map((v) => rowOf(v, now))
        process.stdout.write(renderTable(headers, rows))
        const shown = daemon ? 0 : views.filter((v) => awaitsRestart(v.pod)).length
        if (shown > 0) process.stderr.write(`note: ${NO_DAEMON}: ${shown} pod(s) have containers that exited and are not restarted until one runs (\`podrun daemon\`)\n`)
        if (flags.watch) {
          // kubectl's -w: each pod again, without a header, whenever its row (but its age) changes.
          const last = new Map(views.map((v, i) => [v.key, rows[i]]))
          const widths = columnWidths(headers, rows)
          const ageAt = headers.indexOf('AGE')
          const same = (a: string[], b: string[]) => a.every((x, i) => i === ageAt || x === b[i])
          for (;;) {
            await new Promise((r) => setTimeout(r, 1000))
            const next = await list(fetchDaemonPods(flags['daemon-socket'])).catch(() => undefined)
            if (!next) continue
            const t = Date.now()
            for (const v of next.views) {
              const row = rowOf(v, t)
              const before = last.get(v.key)
              if (before && same(before, row)) continue
              last.set(v.key, row)
              process.stdout.write(tableLine(row, widths) + '\n')
            }
          }
        }
      }
      if (missing.length > 0) {
        throw new PodrunError(`${missing.map((n) => `pod "${n}"`).join(', ')} not found in namespace ${flags.namespace}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
      }
    } finally {
      cri.close()
    }
  }
}

type View = PodView

/** One table row, with kubectl's columns. */
function podRow(v: View, now: number, o: {namespace: boolean; wide: boolean; labels: boolean; statusReason: (p: Pod) => string}): string[] {
  const p = v.pod
  // As kubectl counts them: app containers and native sidecars (restartable init containers).
  const sidecars = (p.status?.initContainerStatuses ?? []).filter((_, i) => p.spec?.initContainers?.[i]?.restartPolicy === 'Always')
  const cs = [...(p.status?.containerStatuses ?? []), ...sidecars]
  const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0)
  const last = cs
    .map((c) => c.lastState?.terminated?.finishedAt)
    .filter((t): t is string => !!t)
    .sort()
    .pop()
  const created = p.metadata?.creationTimestamp ? Date.parse(p.metadata.creationTimestamp) : now
  const labels = Object.entries(p.metadata?.labels ?? {}).sort(([a], [b]) => compareText(a, b)).map(([k, x]) => `${k}=${x}`).join(',') || '<none>'
  return [
    ...(o.namespace ? [v.namespace] : []),
    v.name,
    `${cs.filter((c) => c.ready).length}/${cs.length}`,
    o.statusReason(p),
    restarts > 0 && last ? `${restarts} (${formatDuration(now - Date.parse(last))} ago)` : String(restarts),
    formatDuration(now - created),
    ...(o.wide ? [p.status?.podIP ?? '<none>', p.spec?.nodeName ?? '<none>', v.source || '<none>', p.status?.message ?? '<none>'] : []),
    ...(o.labels ? [labels] : []),
  ]
}

/** kubectl's --sort-by: a field path such as .metadata.name or {.status.containerStatuses[0].restartCount}. */
function sortBy(views: View[], expr: string): void {
  const steps = expr.replace(/^\{|\}$/g, '').replace(/^\./, '').split(/\.|\[(\d+)\]/).filter((x) => x !== undefined && x !== '')
  const at = (p: Pod): unknown => steps.reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), p)
  const cmp = (a: unknown, b: unknown): number => {
    if (a === undefined) return b === undefined ? 0 : -1
    if (b === undefined) return 1
    if (typeof a === 'number' && typeof b === 'number') return a - b
    return compareText(String(a), String(b))
  }
  views.sort((x, y) => cmp(at(x.pod), at(y.pod)))
}
