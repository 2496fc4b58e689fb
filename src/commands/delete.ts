import {Args, Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {loadManifests} from '../lib/manifests.js'
import {onInterrupt} from '../lib/interrupt.js'
import {checkNamespace} from '../lib/namespace.js'

export default class Delete extends BaseCommand<typeof Delete> {
  static override summary = 'Stop pods gracefully and remove them.'
  static override examples = [
    '<%= config.bin %> delete -f web.yaml',
    '<%= config.bin %> delete pod web -n default',
    '<%= config.bin %> delete pods --all -A',
  ]
  static override strict = false
  static override args = {
    type: Args.string({description: 'pod (or pods, po) when naming pods.'}),
  }
  static override flags = {
    filename: Flags.string({char: 'f', summary: 'Delete the pods of these manifests.', multiple: true}),
    recursive: Flags.boolean({char: 'R', summary: 'Read directories recursively.'}),
    namespace: Flags.string({char: 'n', summary: 'Namespace of named pods.', default: 'default'}),
    'all-namespaces': Flags.boolean({char: 'A', summary: 'With --all: every namespace.'}),
    all: Flags.boolean({summary: 'Every pod podrun manages in the namespace.'}),
    'ignore-not-found': Flags.boolean({summary: 'Deleting a pod that does not exist is not an error.'}),
    'grace-period': Flags.integer({summary: 'Seconds to wait for containers to stop (default: the pod\'s own).', min: 0}),
    parallel: Flags.integer({summary: 'Runtime calls that change something, in flight at once (a container waiting out its grace period takes none).', default: 4, min: 1}),
    force: Flags.boolean({summary: 'Also delete pods a podrun daemon runs (it starts them again while their file is in its folder).'}),
  }

  async run(): Promise<void> {
    const {flags, argv} = await this.parse(Delete)
    checkNamespace(flags.namespace)
    const names = (argv as string[]).slice(1)
    const type = (argv as string[])[0]
    let keys: Set<string> | undefined
    if (flags.filename) {
      const state = await loadManifests(flags.filename, {recursive: flags.recursive, verb: 'delete'})
      keys = new Set(state.pods.map((p) => p.key))
    } else if (type === undefined || !['pod', 'pods', 'po'].includes(type)) {
      throw new PodrunError('say what to delete: -f FILE, or pod NAME..., or pods --all', {reason: 'Usage'})
    } else if (!flags.all && names.length === 0) {
      throw new PodrunError('name the pods to delete, or use --all', {reason: 'Usage'})
    }
    const {hostInfo, reconcilePass} = await import('../reconcile/engine.js')
    const {observe} = await import('../reconcile/observe.js')
    const {daemonBusy, deleteRefusal, leasePods} = await import('../reconcile/ownership.js')
    const {appliedKeys, forgetApplied} = await import('../reconcile/applied-store.js')
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    let leases: {release(): Promise<void>} | undefined
    try {
      const wanted = keys ?? new Set(names.map((n) => `${flags.namespace}/${n}`))
      const byAll = flags.all && !flags.filename
      const chosen = (a: {key: string; namespace: string}) => (byAll ? flags['all-namespaces'] || a.namespace === flags.namespace : wanted.has(a.key))
      let listing = await observe(cri)
      // The records of applied pods go first, under the pods' leases (the daemon supervises applied
      // pods from them and would bring a deleted one back), and the runtime is read again after.
      const recorded = appliedKeys().filter((k) => chosen({key: k, namespace: k.split('/')[0]}))
      const targets = new Set([...listing.filter(chosen).filter((a) => flags.force || !deleteRefusal(a)).map((a) => a.key), ...recorded])
      leases = await leasePods(targets, (key) => process.stderr.write(daemonBusy(key)))
      forgetApplied([...targets].map((k) => ({namespace: k.split('/')[0], name: k.split('/')[1]})))
      listing = await observe(cri)
      const matched = listing.filter(chosen)
      const present = new Set(matched.map((a) => a.key))
      // A daemon's pods stay unless forced: named ones are an error, --all passes them by.
      const refused = new Map<string, string>()
      for (const a of flags.force ? [] : matched) {
        const why = deleteRefusal(a)
        if (why) refused.set(a.key, why)
      }
      for (const why of refused.values()) process.stderr.write(`${byAll ? 'skipped' : 'error'}: ${why}\n`)
      const selected = (a: {key: string; namespace: string}) => chosen(a) && !refused.has(a.key)
      // A pod known only by its record (the runtime lost it): deleting the record deleted it.
      const onlyRecorded = recorded.filter((k) => !present.has(k))
      for (const k of onlyRecorded) process.stdout.write(`pod "${k.split('/')[1]}" deleted\n`)
      const missing = byAll ? [] : [...wanted].filter((k) => !present.has(k) && !onlyRecorded.includes(k))
      // Ctrl-C stops waiting and says which pods are not gone yet.
      const doing = new Map<string, string>()
      const ctrlC = onInterrupt()
      const res = await Promise.race([
        reconcilePass([], {
          cri,
          host: await hostInfo(),
          data: () => undefined,
          parallel: flags.parallel,
          prune: selected,
          gracePeriodSeconds: flags['grace-period'],
          actual: listing,
          onStep: (key, step) => doing.set(key, step),
        }),
        ctrlC.interrupted.then(() => undefined),
      ]).finally(ctrlC.dispose)
      if (!res) {
        const left = (await observe(cri)).filter(selected)
        throw new PodrunError(`interrupted: ${left.length} pod(s) not deleted yet: ${left.map((a) => `${a.name} (${doing.get(a.key) ?? 'waiting'})`).join(', ') || 'none'}`, {
          exitCode: ExitCode.interrupted,
          reason: 'Interrupted',
          suggestions: ['run the same delete again to finish'],
        })
      }
      for (const r of res.results) {
        if (r.ok) process.stdout.write(`pod "${r.name}" deleted\n`)
        else process.stderr.write(`error: pod "${r.name}": ${r.error}\n`)
      }
      const failed = res.results.filter((r) => !r.ok)
      if (failed.length > 0) throw new PodrunError(`${failed.length} pod(s) could not be deleted`, {exitCode: ExitCode.partial, reason: 'DeleteFailed'})
      if (refused.size > 0 && !byAll) {
        throw new PodrunError(`${refused.size} pod(s) left running: a podrun daemon runs them`, {
          exitCode: ExitCode.partial,
          reason: 'OwnedByDaemon',
          suggestions: ['remove the manifest from the daemon\'s folder, or use --force'],
        })
      }
      if (missing.length > 0 && !flags['ignore-not-found']) {
        throw new PodrunError(`pods not found: ${missing.map((k) => k.replace('/', '/pod/')).join(', ')}`, {
          exitCode: ExitCode.invalid,
          reason: 'NotFound',
          suggestions: ['--ignore-not-found makes this not an error'],
        })
      }
    } finally {
      await leases?.release()
      cri.close()
    }
  }
}
