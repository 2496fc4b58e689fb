import {Args, Flags} from '@oclif/core'
import {podName} from '../lib/pod-ref.js'
import {BaseCommand} from '../lib/base-command.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {connect} from '../lib/connect.js'
import {checkNamespace} from '../lib/namespace.js'

export default class Exec extends BaseCommand<typeof Exec> {
  static override summary = 'Run a command in a running container and exit with its exit code.'
  static override description =
    'Without -i or -t, the runtime runs the command (CRI ExecSync): its output is printed when it ends, on stdout and stderr, and --timeout bounds it. With -i (stdin) or -t (a terminal), podrun opens a session on the runtime\'s streaming server (CRI Exec) as kubectl does: a shell works, keys go to the container, the window size follows. Either way podrun exits with the command\'s exit code. Without -c, a pod with several containers uses its default one and says so.'
  static override examples = [
    '<%= config.bin %> exec web -- cat /etc/hostname',
    '<%= config.bin %> exec -it web -- sh',
    '<%= config.bin %> exec -i web -- sh -c "cat > /tmp/conf" < conf',
    '<%= config.bin %> exec web -c sidecar --timeout 30s -- sh -c "ls /data"',
  ]
  static override strict = false
  static override args = {pod: Args.string({description: 'The pod: NAME or pod/NAME.', required: true})}
  static override flags = {
    namespace: Flags.string({char: 'n', summary: 'Namespace.', default: 'default'}),
    container: Flags.string({char: 'c', summary: 'The container.'}),
    stdin: Flags.boolean({char: 'i', summary: 'Pass stdin to the command.', default: false}),
    tty: Flags.boolean({char: 't', summary: 'Give the command a terminal (with -i, when stdin is one).', default: false}),
  }

  async run(): Promise<void> {
    const {flags, args} = this
    checkNamespace(flags.namespace)
    const dash = this.argv.indexOf('--')
    const cmd = dash < 0 ? [] : this.argv.slice(dash + 1)
    if (cmd.length === 0) {
      throw new PodrunError('no command: put it after --', {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: [`podrun exec ${args.pod} -- sh -c 'echo hello'`]})
    }
    let tty = flags.tty
    if (tty && !flags.stdin) {
      // As kubectl: a terminal needs stdin; without -i the command runs without one.
      process.stderr.write('Unable to use a TTY - input is not provided (-t needs -i)\n')
      tty = false
    } else if (tty && !process.stdin.isTTY) {
      // kubectl's words and choice: go on, without a terminal.
      process.stderr.write('Unable to use a TTY - input is not a terminal or the right kind of file\n')
      tty = false
    }
    const {execInPod, execSessionUrl} = await import('../reconcile/pod-exec.js')
    // --timeout bounds the command; the runtime's calls keep their usual deadline beside it.
    const cri = await connect({endpoint: flags['runtime-endpoint'], timeoutMs: 10_000})
    const note = (text: string): void => {
      process.stderr.write(`${text}\n`)
    }
    if (flags.stdin) {
      let code: number
      try {
        const choice = {namespace: flags.namespace, name: podName(args.pod), container: flags.container, cmd, note}
        const url = await execSessionUrl(cri, {...choice, stdin: flags.stdin, tty})
        const {runExecSession} = await import('../lib/exec-session.js')
        code = await runExecSession(url, {stdin: flags.stdin, tty}, {stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, note})
      } finally {
        cri.close()
      }
      if (code !== 0) this.exit(code)
      return
    }
    try {
      const r = await execInPod(cri, {
        namespace: flags.namespace,
        name: podName(args.pod),
        container: flags.container,
        cmd,
        timeoutSeconds: Math.ceil(this.callTimeoutMs / 1000),
        note,
      })
      process.stdout.write(r.stdout)
      process.stderr.write(r.stderr)
      if (r.exitCode !== 0) this.exit(r.exitCode)
    } finally {
      cri.close()
    }
  }
}
