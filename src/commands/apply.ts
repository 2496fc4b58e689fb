import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {parseDuration} from '../lib/duration.js'
import {connect} from '../lib/connect.js'
import {loadManifests} from '../lib/manifests.js'
import {podSecurityFlags, podSecurityPolicy} from '../lib/pod-security-flags.js'
import {remoteFlags, remoteOptions} from '../lib/remote-flags.js'
import {startProgress} from '../lib/progress.js'
import {onInterrupt} from '../lib/interrupt.js'
import {APPLY_SOURCE, applyPrune, daemonBusy, leasePods, splitByOwner} from '../reconcile/ownership.js'
import {DEFAULT_DAEMON_SOCKET} from '../daemon/options.js'


export default class Apply extends BaseCommand<typeof Apply> {
  static override summary = 'Make the runtime run the pods in the manifests.'
  static override description =
    'Validates the manifests, compares them with what the runtime runs, and converges with the fewest changes: a changed container is replaced in its sandbox; a pod-level change recreates the pod. Applying the same manifests again changes nothing.'
  static override examples = [
    '<%= config.bin %> apply -f web.yaml',
    '<%= config.bin %> apply -f manifests/ -R --prune',
    '<%= config.bin %> apply -f pod.yaml --dry-run',
  ]
  static override flags = {
    filename: Flags.string({char: 'f', summary: 'Manifest file, directory, https URL, or - for stdin.', multiple: true, required: true}),
    ...podSecurityFlags,
    ...remoteFlags,
    recursive: Flags.boolean({char: 'R', summary: 'Read directories recursively.'}),
    'dry-run': Flags.boolean({summary: 'Show what would change; change nothing.'}),
    prune: Flags.boolean({summary: 'Delete pods created by apply, in the namespaces of the manifests, that the manifests no longer hold.'}),
    wait: Flags.boolean({summary: 'Wait until the pods run, complete or fail.', default: true, allowNo: true}),
    'wait-timeout': Flags.string({summary: 'How long to wait for the pods.', default: '2m'}),
    parallel: Flags.integer({summary: 'Runtime calls that change something, in flight at once (a container waiting out its grace period takes none).', default: 4, min: 1}),
    'max-parallel-image-pulls': Flags.integer({summary: 'Image pulls in flight at once.', default: 1, min: 1}),
    atomic: Flags.boolean({summary: 'A pod that does not run within --wait-timeout is put back as it was: its previous Ready version, or removed if this apply created it.'}),
    output: Flags.string({char: 'o', summary: 'Output format.', options: ['json']}),
    'daemon-socket': Flags.string({
      summary: 'API socket of the `podrun daemon` that supervises applied pods (restarts, power cuts).',
      env: 'PODRUN_DAEMON_SOCKET',
      default: DEFAULT_DAEMON_SOCKET,
    }),
  }

