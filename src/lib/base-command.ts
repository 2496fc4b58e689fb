// The base of every podrun command: the global runtime flags, and the one place where errors are
// rendered (a clear line and suggestions on stderr, or an {error} object with -o json).
import {Command, Flags, Interfaces} from '@oclif/core'
import {ExitCode, PodrunError, isPodrunError} from './errors.js'
import {parseDuration} from './duration.js'

export type BaseFlags<T extends typeof Command> = Interfaces.InferredFlags<(typeof BaseCommand)['baseFlags'] & T['flags']>

export abstract class BaseCommand<T extends typeof Command> extends Command {
  static override baseFlags = {
    'runtime-endpoint': Flags.string({
      char: 'r',
      summary: 'CRI endpoint: unix:///path, a socket path, or tcp://host:port.',
      description: 'Defaults to $CONTAINER_RUNTIME_ENDPOINT, else the first existing socket of containerd, CRI-O, cri-dockerd.',
      env: 'CONTAINER_RUNTIME_ENDPOINT',
      helpGroup: 'GLOBAL',
    }),
    timeout: Flags.string({
      summary: 'Deadline for each runtime call (image pulls get at least 2m).',
      default: '10s',
      helpGroup: 'GLOBAL',
    }),
  }

  protected flags!: BaseFlags<T>
  protected args!: Interfaces.InferredArgs<T['args']>

  /** Milliseconds from --timeout. */
  protected get callTimeoutMs(): number {
    return parseDuration(this.flags.timeout ?? '10s', '--timeout')
  }

  /** True when the command prints machine-readable output (then errors are JSON too). */
  protected get jsonOutput(): boolean {
    const f = this.flags as unknown as {output?: string}
    return f.output === 'json'
  }

  public override async init(): Promise<void> {
    await super.init()
    const {args, flags, argv} = await this.parse({
      flags: this.ctor.flags,
      baseFlags: (this.ctor as typeof BaseCommand).baseFlags,
      args: this.ctor.args,
      strict: this.ctor.strict,
    })
    this.flags = flags as BaseFlags<T>
    this.args = args as Interfaces.InferredArgs<T['args']>
    this.positionals = (argv as string[]) ?? []
  }

  /** Every positional argument, for commands that take several (strict = false). */
  protected positionals: string[] = []

  protected override async catch(err: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (isPodrunError(err)) {
      this.renderError(err)
      this.exit(err.exitCode)
    }
    // oclif's own parse errors (unknown flag, missing arg) read well, but exit as invalid input
    // (1): exit code 2 means the runtime could not be reached.
    if (err.oclif?.exit !== undefined) {
      // this.exit(n) of a command, or --help: the code it chose stands.
      if (err.oclif.exit === 0 || (err as {code?: string}).code === 'EEXIT') return super.catch(err)
      this.renderError(new PodrunError(err.message, {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: [`see \`podrun ${this.id?.replace(/:/g, ' ') ?? ''} --help\``]}))
      this.exit(ExitCode.invalid)
    }
    const wrapped = new PodrunError(`internal error: ${err.message}`, {exitCode: ExitCode.internal, reason: 'Internal'})
    this.renderError(wrapped)
    if (process.env.PODRUN_DEBUG) process.stderr.write(`${err.stack}\n`)
    this.exit(ExitCode.internal)
  }

  /** The JSON document of this run (-o json), printed once at the end, with the error if one ends the run. */
  private jsonDoc?: Record<string, unknown>

  /** Sets what -o json prints: exactly one document, whatever happens after (kubectl's habit). */
  protected resultJson(doc: Record<string, unknown>): void {
    this.jsonDoc = doc
  }

  public override async finally(err: Error | undefined): Promise<unknown> {
    if (this.jsonDoc) {
      process.stdout.write(JSON.stringify(this.jsonDoc, null, 2) + '\n')
      this.jsonDoc = undefined
    }
    return super.finally(err)
  }

  protected renderError(err: PodrunError): void {
    if (this.flags && this.jsonOutput) {
      process.stdout.write(JSON.stringify({...this.jsonDoc, error: err.toJSON()}, null, 2) + '\n')
      this.jsonDoc = undefined
      return
    }
    process.stderr.write(`error: ${err.message}\n`)
    for (const s of err.suggestions) process.stderr.write(`  hint: ${s}\n`)
  }
}
