// The floor for the "seeing inside" benchmark: what crictl does for the same questions, with the
// project's generated bindings and @grpc/grpc-js and nothing else (no CLI framework, no planner).
//
//   node raw-inside.mjs pods NS                     ListPodSandbox + ListContainers; one line per pod (crictl pods + crictl ps -a)
//   node raw-inside.mjs logs NS POD CONTAINER N     ListContainers + ContainerStatus; the last N lines of its log file,
//                                                   read backwards from the end, CRI format stripped (crictl logs --tail N)
//   node raw-inside.mjs exec NS POD CONTAINER CMD.. ListContainers + ExecSync (crictl exec)
//
// Compiled with bench/lib/floor.ts and run with plain node, as the apply floor is.
import fs from 'node:fs'
import path from 'node:path'
import {Metadata, credentials, type ServiceError} from '@grpc/grpc-js'
import {ContainerStatusRequest, ExecSyncRequest, ListContainersRequest, ListPodSandboxRequest, RuntimeServiceClient} from '../src/gen/runtime/v1/api.js'

const endpointOf = (e: string): string => (e.startsWith('unix://') ? e : `unix://${path.resolve(e)}`)
const rt = new RuntimeServiceClient(endpointOf(process.env.CONTAINER_RUNTIME_ENDPOINT ?? '/run/containerd/containerd.sock'), credentials.createInsecure())

function unary<Res>(fn: (md: Metadata, opts: {deadline: number}, cb: (err: ServiceError | null, res: Res) => void) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => fn(new Metadata(), {deadline: Date.now() + 30_000}, (err, res) => (err ? reject(new Error(err.details || err.message)) : resolve(res))))
}

async function containerOf(ns: string, pod: string, name: string): Promise<string> {
  const req = ListContainersRequest.fromPartial({filter: {labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': pod, 'io.kubernetes.container.name': name}}})
  const res = await unary<{containers: {id: string; createdAt: bigint}[]}>((md, o, cb) => rt.listContainers(req, md, o, cb))
  const newest = res.containers.sort((a, b) => (b.createdAt > a.createdAt ? 1 : -1))[0]
  if (!newest) throw new Error(`no container ${ns}/${pod}/${name}`)
  return newest.id
}

/** The last n lines of a file, read backwards in 64 KiB blocks. */
function tail(file: string, n: number): string[] {
  const fd = fs.openSync(file, 'r')
  try {
    let pos = fs.fstatSync(fd).size
    let text = ''
    while (pos > 0 && text.split('\n').length <= n + 1) {
      const len = Math.min(65536, pos)
      pos -= len
      const buf = Buffer.alloc(len)
      fs.readSync(fd, buf, 0, len, pos)
      text = buf.toString('utf8') + text
    }
    return text.split('\n').filter(Boolean).slice(-n)
  } finally {
    fs.closeSync(fd)
  }
}

async function main(): Promise<void> {
  const [mode, ns, ...rest] = process.argv.slice(2)
  let out = ''
  if (mode === 'pods') {
    const sel = {'io.kubernetes.pod.namespace': ns}
    const [sbs, cs] = await Promise.all([
      unary<{items: {id: string; metadata?: {name: string}; state: number}[]}>((md, o, cb) => rt.listPodSandbox(ListPodSandboxRequest.fromPartial({filter: {labelSelector: sel}}), md, o, cb)),
      unary<{containers: {podSandboxId: string; state: number}[]}>((md, o, cb) => rt.listContainers(ListContainersRequest.fromPartial({filter: {labelSelector: sel}}), md, o, cb)),
    ])
    for (const s of sbs.items) {
      const mine = cs.containers.filter((c) => c.podSandboxId === s.id)
      out += `${s.metadata?.name}\t${mine.filter((c) => c.state === 1).length}/${mine.length}\t${s.state === 0 ? 'Ready' : 'NotReady'}\n`
    }
  } else if (mode === 'logs') {
    const [pod, name, n] = rest
    const id = await containerOf(ns, pod, name)
    const st = await unary<{status?: {logPath: string}}>((md, o, cb) => rt.containerStatus(ContainerStatusRequest.fromPartial({containerId: id}), md, o, cb))
    // CRI log lines: TIME STREAM TAG MESSAGE.
    for (const l of tail(st.status!.logPath, Number(n))) out += `${l.split(' ').slice(3).join(' ')}\n`
  } else if (mode === 'exec') {
    const [pod, name, ...cmd] = rest
    const id = await containerOf(ns, pod, name)
    const r = await unary<{stdout: Uint8Array; exitCode: number}>((md, o, cb) => rt.execSync(ExecSyncRequest.fromPartial({containerId: id, cmd, timeout: 10n}), md, o, cb))
    out = Buffer.from(r.stdout).toString()
    process.exitCode = r.exitCode
  } else {
    throw new Error(`unknown mode ${mode}`)
  }
  process.stdout.write(out)
  rt.close()
}

await main()
