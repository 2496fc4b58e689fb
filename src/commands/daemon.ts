import {bytes} from '../lib/quantity.js'
import {Flags} from '@oclif/core'
import {BaseCommand} from '../lib/base-command.js'
import {parseDuration} from '../lib/duration.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {checkFolders, checkUrls, DEFAULT_MANIFEST_DIR, DEFAULT_STATE_DIR, defaultOptions, parseListen} from '../daemon/options.js'
import {sourceName} from '../daemon/url-source.js'
import {POD_SECURITY_LEVELS, type PodSecurityLevel} from '../manifest/pod-security.js'
import {podSecurityFlags, podSecurityPolicy} from '../lib/pod-security-flags.js'
import {remoteFlags, remoteOptions} from '../lib/remote-flags.js'

export default class Daemon extends BaseCommand<typeof Daemon> {
  static override summary = 'Run the pods of a manifest folder and keep them running (static pods); supervise the pods of `podrun apply`.'
  static override description =
    'Supervises every pod podrun manages: the pods of a manifest folder (--manifest-dir) and of manifest URLs (--manifest-url), and those `podrun apply` recorded. Watches the folder and keeps the runtime converged to it: restarts what exits per restartPolicy with crash-loop back-off, replaces what changed, removes what was removed, and keeps the last good version of a manifest that becomes invalid. Applied pods are restarted per restartPolicy and brought back after a power cut, never changed or pruned (apply and delete do that). Restarting the daemon restarts no container. Serves /healthz, /readyz, /metrics, /api/v1/pods and /api/v1/sources on a unix socket in the state folder. SIGTERM or SIGINT: finish the current step and exit, leaving the pods running (--stop-pods-on-exit to delete them); SIGHUP: read the folder again.'
  static override examples = [
    '<%= config.bin %> daemon',
    '<%= config.bin %> daemon --manifest-dir /etc/podrun/manifests --listen 127.0.0.1:9464',
    '<%= config.bin %> daemon --manifest-dir ./manifests --state-dir /tmp/podrun --log-level debug',
    '<%= config.bin %> daemon --manifest-url https://config.example.com/devices/gw1.yaml --verify-key /etc/podrun/fleet.pub',
  ]
  static override flags = {
    'manifest-dir': Flags.string({char: 'd', summary: `Folder of Pod manifests to run (e.g. ${DEFAULT_MANIFEST_DIR}). Without it the daemon supervises the pods of \`podrun apply\` only.`}),
    recursive: Flags.boolean({char: 'R', summary: 'Read subfolders of the manifest folder too.'}),
    'state-dir': Flags.string({summary: 'Folder of the lock file and the API socket (podrun.sock).', default: DEFAULT_STATE_DIR}),
    'resync-period': Flags.string({summary: 'Full pass (and folder check) at least this often.', default: '10s'}),
    'relist-period': Flags.string({summary: 'How often to relist container states when the runtime has no event stream.', default: '1s'}),
    'backoff-initial': Flags.string({summary: 'First crash-loop (and image pull) back-off delay.', default: '10s'}),
    'backoff-max': Flags.string({summary: 'Cap of the doubling back-off.', default: '5m'}),
    'backoff-reset': Flags.string({summary: 'A container that ran this long starts its back-off over.', default: '10m'}),
    listen: Flags.string({summary: 'Also serve the API on 127.0.0.1:PORT (loopback only), e.g. for Prometheus.'}),
    'log-level': Flags.string({summary: 'Least severe level logged.', options: ['debug', 'info', 'warn', 'error'], default: 'info'}),
    'stop-pods-on-exit': Flags.boolean({summary: 'On SIGTERM/SIGINT, delete the pods of the manifest folder before exiting.'}),
    parallel: Flags.integer({summary: 'Runtime calls that change something, in flight at once (a container waiting out its grace period takes none).', default: 4, min: 1}),
    'max-parallel-image-pulls': Flags.integer({summary: 'Image pulls in flight at once.', default: 1, min: 1}),
    'min-ready': Flags.string({summary: 'A pod version Ready this long becomes the one an edit that fails rolls back to.', default: '10s'}),
    'container-log-max-size': Flags.string({summary: 'A container\'s log is rotated past this size (a quantity: 10Mi).', default: '10Mi'}),
    'container-log-max-files': Flags.integer({summary: 'Log files kept per container, the live one included; rotated ones are gzip-compressed.', default: 5, min: 2}),
    'container-log-monitor-interval': Flags.string({summary: 'How often the containers\' log sizes are checked.', default: '10s'}),
    'gc-period': Flags.string({summary: 'How often dead containers and sandboxes, their logs and (past the high threshold) unused images are removed.', default: '1m'}),
    'image-gc-high-threshold': Flags.integer({summary: 'Percent of the image file system in use past which unused images are removed.', default: 85, min: 1, max: 100}),
    'image-gc-low-threshold': Flags.integer({summary: 'Percent of the image file system in use that image removal brings it down to.', default: 80, min: 0, max: 100}),
    'minimum-image-ttl-duration': Flags.string({summary: 'An unused image is kept at least this long after it is first seen.', default: '2m'}),
    ...podSecurityFlags,
    'file-check-delay': Flags.string({summary: 'A changed manifest is applied once it has not changed for this long (write manifests by rename to apply them at once).', default: '1s'}),
    'verify-key': remoteFlags['verify-key'],
    'manifest-url': Flags.string({
      summary: 'A URL of Pod manifests to run (one or more YAML documents or a List), polled for changes (repeatable; beside or instead of --manifest-dir). Its last good copy is kept on disk: with the server down at boot, its pods run from it.',
      multiple: true,
    }),
    'manifest-url-header': remoteFlags['manifest-url-header'],
    'manifest-url-ca': remoteFlags['manifest-url-ca'],
    'allow-http': remoteFlags['allow-http'],
    'url-check-period': Flags.string({summary: 'How often each manifest URL is polled (a 304 costs nearly nothing); on failures the delay doubles, up to 5m.', default: '20s'}),
    'manifest-url-pod-security': Flags.string({
      summary: 'Pod Security Standard enforced on the pods of --manifest-url (a server taken over must not start a privileged pod); --allowed-host-paths and --allowed-host-ports apply too.',
      options: [...POD_SECURITY_LEVELS],
      default: 'baseline',
    }),
    'insecure-manifest-dir': Flags.boolean({summary: 'Read the manifest folder even when others than root can write it or a file in it (by default, as root, such files and folders are refused).'}),
    'progress-deadline': Flags.string({summary: 'An edited pod of the folder that is not Ready within this long (or crash-loops) is rolled back to its last Ready version.', default: '10m'}),
  }

