// The lean HTTP/2 path of the CRI client, against the fake runtime (a grpc-js server) and against a
// node:http2 server made to misbehave: padding, PING, GOAWAY, resets, header blocks split over
// CONTINUATION frames, error statuses, silence.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http2 from 'node:http2'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {resolveEndpoint} from '../../src/cri/endpoint.js'
import {decodeContainerIds} from '../../src/cri/ids.js'
import {frame, LeanMiss, LeanTimeout, LeanUnary, requestHeaders} from '../../src/cri/lean-h2.js'
import {ListContainersRequest} from '../../src/gen/runtime/v1/api.js'
import {FakeCri} from '../support/fake-cri.js'
import {waitFor} from '../support/wait.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-lean-'))
after(() => fs.rmSync(work, {recursive: true, force: true}))

const grpcFrame = (msg: Buffer, compressed = 0): Buffer => {
  const b = Buffer.alloc(5 + msg.length)
  b[0] = compressed
  b.writeUInt32BE(msg.length, 1)
  msg.copy(b, 5)
  return b
}

type Handler = (stream: http2.ServerHttp2Stream, body: Buffer, headers: http2.IncomingHttpHeaders) => void

/** An h2c server on a unix socket whose behaviour each test sets. */
async function h2Server(opts: http2.ServerOptions = {}): Promise<{socket: string; handle: (h: Handler) => void; sessions: () => number; close: () => Promise<void>}> {
  const socket = path.join(work, `h2-${Math.random().toString(36).slice(2)}.sock`)
  let handler: Handler = (s) => s.respond({':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12'}, {endStream: true})
  let sessions = 0
  const server = http2.createServer(opts)
  server.on('session', () => sessions++)
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => handler(stream, Buffer.concat(chunks), headers))
    stream.on('error', () => {})
  })
  await new Promise<void>((r) => server.listen(socket, r))
  return {
    socket,
    handle: (h) => (handler = h),
    sessions: () => sessions,
    close: () =>
      new Promise((r) => {
        server.close(() => r())
        // Sessions left open would keep close() waiting.
        setTimeout(r, 200)
      }),
  }
}

/** A gRPC success: headers, one message, trailers. */
function answer(stream: http2.ServerHttp2Stream, msg: Buffer, trailers: Record<string, string> = {}): void {
  stream.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
  stream.on('wantTrailers', () => stream.sendTrailers({'grpc-status': '0', ...trailers}))
  stream.end(grpcFrame(msg))
}

const PATH = '/runtime.v1.RuntimeService/ListContainers'

