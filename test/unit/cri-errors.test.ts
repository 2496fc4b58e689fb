import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {CriError, GrpcCode, grpcCodeName, isCriError, isNotFound, isTransient, isUnimplemented, mapGrpcError} from '../../src/cri/errors.js'
import {ExitCode, PodrunError} from '../../src/lib/errors.js'

const RT = 'runtime.v1.RuntimeService'
const IMG = 'runtime.v1.ImageService'
const SOCK = '/run/containerd/containerd.sock'

interface Case {
  name: string
  code: number
  details: string
  method: string
  timeoutMs?: number
  ref?: string
  reason: string
  message: string
  hint?: RegExp
  transient: boolean
}

const cases: Case[] = [
  {
    name: 'a missing socket says nothing listens at that path',
    code: GrpcCode.UNAVAILABLE,
    details: 'No connection established. Last error: Error: connect ENOENT /run/containerd/containerd.sock. Resolution note: ',
    method: `${RT}/Version`,
    reason: 'RuntimeUnavailable',
    message: `cannot reach the container runtime at ${SOCK}: nothing is listening there (no such socket)`,
    hint: /start the container runtime[\s\S]*--runtime-endpoint or CONTAINER_RUNTIME_ENDPOINT/,
    transient: true,
  },
  {
    name: 'a stale socket (connection refused) reads the same way',
    code: GrpcCode.UNAVAILABLE,
    details: 'No connection established. Last error: Error: connect ECONNREFUSED /run/containerd/containerd.sock. Resolution note: ',
    method: `${RT}/ListPodSandbox`,
    reason: 'RuntimeUnavailable',
    message: `cannot reach the container runtime at ${SOCK}: nothing is listening there (connection refused)`,
    transient: true,
  },
  {
    name: 'something that is not gRPC on the socket',
    code: GrpcCode.UNAVAILABLE,
    details: 'No connection established. Last error: Protocol error (2026-11-29T22:30:07.607Z). Resolution note: ',
    method: `${RT}/Version`,
    reason: 'RuntimeUnavailable',
    message: `cannot reach the container runtime at ${SOCK}: nothing is listening there (what answers there does not speak gRPC)`,
    transient: true,
  },
  {
    name: 'permission denied on the socket says run as root or fix its permissions',
    code: GrpcCode.UNAVAILABLE,
    details: 'No connection established. Last error: Error: connect EACCES /run/containerd/containerd.sock. Resolution note: ',
    method: `${RT}/Version`,
    reason: 'RuntimePermissionDenied',
    message: `permission denied on the container runtime socket ${SOCK}`,
    hint: /root.*socket/,
    transient: true,
  },
  {
    name: 'a connection lost mid-call names the method',
    code: GrpcCode.UNAVAILABLE,
    details: 'Connection dropped',
    method: `${RT}/RunPodSandbox`,
    reason: 'RuntimeUnavailable',
    message: `the container runtime at ${SOCK} became unavailable during RunPodSandbox: Connection dropped`,
    transient: true,
  },
  {
    name: 'UNIMPLEMENTED on a v1 method means no CRI v1',
    code: GrpcCode.UNIMPLEMENTED,
    details: 'unknown service runtime.v1.RuntimeService',
    method: `${RT}/Version`,
    reason: 'RuntimeUnimplemented',
    message: `the runtime at ${SOCK} does not implement CRI v1 (runtime.v1.RuntimeService/Version)`,
    hint: /containerd 1\.6/,
    transient: false,
  },
  {
    name: 'UNIMPLEMENTED on the optional event stream is not a CRI v1 failure',
    code: GrpcCode.UNIMPLEMENTED,
    details: 'unknown method GetContainerEvents',
    method: `${RT}/GetContainerEvents`,
    reason: 'RuntimeUnimplemented',
    message: `the runtime at ${SOCK} does not offer GetContainerEvents (runtime.v1.RuntimeService/GetContainerEvents)`,
    transient: false,
  },
  {
    name: 'a deadline names the method and the timeout, and suggests --timeout',
    code: GrpcCode.DEADLINE_EXCEEDED,
    details: 'Deadline exceeded after 10.001s',
    method: `${RT}/StopPodSandbox`,
    timeoutMs: 10_000,
    reason: 'RuntimeTimeout',
    message: `runtime.v1.RuntimeService/StopPodSandbox did not answer within 10s (runtime at ${SOCK})`,
    hint: /--timeout/,
    transient: true,
  },
  {
    name: 'a pull deadline suggests pulling in advance',
    code: GrpcCode.DEADLINE_EXCEEDED,
    details: 'Deadline exceeded',
    method: `${IMG}/PullImage`,
    timeoutMs: 120_000,
    ref: 'docker.io/library/nginx:1.25',
    reason: 'RuntimeTimeout',
    message: `runtime.v1.ImageService/PullImage did not answer within 120s (runtime at ${SOCK})`,
    hint: /--timeout.*pull it in advance/,
    transient: true,
  },
  {
    name: 'NOT_FOUND on pull is an image not found, naming the reference',
    code: GrpcCode.NOT_FOUND,
    details: 'failed to pull and unpack image "127.0.0.1:5000/podrun/nope:1": not found',
    method: `${IMG}/PullImage`,
    ref: '127.0.0.1:5000/podrun/nope:1',
    reason: 'ImageNotFound',
    message: 'image not found: 127.0.0.1:5000/podrun/nope:1 (failed to pull and unpack image "127.0.0.1:5000/podrun/nope:1": not found)',
    hint: /name and tag/,
    transient: false,
  },
  {
    name: 'NOT_FOUND elsewhere keeps the runtime message',
    code: GrpcCode.NOT_FOUND,
    details: 'an error occurred when try to find container "abc": not found',
    method: `${RT}/ContainerStatus`,
    reason: 'NotFound',
    message: 'ContainerStatus: not found: an error occurred when try to find container "abc": not found',
    transient: false,
  },
  {
    name: 'a refused pull points at credentials',
    code: GrpcCode.UNAUTHENTICATED,
    details: 'pull access denied',
    method: `${IMG}/PullImage`,
    ref: 'registry.example/private:1',
    reason: 'ImagePullDenied',
    message: 'pulling registry.example/private:1 was refused by the registry: pull access denied',
    hint: /credentials/,
    transient: false,
  },
  {
    name: 'another pull failure names the reference',
    code: GrpcCode.UNKNOWN,
    details: 'failed to resolve reference: connection refused',
    method: `${IMG}/PullImage`,
    ref: 'registry.example/app:1',
    reason: 'ImagePullFailed',
    message: 'pulling registry.example/app:1 failed: failed to resolve reference: connection refused',
    transient: false,
  },
  {
    name: 'anything else keeps the method and the runtime message',
    code: GrpcCode.UNKNOWN,
    details: 'failed to reserve sandbox name "web_default_u1_0": name is reserved',
    method: `${RT}/RunPodSandbox`,
    reason: 'RuntimeError',
    message: 'RunPodSandbox failed: failed to reserve sandbox name "web_default_u1_0": name is reserved',
    transient: false,
  },
]