  async run(): Promise<void> {
    const {flags} = this
    const {runDaemon} = await import('../daemon/daemon.js')
    const ms = (name: keyof typeof flags) => parseDuration(String(flags[name]), `--${name}`)
    const podSecurity = podSecurityPolicy(flags)
    const remote = remoteOptions(flags)
    const opts = defaultOptions({
      manifestDir: flags['manifest-dir'],
      recursive: flags.recursive,
      stateDir: flags['state-dir'],
      endpoint: flags['runtime-endpoint'],
      timeoutMs: this.callTimeoutMs,
      resyncMs: ms('resync-period'),
      relistMs: ms('relist-period'),
      backoff: {initialMs: ms('backoff-initial'), maxMs: ms('backoff-max'), resetMs: ms('backoff-reset')},
      listen: flags.listen ? parseListen(flags.listen) : undefined,
      logLevel: flags['log-level'] as 'debug' | 'info' | 'warn' | 'error',
      stopPodsOnExit: flags['stop-pods-on-exit'],
      parallel: flags.parallel,
      parallelPulls: flags['max-parallel-image-pulls'],
      progressDeadlineMs: ms('progress-deadline'),
      minReadyMs: ms('min-ready'),
      logMaxBytes: logSize(flags['container-log-max-size']),
      logMaxFiles: flags['container-log-max-files'],
      logMonitorMs: ms('container-log-monitor-interval'),
      gcPeriodMs: ms('gc-period'),
      imageGcHighPercent: flags['image-gc-high-threshold'],
      imageGcLowPercent: flags['image-gc-low-threshold'],
      imageMinAgeMs: ms('minimum-image-ttl-duration'),
      podSecurity,
      insecureManifestDir: flags['insecure-manifest-dir'],
      fileCheckDelayMs: ms('file-check-delay'),
      verifyKeys: remote.verifyKeys ?? [],
      manifestUrls: flags['manifest-url'] ?? [],
      remote: {headers: remote.headers, caFiles: remote.caFiles, allowHttp: remote.allowHttp},
      urlCheckMs: ms('url-check-period'),
      urlPodSecurity: {...podSecurity, enforce: flags['manifest-url-pod-security'] as PodSecurityLevel, flag: '--manifest-url-pod-security'},
    })
    if (opts.imageGcLowPercent > opts.imageGcHighPercent) throw new PodrunError('--image-gc-low-threshold must not be above --image-gc-high-threshold', {reason: 'Usage'})
    checkFolders(opts)
    checkUrls(opts, sourceName)
    if (opts.urlCheckMs < 1000) throw new PodrunError('--url-check-period must be at least 1s', {reason: 'Usage'})
    if (opts.relistMs < 50 || opts.resyncMs < 100) throw new PodrunError('--relist-period must be at least 50ms and --resync-period at least 100ms', {reason: 'Usage'})
    const daemon = await runDaemon(opts)
    await new Promise<void>((resolve) => {
      const onStop = (signal: NodeJS.Signals) => {
        daemon.log.info(`${signal}: finishing the current step, then exiting`)
        process.once(signal, () => {
          daemon.log.warn(`${signal} again: exiting now`)
          process.exit(130)
        })
        daemon.stop().then(resolve, (e) => {
          daemon.log.error('error while stopping', {error: (e as Error).message})
          resolve()
        })
      }
      process.once('SIGTERM', onStop)
      process.once('SIGINT', onStop)
      process.on('SIGHUP', () => {
        daemon.log.info('SIGHUP: reading the manifest folder again')
        daemon.loop.request('reload')
      })
    })
  }
}

/** --container-log-max-size as a quantity (10Mi, 512Ki, 1G). */
function logSize(text: string): number {
  const b = (() => {
    try {
      return bytes(text)
    } catch {
      return NaN
    }
  })()
  if (!Number.isFinite(b) || b < 1024) throw new PodrunError(`--container-log-max-size takes a size of at least 1Ki, such as 10Mi, not "${text}"`, {reason: 'Usage', exitCode: ExitCode.invalid})
  return b
}