describe('lean HTTP/2 unary calls', () => {
  let srv: Awaited<ReturnType<typeof h2Server>>
  let lean: LeanUnary
  before(async () => {
    srv = await h2Server({paddingStrategy: http2.constants.PADDING_STRATEGY_MAX})
    lean = new LeanUnary(resolveEndpoint(`unix://${srv.socket}`), 8 << 20)
  })
  after(async () => {
    lean.close()
    await srv.close()
  })
  const echo: Handler = (s, body) => answer(s, body.subarray(5))

  it('sends headers a server decodes and reads a padded answer', async () => {
    let seen: http2.IncomingHttpHeaders = {}
    srv.handle((s, body, h) => {
      seen = h
      echo(s, body, h)
    })
    assert.equal((await lean.call(PATH, Buffer.from('hello'), 1500)).toString(), 'hello')
    assert.equal(seen[':method'], 'POST')
    assert.equal(seen[':scheme'], 'http')
    assert.equal(seen[':path'], PATH)
    assert.equal(seen[':authority'], 'localhost')
    assert.equal(seen['content-type'], 'application/grpc')
    assert.equal(seen.te, 'trailers')
    assert.equal(seen['grpc-timeout'], '1500m')
    // A value longer than 126 bytes takes a multi-byte HPACK length.
    const long = '/' + 'x'.repeat(300)
    assert.equal((await lean.call(long, Buffer.from('long'), 1500)).toString(), 'long')
    assert.equal(seen[':path'], long)
    assert.equal(requestHeaders(long, 'h', 1).subarray(2, 5).toString('hex'), '047fae')
  })

  it('keeps one connection for many calls, in turn and at once, each with its own answer', async () => {
    srv.handle(echo)
    const before = srv.sessions()
    for (let i = 0; i < 5; i++) assert.equal((await lean.call(PATH, Buffer.from(`n${i}`), 2000)).toString(), `n${i}`)
    const many = await Promise.all(Array.from({length: 20}, (_, i) => lean.call(PATH, Buffer.from(`m${i}`), 2000)))
    assert.deepEqual(many.map(String), Array.from({length: 20}, (_, i) => `m${i}`))
    assert.ok(srv.sessions() - before <= 1)
  })

  it('reads a large answer over many DATA frames; sends requests over one frame in several', async () => {
    const big = Buffer.alloc(3 << 20, 7)
    srv.handle((s) => answer(s, big))
    const back = await lean.call(PATH, Buffer.from('x'), 5000)
    assert.equal(back.length, big.length)
    assert.ok(back.equals(big))
    srv.handle(echo)
    const mid = Buffer.alloc(40_000, 3)
    assert.ok((await lean.call(PATH, mid, 5000)).equals(mid))
    // More than the window a peer grants at first is not sent this way.
    await assert.rejects(lean.call(PATH, Buffer.alloc(70_000), 5000), LeanMiss)
  })

  it('an answer larger than the limit is a miss', async () => {
    const small = new LeanUnary(resolveEndpoint(`unix://${srv.socket}`), 1000)
    try {
      srv.handle((s) => answer(s, Buffer.alloc(5000)))
      await assert.rejects(small.call(PATH, Buffer.alloc(1), 2000), LeanMiss)
    } finally {
      small.close()
    }
  })

  it('reads trailers split over CONTINUATION frames', async () => {
    srv.handle((s, body) => answer(s, body.subarray(5), {'x-big': 'a'.repeat(40_000)}))
    assert.equal((await lean.call(PATH, Buffer.from('cont'), 2000)).toString(), 'cont')
  })

  it('answers the server\'s PING and SETTINGS (at once when asked to hold nothing)', async () => {
    const eager = new LeanUnary(resolveEndpoint(`unix://${srv.socket}`), 8 << 20, {pingAckHoldMs: 0})
    try {
      let acked = false
      srv.handle((s, body) => {
        s.session!.ping((err) => {
          acked = !err
          s.session!.settings({maxConcurrentStreams: 50}, () => echo(s, body, {}))
        })
      })
      assert.equal((await eager.call(PATH, Buffer.from('ping'), 2000)).toString(), 'ping')
      assert.ok(acked)
    } finally {
      eager.close()
    }
  })

  it('holds a PING acknowledgement for a later request, or sends it within the hold', async () => {
    const HOLD = 600
    const held = new LeanUnary(resolveEndpoint(`unix://${srv.socket}`), 8 << 20, {pingAckHoldMs: HOLD})
    try {
      let ackedAt = 0
      let pinged = false
      srv.handle((s, body) => {
        // One PING, on the first request only: what grpc-go's bandwidth estimate does.
        if (!pinged) {
          pinged = true
          s.session!.ping((err) => (ackedAt = err ? -1 : performance.now()))
        }
        echo(s, body, {})
      })
      const t0 = performance.now()
      assert.equal((await held.call(PATH, Buffer.from('a'), 2000)).toString(), 'a')
      await new Promise((r) => setTimeout(r, 50))
      // Too early: this request does not carry it.
      assert.equal((await held.call(PATH, Buffer.from('b'), 2000)).toString(), 'b')
      await new Promise((r) => setTimeout(r, 50))
      assert.equal(ackedAt, 0, 'acknowledged before half the hold')
      await new Promise((r) => setTimeout(r, HOLD / 2))
      const t3 = performance.now()
      assert.equal((await held.call(PATH, Buffer.from('c'), 2000)).toString(), 'c')
      await waitFor('the PING acknowledged', () => ackedAt !== 0, 2000, 5)
      assert.ok(ackedAt > 0)
      assert.ok(ackedAt >= t3 && ackedAt - t0 < HOLD, `acknowledged ${Math.round(ackedAt - t0)}ms after the PING, with the third request`)

      // No request comes: the timer sends it within the hold.
      pinged = false
      ackedAt = 0
      await held.call(PATH, Buffer.from('d'), 2000)
      const t4 = performance.now()
      await waitFor('the PING acknowledged by the timer', () => ackedAt !== 0, 3000, 10)
      assert.ok(ackedAt > 0 && ackedAt - t4 >= HOLD * 0.8 && ackedAt - t4 < HOLD + 500, `acknowledged after ${Math.round(ackedAt - t4)}ms`)
    } finally {
      held.close()
    }
  })

  it('acknowledges a PING at once on a connection the server is closing', async () => {
    // node:http2 sends a PING ahead of a GOAWAY queued before it, so this server writes raw frames:
    // a graceful shutdown as grpc-go does it (GOAWAY, then a PING it waits for), then the answer.
    const socket = path.join(work, 'raw-goaway.sock')
    const pingData = Buffer.from('shutdown')
    let acked = false
    const server = net.createServer((c) => {
      let buf = Buffer.alloc(0)
      let stream = 0
      c.write(frame(4, 0, 0, Buffer.alloc(0)))
      c.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d])
        if (buf.subarray(0, 24).toString() === 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n') buf = buf.subarray(24)
        while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
          const len = buf.readUIntBE(0, 3)
          const [type, flags, id, p] = [buf[3], buf[4], buf.readUInt32BE(5), buf.subarray(9, 9 + len)]
          buf = buf.subarray(9 + len)
          if (type === 0 && flags & 1) {
            stream = id
            const away = Buffer.alloc(8)
            away.writeUInt32BE(stream, 0)
            c.write(Buffer.concat([frame(7, 0, 0, away), frame(6, 0, 0, pingData)]))
          }
          if (type === 6 && flags & 1 && p.equals(pingData)) {
            acked = true
            // Headers and trailers as HPACK ":status: 200" (the lean path does not read them).
            c.write(Buffer.concat([frame(1, 4, stream, Buffer.from([0x88])), frame(0, 0, stream, grpcFrame(Buffer.from('bye'))), frame(1, 5, stream, Buffer.from([0x88]))]))
          }
        }
      })
      c.on('error', () => {})
    })
    await new Promise<void>((r) => server.listen(socket, r))
    const held = new LeanUnary(resolveEndpoint(`unix://${socket}`), 8 << 20, {pingAckHoldMs: 60_000})
    try {
      assert.equal((await held.call(PATH, Buffer.from('x'), 2000)).toString(), 'bye')
      assert.ok(acked)
    } finally {
      held.close()
      await new Promise((r) => server.close(r))
    }
  })

  it('misses on an error status, a reset, a compressed or missing message, and no trailers', async () => {
    srv.handle((s) => s.respond({':status': 200, 'content-type': 'application/grpc', 'grpc-status': '13', 'grpc-message': 'boom'}, {endStream: true}))
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    srv.handle((s) => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR))
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    srv.handle((s) => {
      s.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
      s.on('wantTrailers', () => s.sendTrailers({'grpc-status': '0'}))
      s.end(grpcFrame(Buffer.from('zz'), 1))
    })
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    srv.handle((s) => {
      s.respond({':status': 200, 'content-type': 'application/grpc'})
      s.end(grpcFrame(Buffer.from('no trailers')))
    })
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    srv.handle((s) => {
      s.respond({':status': 200, 'content-type': 'application/grpc'}, {waitForTrailers: true})
      s.on('wantTrailers', () => s.sendTrailers({'grpc-status': '0'}))
      s.end(Buffer.concat([grpcFrame(Buffer.from('one')), grpcFrame(Buffer.from('two'))]))
    })
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    // The connection is still good after all that.
    srv.handle(echo)
    assert.equal((await lean.call(PATH, Buffer.from('ok'), 2000)).toString(), 'ok')
  })

  it('after a GOAWAY the calls in flight finish, and the next call opens a new connection', async () => {
    srv.handle(echo)
    await lean.call(PATH, Buffer.from('warm'), 2000)
    const before = srv.sessions()
    // A server shutting down gracefully: GOAWAY, then the answer to what it had.
    srv.handle((s, body, h) => {
      s.session!.goaway(http2.constants.NGHTTP2_NO_ERROR)
      setTimeout(() => echo(s, body, h), 20)
    })
    assert.equal((await lean.call(PATH, Buffer.from('last'), 2000)).toString(), 'last')
    srv.handle(echo)
    assert.equal((await lean.call(PATH, Buffer.from('again'), 2000)).toString(), 'again')
    assert.equal(srv.sessions() - before, 1)
    // A GOAWAY and the connection closed: the call in flight is a miss.
    srv.handle((s) => {
      s.session!.goaway(http2.constants.NGHTTP2_NO_ERROR)
      s.session!.destroy()
    })
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
  })

  it('no answer: LeanTimeout at the deadline, and the stream is cancelled', async () => {
    let cancelled: Promise<number> | undefined
    srv.handle((s) => {
      cancelled = new Promise((r) => s.on('close', () => r(s.rstCode)))
    })
    const t0 = Date.now()
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 300), LeanTimeout)
    assert.ok(Date.now() - t0 >= 290)
    assert.equal(await cancelled, http2.constants.NGHTTP2_CANCEL)
  })

  it('calls in flight each fail at their own deadline, and answered ones are not disturbed', async () => {
    // "slow" is never answered; anything else is echoed.
    srv.handle((s, body, h) => {
      if (body.subarray(5).toString() !== 'slow') echo(s, body, h)
    })
    const t0 = performance.now()
    const at = (p: Promise<unknown>) => p.then(() => -1, (e) => (e instanceof LeanTimeout ? performance.now() - t0 : -2))
    const long = at(lean.call(PATH, Buffer.from('slow'), 700))
    const short = at(lean.call(PATH, Buffer.from('slow'), 200))
    assert.equal((await lean.call(PATH, Buffer.from('quick'), 100)).toString(), 'quick')
    const [l, s] = await Promise.all([long, short])
    assert.ok(s >= 195 && s < 600, `the 200 ms call failed after ${Math.round(s)} ms`)
    assert.ok(l >= 695 && l < 1200, `the 700 ms call failed after ${Math.round(l)} ms`)
    srv.handle(echo)
  })

  it('nothing listening, or a server going away mid-call: a miss', async () => {
    const none = new LeanUnary(resolveEndpoint(`unix://${path.join(work, 'none.sock')}`), 1000)
    try {
      await assert.rejects(none.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    } finally {
      none.close()
    }
    srv.handle((s) => s.session!.destroy())
    await assert.rejects(lean.call(PATH, Buffer.from('x'), 2000), LeanMiss)
    srv.handle(echo)
    assert.equal((await lean.call(PATH, Buffer.from('back'), 2000)).toString(), 'back')
  })
})

