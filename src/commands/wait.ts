import {Flags} from '@oclif/core'
import {podName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {checkNamespace} from '../lib/namespace.js'
import {DEFAULT_DAEMON_SOCKET} from '../daemon/options.js'

export default class Wait extends BaseCommand<typeof Wait> {
  static override summary = 'Wait until pods meet a condition, or are gone, as kubectl wait does.'
  static override description =
    'Looks at the pods as get pods does (with what a daemon knows of their probes) until each meets --for: condition=NAME (Ready, ContainersReady, Initialized, PodReadyToStartContainers; =false to wait for the opposite) or delete. --timeout is how long to wait (30s; 0: look once).'
  static override examples = ['<%= config.bin %> wait --for=condition=Ready pod/web --timeout 60s', '<%= config.bin %> wait --for=delete pod/web pod/db', '<%= config.bin %> wait --for=condition=Ready -l app=web']
  static override strict = false
  static override flags = {
    for: Flags.string({summary: 'condition=NAME[=true|false], or delete.', required: true}),
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    selector: Flags.string({char: 'l', summary: 'The pods whose labels match, instead of names.'}),
    'daemon-socket': Flags.string({summary: 'API socket of a running `podrun daemon` (readiness from its probes).', env: 'PODRUN_DAEMON_SOCKET', default: DEFAULT_DAEMON_SOCKET}),
  }

  async run(): Promise<void> {
    const {flags} = this
    checkNamespace(flags.namespace)
    const names = this.positionals.map(podName)
    if (names.length === 0 && !flags.selector) throw new PodrunError('name the pods (pod/NAME) or give -l SELECTOR', {reason: 'Usage', exitCode: ExitCode.invalid})
    const m = /^condition=([A-Za-z]+)(?:=(true|false|True|False))?$/.exec(flags.for)
    if (!m && flags.for !== 'delete') throw new PodrunError(`--for takes condition=NAME[=true|false] or delete, not "${flags.for}"`, {reason: 'Usage', exitCode: ExitCode.invalid})
    // --timeout here is kubectl wait's: how long to wait (the runtime's calls keep 10s each).
    const waitMs = (this.flags as {timeout?: string}).timeout === undefined ? 30_000 : this.callTimeoutMs
    const {listPods} = await import('../daemon/pod-list.js')
    const {fetchDaemonPods} = await import('../daemon/client.js')
    const {parseSelector} = await import('../lib/selector.js')
    const matches = flags.selector === undefined ? () => true : parseSelector(flags.selector)
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: 10_000})
    const deadline = Date.now() + waitMs
    const done = new Set<string>()
    try {
      let first = true
      for (;;) {
        const {all} = await listPods(cri, fetchDaemonPods(flags['daemon-socket']))
        const here = all.filter((v) => v.namespace === flags.namespace && (names.length ? names.includes(v.name) : matches(v.pod.metadata?.labels)))
        if (first && m && names.length) {
          const missing = names.filter((n) => !here.some((v) => v.name === n))
          if (missing.length) throw new PodrunError(`${missing.map((n) => `pods "${n}"`).join(', ')} not found in namespace ${flags.namespace}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
        }
        if (first && here.length === 0 && !names.length) throw new PodrunError('no matching resources found', {reason: 'NotFound', exitCode: ExitCode.invalid})
        first = false
        const targets = names.length ? names : here.map((v) => v.name)
        for (const name of targets) {
          if (done.has(name)) continue
          const v = here.find((x) => x.name === name)
          if (m) {
            const want = (m[2] ?? 'true').toLowerCase() === 'true' ? 'True' : 'False'
            const c = v?.pod.status?.conditions?.find((x) => x.type.toLowerCase() === m[1].toLowerCase())
            if (c?.status !== want) continue
            process.stdout.write(`pod/${name} condition met\n`)
          } else {
            if (v) continue
            process.stdout.write(`pod/${name} deleted\n`)
          }
          done.add(name)
        }
        if (targets.every((n) => done.has(n))) return
        if (Date.now() >= deadline) {
          const left = targets.filter((n) => !done.has(n))
          throw new PodrunError(`timed out waiting for the condition on ${left.map((n) => `pods/${n}`).join(', ')}`, {reason: 'Timeout', exitCode: ExitCode.invalid})
        }
        await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))))
      }
    } finally {
      cri.close()
    }
  }
}
