import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {type Server, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {DEFAULT_SOCKETS, parseEndpoint, resolveEndpoint} from '../../src/cri/endpoint.js'
import {ExitCode, PodrunError} from '../../src/lib/errors.js'

describe('parseEndpoint', () => {
  const ok: [string, string, string, string, string][] = [
    // input, kind, uri, address, display
    ['unix:///run/containerd/containerd.sock', 'unix', 'unix:///run/containerd/containerd.sock', 'unix:///run/containerd/containerd.sock', '/run/containerd/containerd.sock'],
    ['/run/crio/crio.sock', 'unix', 'unix:///run/crio/crio.sock', 'unix:///run/crio/crio.sock', '/run/crio/crio.sock'],
    ['  /run/crio/crio.sock  ', 'unix', 'unix:///run/crio/crio.sock', 'unix:///run/crio/crio.sock', '/run/crio/crio.sock'],
    ['unix:///run/x/../y.sock', 'unix', 'unix:///run/y.sock', 'unix:///run/y.sock', '/run/y.sock'],
    ['tcp://127.0.0.1:3735', 'tcp', 'tcp://127.0.0.1:3735', '127.0.0.1:3735', '127.0.0.1:3735'],
    ['tcp://localhost:10010/', 'tcp', 'tcp://localhost:10010', 'localhost:10010', 'localhost:10010'],
    ['tcp://[::1]:3735', 'tcp', 'tcp://[::1]:3735', '[::1]:3735', '[::1]:3735'],
  ]
  for (const [input, kind, uri, address, display] of ok) {
    it(`reads ${JSON.stringify(input)}`, () => {
      const e = parseEndpoint(input)
      assert.deepEqual({kind: e.kind, uri: e.uri, address: e.address, display: e.display}, {kind, uri, address, display})
    })
  }

  it('makes a relative socket path absolute', () => {
    const e = parseEndpoint('./run/cri.sock')
    assert.equal(e.path, resolve('run/cri.sock'))
    assert.equal(e.uri, `unix://${resolve('run/cri.sock')}`)
  })

  const bad: [string, RegExp][] = [
    ['', /it is empty/],
    ['unix://run/x.sock', /absolute path.*unix:\/\/\//],
    ['tcp://127.0.0.1', /needs a host and a port/],
    ['tcp://127.0.0.1:99999', /port 99999 is out of range/],
    ['http://127.0.0.1:80', /scheme "http:" is not supported/],
    ['npipe:////./pipe/containerd-containerd', /scheme "npipe:" is not supported/],
    ['containerd.sock', /must start with \//],
  ]
  for (const [input, why] of bad) {
    it(`rejects ${JSON.stringify(input)} with a clear message`, () => {
      assert.throws(
        () => parseEndpoint(input),
        (err: unknown) => {
          assert.ok(err instanceof PodrunError)
          assert.match(err.message, new RegExp(`^invalid runtime endpoint "${input.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}": `))
          assert.match(err.message, why)
          assert.equal(err.exitCode, ExitCode.invalid)
          assert.equal(err.reason, 'EndpointInvalid')
          assert.match(err.suggestions.join('\n'), /unix:\/\/\/path.*tcp:\/\/host:port/)
          return true
        },
      )
    })
  }
})

describe('resolveEndpoint', () => {
  let dir: string
  let servers: Server[] = []
  let sockA: string
  let sockB: string
  let plainFile: string

  const listen = (path: string): Promise<void> =>
    new Promise((res) => {
      const s = createServer().listen(path, () => res())
      servers.push(s)
    })

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'podrun-endpoint-'))
    sockA = join(dir, 'a.sock')
    sockB = join(dir, 'b.sock')
    plainFile = join(dir, 'not-a-socket.sock')
    writeFileSync(plainFile, '')
    await listen(sockA)
    await listen(sockB)
  })
  after(async () => {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
    servers = []
    rmSync(dir, {recursive: true, force: true})
  })

  it('uses the endpoint given, over the environment', () => {
    const e = resolveEndpoint('unix:///given.sock', {env: {CONTAINER_RUNTIME_ENDPOINT: 'unix:///env.sock'}})
    assert.equal(e.path, '/given.sock')
  })

  it('uses CONTAINER_RUNTIME_ENDPOINT when nothing is given', () => {
    const e = resolveEndpoint(undefined, {env: {CONTAINER_RUNTIME_ENDPOINT: 'tcp://127.0.0.1:3735'}, candidates: [sockA]})
    assert.equal(e.uri, 'tcp://127.0.0.1:3735')
  })

  it('treats an empty flag or variable as unset', () => {
    const e = resolveEndpoint('', {env: {CONTAINER_RUNTIME_ENDPOINT: ' '}, candidates: [sockB]})
    assert.equal(e.path, sockB)
  })

  it('rejects an invalid CONTAINER_RUNTIME_ENDPOINT instead of guessing', () => {
    assert.throws(() => resolveEndpoint(undefined, {env: {CONTAINER_RUNTIME_ENDPOINT: 'http://x'}}), /invalid runtime endpoint "http:\/\/x"/)
  })

  it('takes the first candidate that is an existing socket', () => {
    const e = resolveEndpoint(undefined, {env: {}, candidates: [join(dir, 'missing.sock'), plainFile, sockB, sockA]})
    assert.equal(e.path, sockB)
    assert.equal(e.uri, `unix://${sockB}`)
  })

  it('names every path tried, and how to choose one, when none exists', () => {
    const tried = [join(dir, 'x.sock'), plainFile]
    assert.throws(
      () => resolveEndpoint(undefined, {env: {}, candidates: tried}),
      (err: unknown) => {
        assert.ok(err instanceof PodrunError)
        assert.equal(err.message, `no container runtime found: none of ${tried.join(', ')} exists`)
        assert.equal(err.exitCode, ExitCode.runtime)
        assert.equal(err.reason, 'RuntimeNotFound')
        const hints = err.suggestions.join('\n')
        assert.match(hints, /--runtime-endpoint/)
        assert.match(hints, /CONTAINER_RUNTIME_ENDPOINT/)
        return true
      },
    )
  })

  it("follows crictl's default order", () => {
    assert.deepEqual(DEFAULT_SOCKETS, ['/run/containerd/containerd.sock', '/run/crio/crio.sock', '/var/run/cri-dockerd.sock'])
  })
})