describe('lean path against the fake runtime (grpc-js server)', () => {
  let fake: FakeCri
  before(async () => {
    fake = await FakeCri.start({images: ['busybox']})
  })
  after(() => fake.close())

  it('answers as grpc-js does, on one connection, in order and concurrently', async () => {
    const lean = new LeanUnary(resolveEndpoint(fake.endpoint), 1 << 24)
    try {
      const req = ListContainersRequest.encode(ListContainersRequest.fromPartial({filter: {labelSelector: {a: 'b'}}})).finish()
      for (let i = 0; i < 3; i++) assert.deepEqual(decodeContainerIds(await lean.call('/runtime.v1.RuntimeService/ListContainers', req, 2000)), [])
      const many = await Promise.all(Array.from({length: 10}, () => lean.call('/runtime.v1.RuntimeService/ListContainers', req, 2000)))
      assert.equal(many.length, 10)
      const calls = fake.callsOf('ListContainers')
      assert.deepEqual((calls[calls.length - 1].request as {filter: {labelSelector: object}}).filter.labelSelector, {a: 'b'})
    } finally {
      lean.close()
    }
  })

  it('an error status is a miss (the status is for grpc-js to read)', async () => {
    const lean = new LeanUnary(resolveEndpoint(fake.endpoint), 1 << 24)
    try {
      fake.fail('ListContainers', {code: 13, times: 1, message: 'boom'})
      await assert.rejects(lean.call('/runtime.v1.RuntimeService/ListContainers', new Uint8Array(), 2000), LeanMiss)
      assert.ok(await lean.call('/runtime.v1.RuntimeService/ListContainers', new Uint8Array(), 2000))
    } finally {
      lean.close()
    }
  })
})
