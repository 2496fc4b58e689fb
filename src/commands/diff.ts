import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {connect} from '../lib/connect.js'
import {loadManifests} from '../lib/manifests.js'
import {podSecurityFlags, podSecurityPolicy} from '../lib/pod-security-flags.js'
import {remoteFlags, remoteOptions} from '../lib/remote-flags.js'
import {APPLY_SOURCE, applyPrune} from '../reconcile/ownership.js'

const EFFECT = {pod: ' (recreates the pod)', container: ' (replaces the container)', none: ' (restarts nothing)'} as const

export default class Diff extends BaseCommand<typeof Diff> {
  static override summary = 'Show what apply would change, and why. Exit 1 when something would.'
  static override examples = ['<%= config.bin %> diff -f web.yaml', '<%= config.bin %> diff -f manifests/ --prune -o json']
  static override flags = {
    filename: Flags.string({char: 'f', summary: 'Manifest file, directory, https URL, or - for stdin.', multiple: true, required: true}),
    ...podSecurityFlags,
    ...remoteFlags,
    recursive: Flags.boolean({char: 'R', summary: 'Read directories recursively.'}),
    prune: Flags.boolean({summary: 'Also show pods that apply --prune would delete.'}),
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json']}),
  }

  async run(): Promise<void> {
    const {flags} = this
    const state = await loadManifests(flags.filename, {recursive: flags.recursive, source: () => APPLY_SOURCE, verb: 'diff', podSecurity: podSecurityPolicy(flags), remote: remoteOptions(flags)})
    const {hostInfo, reconcilePass} = await import('../reconcile/engine.js')
    const {isNoop} = await import('../reconcile/plan.js')
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    try {
      const {actions} = await reconcilePass(state.pods, {
        cri,
        host: await hostInfo(),
        data: () => undefined,
        parallel: 1,
        prune: applyPrune(state.pods, flags.prune),
        dryRun: true,
      })
      // Volume files a running pod would see updated in place (changed ConfigMaps, Secrets).
      const {apiVolumesOf} = await import('../reconcile/execute.js')
      const {dataLookup} = await import('../reconcile/data.js')
      const {podRoot} = await import('../lib/paths.js')
      const data = dataLookup(state.configMaps, state.secrets)
      for (const a of actions) {
        const stale = await apiVolumesOf(a, podRoot(), data, {update: false})
        for (const v of stale) a.changes.push({path: `volumes[${v}]`, from: 'files as written', to: 'files of the changed source (updated in place)', sandbox: false, effect: 'none'})
        if (stale.length > 0 && a.change === 'unchanged') {
          a.change = 'configured'
          a.reason = `updating the files of volume${stale.length > 1 ? 's' : ''} ${stale.join(', ')} in place`
        }
      }
      const changed = actions.filter((a) => a.change !== 'unchanged' || !isNoop(a))
      if (flags.output === 'json') {
        const pods = actions.map((a) => ({name: a.name, namespace: a.namespace, change: a.change, reason: a.reason, changes: a.changes}))
        process.stdout.write(JSON.stringify({changed: changed.length > 0, pods}, null, 2) + '\n')
      } else {
        for (const a of changed) {
          process.stdout.write(`pod/${a.name} -n ${a.namespace}: ${a.change}: ${a.reason}\n`)
          for (const c of a.changes) process.stdout.write(`  ${c.path}: ${c.from} -> ${c.to}${EFFECT[c.effect]}\n`)
        }
      }
      if (changed.length > 0) this.exit(1)
    } finally {
      cri.close()
    }
  }
}
