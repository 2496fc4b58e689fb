// The streaming client's protocol handling, against a WebSocket server that answers as the
// runtime's streaming server does (frames sent at once with the handshake's answer, the port
// prefix, the final status), and kubectl's port specifications.
import assert from 'node:assert/strict'
import type {AddressInfo} from 'node:net'
import {after, before, describe, it} from 'node:test'
import {WebSocketServer, type WebSocket} from 'ws'
import {exitCodeOf, frame, openExecStream, openPortStream} from '../../src/cri/streaming.js'
import {parsePortPair} from '../../src/reconcile/port-forward.js'

describe('streaming sessions', () => {
  let server: WebSocketServer
  let url: string
  const seen: {path: string; protocol: string; frames: Buffer[]}[] = []
  before(async () => {
    server = new WebSocketServer({port: 0, host: '127.0.0.1', handleProtocols: (ps) => (ps.has('v4.channel.k8s.io') ? 'v4.channel.k8s.io' : false)})
    await new Promise((r) => server.once('listening', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    server.on('connection', (ws: WebSocket, req) => {
      const s = {path: req.url ?? '', protocol: ws.protocol, frames: [] as Buffer[]}
      seen.push(s)
      if (s.path.startsWith('/exec/')) {
        // Sent before the client could have attached anything after the handshake.
        for (const ch of [1, 2, 3]) ws.send(Buffer.from([ch]))
        ws.send(frame(1, 'out'))
        ws.send(frame(2, 'err'))
        ws.on('message', (d: Buffer) => {
          s.frames.push(d)
          if (d[0] === 0 && d.subarray(1).toString() === 'bye') {
            ws.send(frame(3, JSON.stringify({status: 'Failure', reason: 'NonZeroExitCode', details: {causes: [{reason: 'ExitCode', message: '7'}]}})))
            ws.close(1000)
          }
        })
      } else {
        const port = Buffer.from([0x90, 0x1f])
        ws.send(frame(0, port))
        ws.send(frame(1, port))
        ws.send(frame(0, 'HTTP'))
        ws.on('message', (d: Buffer) => {
          s.frames.push(d)
          ws.send(frame(1, 'no route'))
          ws.close(1000)
        })
      }
    })
  })
  after(() => server.close())

  it('exec: early frames are kept, stdin and resize are framed, the final status gives the exit code', async () => {
    const out: string[] = []
    const s = await openExecStream(`${url}/exec/tok`, {stdout: (d) => out.push(`1:${d}`), stderr: (d) => out.push(`2:${d}`)})
    assert.equal(s.protocol, 'v4.channel.k8s.io')
    assert.equal(s.canCloseStdin, false)
    s.resize(120, 40)
    s.writeStdin(Buffer.from('bye'))
    const status = await s.done
    assert.equal(exitCodeOf(status), 7)
    assert.deepEqual(out, ['1:out', '2:err'])
    const frames = seen.find((x) => x.path === '/exec/tok')!.frames
    assert.deepEqual(frames.map((f) => [f[0], f.subarray(1).toString()]), [[4, '{"Width":120,"Height":40}'], [0, 'bye']])
  })

  it('port forward: the port prefix is not data; the error channel is reported; the port is in the query', async () => {
    const got: string[] = []
    let closed!: () => void
    const ended = new Promise<void>((r) => (closed = r))
    const s = await openPortStream(`${url}/portforward/tok`, 8080, {data: (d) => got.push(`data:${d}`), error: (m) => got.push(`error:${m}`), closed})
    s.write(Buffer.from('GET'))
    await ended
    assert.deepEqual(got, ['data:HTTP', 'error:no route'])
    assert.equal(seen.find((x) => x.path.startsWith('/portforward/'))!.path, '/portforward/tok?port=8080')
  })

  it('a refused handshake is an error that names the server', async () => {
    const e = await openExecStream(`${url.replace('http', 'ws')}/x`.replace(/:\d+/, ':1'), {stdout: () => {}, stderr: () => {}}).catch((err: Error) => err)
    assert.match((e as Error).message, /streaming server at 127\.0\.0\.1:1 refused the session/)
  })

  it('exit codes: Success is 0, NonZeroExitCode carries the code, anything else is no code', () => {
    assert.equal(exitCodeOf({status: 'Success'}), 0)
    assert.equal(exitCodeOf({status: 'Failure', reason: 'NonZeroExitCode', details: {causes: [{reason: 'ExitCode', message: '3'}]}}), 3)
    assert.equal(exitCodeOf({status: 'Failure', message: 'container not found'}), undefined)
  })
})

describe('port specifications, as kubectl reads them', () => {
  it('LOCAL:REMOTE, :REMOTE, PORT and a named remote port', () => {
    assert.deepEqual(parsePortPair('8080:80'), {local: 8080, remote: 80})
    assert.deepEqual(parsePortPair(':80'), {local: 0, remote: 80})
    assert.deepEqual(parsePortPair('5000'), {local: 5000, remote: 5000})
    assert.deepEqual(parsePortPair('8080:http'), {local: 8080, remote: 'http'})
  })
  it('refuses what is not a port', () => {
    assert.throws(() => parsePortPair('80:99999'), /invalid port "99999"/)
    assert.throws(() => parsePortPair('0'), /invalid port "0"/)
    assert.throws(() => parsePortPair('a:b:c'), /invalid port specification/)
    assert.throws(() => parsePortPair(''), /invalid port specification/)
  })
})