  async run(): Promise<void> {
    const {flags} = this
    const state = await loadManifests(flags.filename, {recursive: flags.recursive, source: () => APPLY_SOURCE, verb: 'apply', podSecurity: podSecurityPolicy(flags), remote: remoteOptions(flags)})
    const {hostInfo, reconcilePass} = await import('../reconcile/engine.js')
    const {applyPods} = await import('../reconcile/apply.js')
    const {dataLookup} = await import('../reconcile/data.js')
    const {observe} = await import('../reconcile/observe.js')
    const {recordApplied, forgetApplied} = await import('../reconcile/applied-store.js')
    const {daemonAnswers} = await import('../daemon/client.js')
    const dryRun = flags['dry-run']
    if (flags.atomic && !flags.wait) throw new PodrunError('--atomic needs --wait: it judges the pods when the wait ends', {exitCode: ExitCode.invalid, reason: 'UsageError'})
    const daemon = dryRun ? Promise.resolve(true) : daemonAnswers(flags['daemon-socket'])
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    // The daemon supervises applied pods: while apply works on them, it keeps its hands off (and
    // apply waits for a sync of the daemon's in flight to end).
    const leases = dryRun
      ? {release: async () => undefined}
      : await leasePods(
          state.pods.map((p) => p.key),
          (key) => process.stderr.write(daemonBusy(key)),
        )
    const {snapshot, rollBack} = await import('../reconcile/atomic-apply.js')
    let before: ReturnType<typeof snapshot> = []
    try {
      // A pod that a daemon runs from its manifest folder is the daemon's: apply leaves it alone.
      let listing = await observe(cri)
      const {allowed, refused} = splitByOwner(state.pods, listing, APPLY_SOURCE)
      for (const r of refused) process.stderr.write(`error: ${r.message}\n`)
      if (!dryRun) {
        // What apply runs is recorded before it runs it: the daemon supervises it from the record
        // (restarts, power cuts), and a crash of apply halfway leaves the intent, not half of it.
        if (flags.atomic) before = snapshot(allowed, listing)
        recordApplied(allowed, state.configMaps, state.secrets)
        const prune = applyPrune(state.pods, flags.prune)
        const pruned = listing.filter((a) => !state.pods.some((p) => p.key === a.key) && prune(a))
        if (pruned.length > 0) {
          const more = await leasePods(pruned.map((a) => a.key))
          const release = leases.release
          leases.release = async () => {
            await Promise.all([release(), more.release()])
          }
          forgetApplied(pruned)
          listing = await observe(cri)
        }
        if (allowed.length > 0 && !(await daemon)) {
          process.stderr.write(
            `note: no podrun daemon answers on ${flags['daemon-socket']}: nothing restarts these pods' containers when they exit (restartPolicy), runs their probes, or brings the pods back after a reboot, until one runs: \`podrun daemon\` (contrib/ has a systemd unit)\n`,
          )
        }
      }
      const pass = {
        cri,
        host: await hostInfo(),
        data: dataLookup(state.configMaps, state.secrets),
        parallel: flags.parallel,
        parallelPulls: flags['max-parallel-image-pulls'],
        prune: applyPrune(state.pods, flags.prune),
        actual: listing,
      }
      if (flags['dry-run']) {
        const {actions} = await reconcilePass(allowed, {...pass, dryRun: true})
        if (flags.output === 'json') {
          this.resultJson({dryRun: true, pods: actions.map((a) => ({name: a.name, namespace: a.namespace, change: a.change, reason: a.reason}))})
        } else for (const a of actions) process.stdout.write(`pod/${a.name} ${a.change} (dry run)${a.change === 'unchanged' ? '' : `: ${a.reason}`}\n`)
        if (refused.length > 0) throw refusedError(refused.map((r) => r.key))
        return
      }
      const progress = await startProgress(`applying ${allowed.length} pod(s)`, flags.output === 'json')
      // Ctrl-C stops waiting and says what is still in progress (the pods keep converging in the runtime).
      const ctrlC = onInterrupt()
      const res = await applyPods(allowed, {
        ...pass,
        wait: flags.wait,
        timeoutMs: parseDuration(flags['wait-timeout'], '--wait-timeout'),
        onStep: (key, text) => progress.step(key, text),
        onSettled: (o) => progress.line(`${o.ok ? '✓' : '✗'} pod/${o.name} ${o.status}${o.message ? `: ${o.message}` : ''}`),
        signal: ctrlC.signal,
      }).finally(ctrlC.dispose)
      progress.stop()
      for (const r of refused) {
        res.outcomes.push({key: r.key, name: r.name, namespace: r.namespace, change: 'unchanged', ok: false, status: 'Conflict', message: `owned by ${r.owner}`})
      }
      const failed = res.outcomes.filter((o) => !o.ok)
      const toRollBack = failed.filter((o) => o.status !== 'Conflict')
      const rolledBack = flags.atomic && !res.interrupted && toRollBack.length > 0 ? await rollBack(toRollBack, before, {cri, host: pass.host, wait: true, timeoutMs: parseDuration(flags['wait-timeout'], '--wait-timeout'), parallel: flags.parallel, parallelPulls: flags['max-parallel-image-pulls']}) : []
      if (flags.output === 'json') {
        this.resultJson({pods: res.outcomes, mutations: res.mutations, ...(flags.atomic ? {rolledBack} : {})})
      } else {
        // A pod that failed is not said to be created or configured: it may not exist at all.
        for (const o of res.outcomes) process.stdout.write(`pod/${o.name} ${o.status === 'Conflict' ? 'refused' : o.ok ? o.change : `failed (${o.status})`}\n`)
      }
      if (res.interrupted) {
        throw new PodrunError(`interrupted: ${failed.length} pod(s) not settled: ${failed.map((f) => `${f.name} (${f.message ?? f.status})`).join('; ')}`, {
          exitCode: ExitCode.interrupted,
          reason: 'Interrupted',
          suggestions: ['`podrun get pods` shows where they are; apply again to go on'],
        })
      }
      if (rolledBack.length > 0) {
        if (flags.output !== 'json') {
          for (const r of rolledBack) process.stdout.write(`pod/${r.name} ${r.action}${r.ok ? '' : ` (not settled: ${r.message ?? 'failed'})`}\n`)
        }
        throw new PodrunError(`${toRollBack.length} of ${res.outcomes.length} pod(s) failed, and --atomic put them back: ${toRollBack.map((f) => `${f.name} (${f.message ?? f.status}; ${rolledBack.find((r) => r.key === f.key)?.action ?? 'kept'})`).join('; ')}`, {
          exitCode: ExitCode.partial,
          reason: 'RolledBack',
          suggestions: ['`podrun diff -f` shows what the manifests would change against what runs again'],
        })
      }
      if (failed.length > 0) {
        throw new PodrunError(`${failed.length} of ${res.outcomes.length} pod(s) failed: ${failed.map((f) => `${f.name} (${f.message ?? f.status})`).join('; ')}`, {
          exitCode: ExitCode.partial,
          reason: 'PodsFailed',
          suggestions: ['`podrun get pods` shows their state; the runtime keeps the failed containers for inspection'],
        })
      }
    } finally {
      await leases.release()
      cri.close()
    }
  }
}

function refusedError(keys: string[]): PodrunError {
  return new PodrunError(`${keys.length} pod(s) are run by a podrun daemon and were left unchanged: ${keys.join(', ')}`, {
    exitCode: ExitCode.partial,
    reason: 'OwnedByDaemon',
    suggestions: ['edit the manifest in the daemon\'s folder instead, or remove it there and then apply'],
  })
}
