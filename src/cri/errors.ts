// gRPC failures turned into errors a person can act on. Every CRI call goes through mapGrpcError;
// the original gRPC status stays on the error (grpcCode) so callers can decide to retry.
//
// No runtime import of @grpc/grpc-js here: the status codes are part of the gRPC protocol and are
// listed below, so this module stays cheap to import.
import {ExitCode, PodrunError} from '../lib/errors.js'

/** gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const

const CODE_NAMES: string[] = []
for (const [name, code] of Object.entries(GrpcCode)) CODE_NAMES[code] = name

export function grpcCodeName(code: number | undefined): string {
  return code === undefined ? 'UNKNOWN' : (CODE_NAMES[code] ?? `CODE_${code}`)
}

export interface CriErrorOptions {
  grpcCode: number
  /** Full method name, e.g. runtime.v1.RuntimeService/RunPodSandbox ("" when not from a call). */
  method: string
  /** The runtime's own message. */
  details: string
  exitCode?: number
  suggestions?: string[]
  reason?: string
  cause?: unknown
}

/** A failed CRI call. */
export class CriError extends PodrunError {
  readonly grpcCode: number
  readonly method: string
  readonly details: string

  constructor(message: string, opts: CriErrorOptions) {
    super(message, {
      exitCode: opts.exitCode ?? ExitCode.runtime,
      suggestions: opts.suggestions,
      reason: opts.reason,
      cause: opts.cause,
    })
    this.name = 'CriError'
    this.grpcCode = opts.grpcCode
    this.method = opts.method
    this.details = opts.details
  }

  get grpcCodeName(): string {
    return grpcCodeName(this.grpcCode)
  }
}

export function isCriError(e: unknown): e is CriError {
  return e instanceof CriError
}

/** The gRPC code of an error: from a CriError, a grpc-js ServiceError, or undefined. */
export function grpcCodeOf(e: unknown): number | undefined {
  if (e instanceof CriError) return e.grpcCode
  if (typeof e === 'object' && e !== null && typeof (e as {code?: unknown}).code === 'number') {
    return (e as {code: number}).code
  }
  return undefined
}

/** Worth retrying as is: the runtime was unreachable or slow, not wrong. */
export function isTransient(e: unknown): boolean {
  const code = grpcCodeOf(e)
  return code === GrpcCode.UNAVAILABLE || code === GrpcCode.DEADLINE_EXCEEDED
}

export function isNotFound(e: unknown): boolean {
  return grpcCodeOf(e) === GrpcCode.NOT_FOUND
}

export function isUnimplemented(e: unknown): boolean {
  return grpcCodeOf(e) === GrpcCode.UNIMPLEMENTED
}

export interface CallContext {
  /** Full method name, e.g. runtime.v1.ImageService/PullImage. */
  method: string
  /** How the endpoint reads in messages: the socket path, or host:port. */
  endpoint: string
  /** The deadline the call had. */
  timeoutMs?: number
  /** The image reference, for image calls. */
  ref?: string
}

/** 150ms, 10s, 2.5s, 120s: as --timeout is written. */
function seconds(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  return Number.isInteger(s) ? `${s}s` : `${Number(s.toFixed(3))}s`
}

/** Clean up grpc-js details: drop the empty "Resolution note:" tail and trailing dots. */
function tidy(details: string): string {
  return details
    .replace(/\s*Resolution note:\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/\.$/, '')
}

/** CRI v1 methods that runtimes may leave out (containerd 1.6 has no event stream). */
const OPTIONAL_METHODS = new Set(['GetContainerEvents'])

const SET_ENDPOINT = 'or point podrun at the right socket with --runtime-endpoint or CONTAINER_RUNTIME_ENDPOINT'

