// `podrun port-forward`: local TCP ports that reach ports in a pod's network, as kubectl
// port-forward does. Each accepted connection asks the runtime for a new one-time URL (CRI
// PortForward) and opens its own stream, so one slow connection never holds another.
import net from 'node:net'
import type {CriClient} from '../cri/client.js'
import {openPortStream, receivePaced, sendPaced} from '../cri/streaming.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {observe} from './observe.js'
import {podAsRecorded} from './pod-record.js'
import {choosePods} from './pod-select.js'

export interface PortPair {
  /** 0: any free port. */
  local: number
  /** A number, or a container port's name. */
  remote: number | string
}

/** kubectl's forms: `8080:80`, `:80` (a free local port), `80` (the same on both sides), `8080:http`. */
export function parsePortPair(text: string): PortPair {
  const m = /^(\d*)(?::([A-Za-z0-9-]+))?$/.exec(text)
  const port = (s: string): number => {
    const n = Number(s)
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new PodrunError(`invalid port ${JSON.stringify(s)} in ${JSON.stringify(text)}: a port is 1-65535`, {reason: 'Usage', exitCode: ExitCode.invalid})
    return n
  }
  if (!m || (m[1] === '' && m[2] === undefined)) {
    throw new PodrunError(`invalid port specification ${JSON.stringify(text)}`, {reason: 'Usage', exitCode: ExitCode.invalid, suggestions: ['write LOCAL:REMOTE (8080:80), :REMOTE for a free local port, or PORT for the same on both sides']})
  }
  if (m[2] === undefined) return {local: port(m[1]), remote: port(m[1])}
  const remote = /^\d+$/.test(m[2]) ? port(m[2]) : m[2]
  return {local: m[1] === '' ? 0 : port(m[1]), remote}
}

export interface Forward {
  address: string
  local: number
  remote: number
}

export interface ForwardHandle {
  forwards: Forward[]
  /** Settles when every listener is closed. */
  closed: Promise<void>
  close(): void
}

/** Listens on the local ports and forwards each connection; the pod is looked up once. */
export async function forwardPorts(
  cri: CriClient,
  o: {namespace: string; name: string; pairs: PortPair[]; addresses: string[]; note: (text: string) => void},
): Promise<ForwardHandle> {
  const [a] = choosePods(await observe(cri), {namespace: o.namespace, name: o.name, note: o.note})
  const sandbox = a.sandboxes[0]
  if (sandbox.state !== 'READY') {
    throw new PodrunError(`pod ${a.name} is not running (its sandbox is ${sandbox.state.toLowerCase()})`, {reason: 'PodNotRunning', exitCode: ExitCode.invalid})
  }
  const spec = podAsRecorded(a)?.spec
  const remoteOf = (p: PortPair): number => {
    if (typeof p.remote === 'number') return p.remote
    const named = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].flatMap((c) => c.ports ?? []).find((cp) => cp.name === p.remote)
    if (!named) throw new PodrunError(`pod ${a.name} has no container port named ${p.remote}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
    return named.containerPort
  }
  const servers: net.Server[] = []
  const forwards: Forward[] = []
  const sockets = new Set<net.Socket>()
  try {
    for (const pair of o.pairs) {
      const remote = remoteOf(pair)
      let local = pair.local
      for (const address of o.addresses) {
        const server = net.createServer({allowHalfOpen: true}, (socket) => {
          sockets.add(socket)
          socket.once('close', () => sockets.delete(socket))
          o.note(`Handling connection for ${local}`)
          connectOne(cri, sandbox.id, remote, socket, o.note)
        })
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject)
          server.listen(local, address, () => {
            server.off('error', reject)
            resolve()
          })
        }).catch((e: NodeJS.ErrnoException) => {
          throw new PodrunError(`unable to listen on ${address}:${local}: ${e.code === 'EADDRINUSE' ? 'address already in use' : e.message}`, {reason: 'ListenFailed', exitCode: ExitCode.invalid})
        })
        // `:80` takes one free port, then the same port on every other address.
        local = (server.address() as net.AddressInfo).port
        servers.push(server)
        forwards.push({address, local, remote})
      }
    }
  } catch (e) {
    for (const s of servers) s.close()
    throw e
  }
  const closed = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())))).then(() => undefined)
  return {
    forwards,
    closed,
    close: () => {
      for (const s of servers) s.close()
      for (const s of sockets) s.destroy()
    },
  }
}

/** One local connection joined to a new stream to the pod's port. */
function connectOne(cri: CriClient, sandboxId: string, port: number, socket: net.Socket, note: (text: string) => void): void {
  let stream: {pause(): void; resume(): void} | undefined
  socket.pause()
  socket.on('error', () => socket.destroy())
  const fail = (e: unknown): void => {
    note(`error: forwarding to port ${port}: ${(e as Error).message ?? String(e)}`)
    socket.destroy()
  }
  cri
    .portForward(sandboxId, [port])
    .then((url) =>
      openPortStream(url, port, {
        data: receivePaced(socket, () => stream),
        error: (text) => note(`error: forwarding to port ${port}: ${text}`),
        // The pod's side closed: finish sending what is written, then close.
        closed: () => socket.end(),
      }),
    )
    .then((s) => {
      stream = s
      socket.on('data', sendPaced(socket, (d, done) => s.write(d, done), () => s.buffered()))
      // The protocol cannot half-close: a client that ends its side waits for the pod's answer.
      socket.once('close', () => s.close())
      socket.resume()
    })
    .catch(fail)
}
