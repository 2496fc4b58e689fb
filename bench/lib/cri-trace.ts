// A preload (`node --import ./bench/lib/cri-trace.ts ...` under tsx; the benchmark compiles it, see
// floor.ts, and runs `node --import .../cri-trace.mjs ...`) that records every gRPC
// call a process makes (method, start, end, status) and writes them as JSON to the file named by
// $PODRUN_BENCH_TRACE when the process exits. It wraps @grpc/grpc-js's Channel#createCall, which
// every client call goes through, so it sees podrun and the floor alike without changing either.
// Times are milliseconds since the process started (performance.timeOrigin).
import fs from 'node:fs'
import grpc from '@grpc/grpc-js'

export interface TraceCall {
  method: string
  start: number
  end: number
  code: number
}

export interface Trace {
  argv: string[]
  /** When the preload ran: node and loader start-up before it. */
  preloadAt: number
  exitAt: number
  calls: TraceCall[]
}

const file = process.env.PODRUN_BENCH_TRACE
if (file) {
  const calls: TraceCall[] = []
  const preloadAt = performance.now()
  type Listener = {onReceiveMetadata(m: unknown): void; onReceiveMessage(m: unknown): void; onReceiveStatus(status: {code: number}): void}
  type Call = {start: (metadata: unknown, listener: Listener) => void}
  const proto = grpc.Channel.prototype as unknown as {createCall: (method: string, ...rest: unknown[]) => Call}
  const original = proto.createCall
  proto.createCall = function (this: unknown, method: string, ...rest: unknown[]): Call {
    const start = performance.now()
    const call = original.call(this, method, ...rest)
    const startCall = call.start.bind(call)
    call.start = (metadata, listener) =>
      startCall(metadata, {
        onReceiveMetadata: (m) => listener.onReceiveMetadata(m),
        onReceiveMessage: (m) => listener.onReceiveMessage(m),
        onReceiveStatus: (status) => {
          calls.push({method: method.split('/').pop() ?? method, start, end: performance.now(), code: status.code})
          listener.onReceiveStatus(status)
        },
      })
    return call
  }
  process.on('exit', () => {
    const trace: Trace = {argv: process.argv.slice(1), preloadAt, exitAt: performance.now(), calls}
    fs.writeFileSync(file, JSON.stringify(trace))
  })
}