/** Turns a failed call (a grpc-js ServiceError, or anything thrown) into a CriError. */
export function mapGrpcError(err: unknown, ctx: CallContext): CriError {
  if (err instanceof CriError) return err
  const e = (typeof err === 'object' && err !== null ? err : {}) as {code?: unknown; details?: unknown; message?: unknown}
  const code = typeof e.code === 'number' ? e.code : GrpcCode.UNKNOWN
  const details = tidy(typeof e.details === 'string' ? e.details : typeof e.message === 'string' ? e.message : String(err))
  const short = ctx.method.split('/').pop() ?? ctx.method
  const base = {grpcCode: code, method: ctx.method, details, cause: err}

  switch (code) {
    case GrpcCode.UNAVAILABLE: {
      if (/EACCES|permission denied/i.test(details)) {
        return new CriError(`permission denied on the container runtime socket ${ctx.endpoint}`, {
          ...base,
          reason: 'RuntimePermissionDenied',
          suggestions: ['run podrun as root, or give your user access to the socket (its group or mode)'],
        })
      }
      if (/No connection established|ENOENT|ECONNREFUSED|ECONNRESET|EPIPE|Protocol error|Failed to connect/i.test(details)) {
        const why = /ENOENT/.test(details)
          ? 'no such socket'
          : /ECONNREFUSED/.test(details)
            ? 'connection refused'
            : /Protocol error/.test(details)
              ? 'what answers there does not speak gRPC'
              : details
        return new CriError(`cannot reach the container runtime at ${ctx.endpoint}: nothing is listening there (${why})`, {
          ...base,
          reason: 'RuntimeUnavailable',
          suggestions: ['start the container runtime (containerd or CRI-O)', SET_ENDPOINT],
        })
      }
      return new CriError(`the container runtime at ${ctx.endpoint} became unavailable during ${short}: ${details}`, {
        ...base,
        reason: 'RuntimeUnavailable',
        suggestions: ['check that the runtime is still running; podrun retries on its next pass'],
      })
    }
    case GrpcCode.UNIMPLEMENTED:
      if (OPTIONAL_METHODS.has(short)) {
        return new CriError(`the runtime at ${ctx.endpoint} does not offer ${short} (${ctx.method})`, {
          ...base,
          reason: 'RuntimeUnimplemented',
          suggestions: ['nothing to do: podrun falls back to polling the runtime'],
        })
      }
      return new CriError(`the runtime at ${ctx.endpoint} does not implement CRI v1 (${ctx.method})`, {
        ...base,
        reason: 'RuntimeUnimplemented',
        suggestions: ['podrun needs a runtime that speaks CRI v1: containerd 1.6 or later, CRI-O 1.23 or later'],
      })
    case GrpcCode.DEADLINE_EXCEEDED: {
      const limit = ctx.timeoutMs === undefined ? '' : ` within ${seconds(ctx.timeoutMs)}`
      const pull = short === 'PullImage'
      return new CriError(`${ctx.method} did not answer${limit} (runtime at ${ctx.endpoint})`, {
        ...base,
        reason: 'RuntimeTimeout',
        suggestions: [
          pull
            ? 'a large image may need longer: raise --timeout (pulls get at least 2m), or pull it in advance'
            : 'the runtime may be overloaded or stuck: raise --timeout (e.g. --timeout 30s) or check the runtime',
        ],
      })
    }
    case GrpcCode.NOT_FOUND:
      if (short === 'PullImage') {
        return new CriError(`image not found: ${ctx.ref ?? '(unknown reference)'} (${details})`, {
          ...base,
          reason: 'ImageNotFound',
          suggestions: ['check the image name and tag, and that the registry serves it'],
        })
      }
      return new CriError(`${short}: not found: ${details}`, {...base, reason: 'NotFound'})
    case GrpcCode.UNAUTHENTICATED:
    case GrpcCode.PERMISSION_DENIED:
      if (short === 'PullImage') {
        return new CriError(`pulling ${ctx.ref ?? 'the image'} was refused by the registry: ${details}`, {
          ...base,
          reason: 'ImagePullDenied',
          suggestions: ['check the registry credentials (imagePullSecrets) and that you may read this image'],
        })
      }
      return new CriError(`${short} was refused by the runtime at ${ctx.endpoint}: ${details}`, {
        ...base,
        reason: 'RuntimePermissionDenied',
      })
    case GrpcCode.CANCELLED:
      return new CriError(`${short} was cancelled`, {...base, reason: 'Cancelled'})
    default:
      if (short === 'PullImage' && ctx.ref !== undefined) {
        return new CriError(`pulling ${ctx.ref} failed: ${details}`, {...base, reason: 'ImagePullFailed'})
      }
      return new CriError(`${short} failed: ${details}`, {...base, reason: 'RuntimeError'})
  }
}
