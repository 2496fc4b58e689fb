// One error type for library code: what went wrong, what to do about it, and the exit code.
// Commands never print stack traces for these; the base command renders them.

export const ExitCode = {
  ok: 0,
  /** Invalid input (manifests, flags), or `diff` found differences. */
  invalid: 1,
  /** The runtime could not be reached or refused a call. */
  runtime: 2,
  /** Some pods failed to converge while others may have. */
  partial: 3,
  /** Internal bug. */
  internal: 70,
  /** Ctrl-C stopped a waiting command (128 + SIGINT, as shells report it). */
  interrupted: 130,
} as const

export interface PodrunErrorOptions {
  exitCode?: number
  suggestions?: string[]
  cause?: unknown
  /** A machine-readable reason, e.g. `RuntimeUnavailable`, `ManifestInvalid`. */
  reason?: string
}

export class PodrunError extends Error {
  readonly exitCode: number
  readonly suggestions: string[]
  readonly reason: string

  constructor(message: string, opts: PodrunErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : {cause: opts.cause})
    this.name = 'PodrunError'
    this.exitCode = opts.exitCode ?? ExitCode.invalid
    this.suggestions = opts.suggestions ?? []
    this.reason = opts.reason ?? 'Error'
  }

  toJSON(): {reason: string; message: string; suggestions: string[]; exitCode: number} {
    return {reason: this.reason, message: this.message, suggestions: this.suggestions, exitCode: this.exitCode}
  }
}

export function isPodrunError(e: unknown): e is PodrunError {
  return e instanceof PodrunError
}
