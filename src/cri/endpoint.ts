// Where the container runtime listens. Accepts what crictl accepts: unix:///path, a bare socket
// path, or tcp://host:port; with nothing given, $CONTAINER_RUNTIME_ENDPOINT, else the first
// existing socket of containerd, CRI-O and cri-dockerd.
import {statSync} from 'node:fs'
import {isAbsolute, resolve} from 'node:path'
import {ExitCode, PodrunError} from '../lib/errors.js'

export const ENDPOINT_ENV = 'CONTAINER_RUNTIME_ENDPOINT'

/** crictl's default endpoints, in the order it tries them. */
export const DEFAULT_SOCKETS: readonly string[] = [
  '/run/containerd/containerd.sock',
  '/run/crio/crio.sock',
  '/var/run/cri-dockerd.sock',
]

export interface Endpoint {
  kind: 'unix' | 'tcp'
  /** Canonical form: unix:///abs/path or tcp://host:port. */
  uri: string
  /** What @grpc/grpc-js dials: unix:///abs/path or host:port. */
  address: string
  /** What a person should read in messages: the socket path, or host:port. */
  display: string
  /** The socket path (unix only). */
  path?: string
}

const FORMS = 'use unix:///path/to/runtime.sock, /path/to/runtime.sock or tcp://host:port'

function invalid(text: string, why: string): PodrunError {
  return new PodrunError(`invalid runtime endpoint "${text}": ${why}`, {
    exitCode: ExitCode.invalid,
    reason: 'EndpointInvalid',
    suggestions: [FORMS],
  })
}

function unixEndpoint(path: string): Endpoint {
  const abs = resolve(path)
  return {kind: 'unix', uri: `unix://${abs}`, address: `unix://${abs}`, display: abs, path: abs}
}

/** Parses one endpoint as given by a flag or the environment. */
export function parseEndpoint(text: string): Endpoint {
  const t = text.trim()
  if (t === '') throw invalid(text, 'it is empty')
  if (t.startsWith('unix://')) {
    const path = t.slice('unix://'.length)
    if (!isAbsolute(path)) throw invalid(text, 'a unix endpoint needs an absolute path (three slashes: unix:///run/x.sock)')
    return unixEndpoint(path)
  }
  if (t.startsWith('tcp://')) {
    const hostPort = t.slice('tcp://'.length).replace(/\/$/, '')
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(hostPort)
    if (!m) throw invalid(text, 'a tcp endpoint needs a host and a port, e.g. tcp://127.0.0.1:3735')
    const port = Number(m[2])
    if (port < 1 || port > 65535) throw invalid(text, `port ${m[2]} is out of range`)
    return {kind: 'tcp', uri: `tcp://${m[1]}:${port}`, address: `${m[1]}:${port}`, display: `${m[1]}:${port}`}
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(t)
  if (scheme) throw invalid(text, `the scheme "${scheme[1]}:" is not supported`)
  if (t.startsWith('/') || t.startsWith('./') || t.startsWith('../')) return unixEndpoint(t)
  throw invalid(text, 'a bare socket path must start with / (or ./ for a relative one)')
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket()
  } catch {
    return false
  }
}

export interface ResolveOptions {
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv
  /** Defaults to DEFAULT_SOCKETS. */
  candidates?: readonly string[]
}

/**
 * The endpoint to use: the one given, else $CONTAINER_RUNTIME_ENDPOINT, else the first of the
 * candidate sockets that exists. Throws a PodrunError naming what was tried when none is found.
 */
export function resolveEndpoint(given?: string, opts: ResolveOptions = {}): Endpoint {
  if (given !== undefined && given.trim() !== '') return parseEndpoint(given)
  const fromEnv = (opts.env ?? process.env)[ENDPOINT_ENV]
  if (fromEnv !== undefined && fromEnv.trim() !== '') return parseEndpoint(fromEnv)
  const candidates = opts.candidates ?? DEFAULT_SOCKETS
  for (const c of candidates) if (isSocket(c)) return unixEndpoint(c)
  throw new PodrunError(`no container runtime found: none of ${candidates.join(', ')} exists`, {
    exitCode: ExitCode.runtime,
    reason: 'RuntimeNotFound',
    suggestions: [
      'start containerd or CRI-O',
      `or name the runtime's socket: --runtime-endpoint unix:///path/to.sock, or ${ENDPOINT_ENV}=unix:///path/to.sock`,
    ],
  })
}
