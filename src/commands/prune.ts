import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {connect} from '../lib/connect.js'
import {formatBytes} from '../manifest/load.js'

export default class Prune extends BaseCommand<typeof Prune> {
  static override summary = "Remove what podrun's pods left behind, as the kubelet's garbage collection would."
  static override description = [
    'Dead containers beyond the newest instance and one exited before it (per pod and container, so `logs --previous` keeps working); sandboxes that are not ready and hold nothing running, when replaced by a newer one or when their pod no longer exists (no applied record, no manifest file); log folders and files of pods and containers that are gone, and their /var/log/containers links.',
    'With --images, also every image no container uses and no applied pod names. Nothing that runs is touched; only what podrun made. The daemon does the same every --gc-period, and removes images only past --image-gc-high-threshold.',
  ].join('\n\n')
  static override examples = ['<%= config.bin %> prune --dry-run', '<%= config.bin %> prune --images']
  static override flags = {
    images: Flags.boolean({summary: 'Also remove unused images.', default: false}),
    'dry-run': Flags.boolean({summary: 'Print what would be removed; remove nothing.', default: false}),
    output: Flags.string({char: 'o', summary: 'json: one document listing what was (or would be) removed.', options: ['json']}),
  }

  async run(): Promise<void> {
    const {flags} = this
    const {appliedKnown, carryOut, hostRoots, knownPods, listPlan, planCollection} = await import('../reconcile/garbage-collect.js')
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: this.callTimeoutMs})
    try {
      const o = {
        ...hostRoots(),
        ...knownPods(appliedKnown()),
        imagePolicy: {mode: flags.images ? ('all' as const) : ('none' as const)},
      }
      const {plan, sandboxes} = await planCollection(cri, o)
      const done = flags['dry-run'] ? listPlan(plan, o) : await carryOut(cri, plan, sandboxes, o)
      const failed = done.filter((d) => d.error)
      const bytes = done.filter((d) => !d.error).reduce((n, d) => n + (d.bytes ?? 0), 0)
      if (flags.output === 'json') {
        this.resultJson({dryRun: flags['dry-run'], removed: done, reclaimedImageBytes: bytes})
      } else {
        for (const d of done) {
          const verb = flags['dry-run'] ? 'would remove' : d.error ? 'could not remove' : 'removed'
          process.stdout.write(`${verb} ${d.kind} ${d.what}: ${d.error ?? d.why}\n`)
        }
        if (done.length === 0) process.stdout.write('nothing to remove\n')
        else if (flags.images) process.stdout.write(`${flags['dry-run'] ? 'would reclaim' : 'reclaimed'} ${formatBytes(bytes)} of images\n`)
      }
      if (failed.length > 0) this.exit(3)
    } finally {
      cri.close()
    }
  }
}