describe('mapGrpcError', () => {
  for (const c of cases) {
    it(c.name, () => {
      const raw = Object.assign(new Error(`${c.code} ${grpcCodeName(c.code)}: ${c.details}`), {code: c.code, details: c.details})
      const err = mapGrpcError(raw, {method: c.method, endpoint: SOCK, timeoutMs: c.timeoutMs, ref: c.ref})
      assert.ok(err instanceof CriError)
      assert.ok(err instanceof PodrunError)
      assert.equal(err.message, c.message)
      assert.equal(err.message.includes('\n'), false, 'one line')
      assert.equal(err.reason, c.reason)
      assert.equal(err.exitCode, ExitCode.runtime)
      assert.equal(err.grpcCode, c.code)
      assert.equal(err.grpcCodeName, grpcCodeName(c.code))
      assert.equal(err.method, c.method)
      assert.equal(err.cause, raw)
      if (c.hint) assert.match(err.suggestions.join('\n'), c.hint)
      assert.equal(isTransient(err), c.transient)
    })
  }

  it('passes a CriError through unchanged', () => {
    const first = mapGrpcError({code: GrpcCode.UNAVAILABLE, details: 'x'}, {method: `${RT}/Version`, endpoint: SOCK})
    assert.equal(mapGrpcError(first, {method: `${RT}/Status`, endpoint: SOCK}), first)
  })

  it('maps something that is not a gRPC error as UNKNOWN', () => {
    const err = mapGrpcError(new Error('boom'), {method: `${RT}/Status`, endpoint: SOCK})
    assert.equal(err.grpcCode, GrpcCode.UNKNOWN)
    assert.equal(err.message, 'Status failed: boom')
  })
})

describe('error predicates', () => {
  it('isTransient: UNAVAILABLE and DEADLINE_EXCEEDED only, from CriErrors or raw gRPC errors', () => {
    assert.equal(isTransient({code: GrpcCode.UNAVAILABLE}), true)
    assert.equal(isTransient({code: GrpcCode.DEADLINE_EXCEEDED}), true)
    assert.equal(isTransient({code: GrpcCode.NOT_FOUND}), false)
    assert.equal(isTransient(new Error('x')), false)
    assert.equal(isTransient(undefined), false)
    assert.equal(isTransient(new PodrunError('invalid manifest')), false)
  })

  it('isNotFound, isUnimplemented, isCriError', () => {
    const nf = mapGrpcError({code: GrpcCode.NOT_FOUND, details: 'x'}, {method: `${RT}/ContainerStatus`, endpoint: SOCK})
    assert.equal(isNotFound(nf), true)
    assert.equal(isUnimplemented(nf), false)
    assert.equal(isCriError(nf), true)
    assert.equal(isCriError(new PodrunError('x')), false)
    assert.equal(isUnimplemented({code: GrpcCode.UNIMPLEMENTED}), true)
  })

  it('names codes', () => {
    assert.equal(grpcCodeName(0), 'OK')
    assert.equal(grpcCodeName(14), 'UNAVAILABLE')
    assert.equal(grpcCodeName(99), 'CODE_99')
    assert.equal(grpcCodeName(undefined), 'UNKNOWN')
  })
})
