// An in-process fake CRI runtime for tests: a real gRPC server on a unix socket in a fresh
// temporary folder, implementing the generated RuntimeService and ImageService interfaces (so the
// type checker holds it to the same contract as containerd), with state kept in memory.
//
// It behaves like containerd 1.6 where tests can tell: 64-hex ids, READY/NOTREADY sandboxes,
// CREATED/RUNNING/EXITED containers, int64-nanosecond timestamps, label and id-prefix filters,
// NOT_FOUND for unknown ids, idempotent removes, RemovePodSandbox taking its containers with it,
// image references normalised as docker.io/library/name:tag, GetContainerEvents UNIMPLEMENTED.
//
// Test controls: every call is recorded (calls / callsOf), faults are injected per method
// (fail / delay), containers can be made to exit (exitContainer), images can be added or marked
// missing, runtime conditions and the Version answer can be changed.
//
// A test tool, not a runtime: nothing is executed.
import {createHash} from 'node:crypto'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {
  type ServerWritableStream,
  type handleServerStreamingCall,
  type handleUnaryCall,
  Server,
  ServerCredentials,
  status,
} from '@grpc/grpc-js'
import {
  type Container,
  type ContainerConfig,
  type ContainerEventResponse,
  type ContainerStats,
  type ContainerStatus,
  type GetEventsRequest,
  type Image,
  type ImageServiceServer,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxStatus,
  type RuntimeCondition,
  type RuntimeServiceServer,
  type VersionResponse,
  ContainerEventType,
  ContainerState,
  ImageServiceService,
  PodSandboxState,
  RuntimeServiceService,
} from '../../src/gen/runtime/v1/api.js'

/** An error the fake answers with (a gRPC status). */
export class FakeStatus extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(details)
  }
}

export interface FaultOptions {
  /** gRPC status code, e.g. status.UNAVAILABLE from @grpc/grpc-js (14). */
  code: number
  /** Fail only the next n calls (default: every call until clearFaults). */
  times?: number
  /** Fail each call with this probability (0..1), drawn from the fake's seeded generator. */
  probability?: number
  message?: string
  /** The runtime acts, then the answer is lost and this error comes back instead (a lossy runtime). */
  afterActing?: boolean
  /** Only calls whose request this accepts fail (one pod's calls, say). */
  when?: (request: unknown) => boolean
}

export interface RecordedCall {
  /** The gRPC method name, e.g. "RunPodSandbox". */
  method: string
  request: unknown
  /** Milliseconds since the epoch when the call arrived. */
  at: number
}

export interface ExecResultLike {
  stdout?: string | Buffer
  stderr?: string | Buffer
  exitCode?: number
}

export type ExecHandler = (containerId: string, cmd: string[]) => ExecResultLike | undefined

export interface FakeCriOptions {
  version?: Partial<VersionResponse>
  /** Images present from the start (e.g. a pause image). */
  images?: string[]
  /** Seed of the generator behind `probability` faults and ids (default 1). */
  seed?: number
  /** Clock in nanoseconds since the epoch; default: the real clock, strictly increasing. */
  clock?: () => bigint
  /** Answer GetContainerEvents with a live stream instead of UNIMPLEMENTED. */
  events?: boolean
}

export interface FakeSandbox {
  id: string
  config: PodSandboxConfig
  state: PodSandboxState
  createdAt: bigint
  runtimeHandler: string
  ip: string
}

export interface FakeContainer {
  id: string
  podSandboxId: string
  config: ContainerConfig
  imageId: string
  state: ContainerState
  createdAt: bigint
  startedAt: bigint
  finishedAt: bigint
  exitCode: number
  reason: string
  message: string
}

interface FakeImage {
  id: string
  repoTags: string[]
  repoDigests: string[]
  size: bigint
}

interface Fault extends FaultOptions {
  remaining?: number
}

const hex = (s: string): string => createHash('sha256').update(s).digest('hex')

/** docker.io/library/busybox:latest from busybox, as containerd normalises references. */
export function normalizeImageRef(ref: string): {tagged: string; repo: string; digest?: string} {
  let rest = ref
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at >= 0) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.lastIndexOf(':')
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
  }
  const first = rest.split('/')[0]
  const hasDomain = rest.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
  let repo = hasDomain ? rest : `docker.io/${rest}`
  if (!hasDomain && !rest.includes('/')) repo = `docker.io/library/${rest}`
  return {repo, tagged: `${repo}:${tag ?? 'latest'}`, digest}
}

function matchesLabels(labels: Record<string, string>, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true
  return Object.entries(selector).every(([k, v]) => labels[k] === v)
}

function verboseInfo(verbose: boolean, info: Record<string, string>): Record<string, string> {
  return verbose ? info : {}
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export class FakeCri {
  /** unix:///tmp/.../cri.sock */
  readonly endpoint: string
  readonly socketPath: string
  readonly calls: RecordedCall[] = []
  version: VersionResponse
  conditions: RuntimeCondition[] = [
    {type: 'RuntimeReady', status: true, reason: '', message: ''},
    {type: 'NetworkReady', status: true, reason: '', message: ''},
  ]
  /** Answer GetContainerEvents with a stream (true) or UNIMPLEMENTED (false, containerd 1.6). */
  events: boolean

  private readonly server: Server
  private readonly dir: string
  private readonly sandboxStore = new Map<string, FakeSandbox>()
  private readonly containerStore = new Map<string, FakeContainer>()
  private readonly imageStore = new Map<string, FakeImage>()
  private readonly missingImages = new Set<string>()
  private readonly faults = new Map<string, Fault>()
  private readonly delays = new Map<string, number>()
  private readonly eventStreams = new Set<ServerWritableStream<GetEventsRequest, ContainerEventResponse>>()
  private readonly random: () => number
  private readonly clock: () => bigint
  private lastNs = 0n
  private nextIp = 2
  private execHandler: ExecHandler | undefined
  private readonly exitWaiters = new Map<string, Array<() => void>>()
  /**
   * Which containers ignore SIGTERM, as `sleep` or a shell run as PID 1 do: StopContainer then
   * waits out its whole timeout, as a real runtime does. Default: none.
   */
  ignoresSigterm: (c: FakeContainer) => boolean = () => false

  private constructor(server: Server, dir: string, socketPath: string, opts: FakeCriOptions) {
    this.server = server
    this.dir = dir
    this.socketPath = socketPath
    this.endpoint = `unix://${socketPath}`
    this.random = mulberry32(opts.seed ?? 1)
    // Milliseconds from the wall clock, the rest from the monotonic one: full-precision values like containerd's.
    this.clock = opts.clock ?? (() => BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n))
    this.events = opts.events ?? false
    this.version = {version: '0.1.0', runtimeName: 'fakecri', runtimeVersion: '0.0.0-test', runtimeApiVersion: 'v1', ...opts.version}
    for (const ref of opts.images ?? []) this.addImage(ref)
  }

  /** Starts a fake on a fresh unix socket. */
  static async start(opts: FakeCriOptions = {}): Promise<FakeCri> {
    const dir = mkdtempSync(join(tmpdir(), 'podrun-fake-cri-'))
    const socketPath = join(dir, 'cri.sock')
    const server = new Server()
    const fake = new FakeCri(server, dir, socketPath, opts)
    server.addService(RuntimeServiceService, fake.runtimeService())
    server.addService(ImageServiceService, fake.imageService())
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()))
    })
    return fake
  }

  /** Stops the server (open calls are cut) and removes the socket folder. */
  async close(): Promise<void> {
    for (const s of this.eventStreams) s.end()
    this.eventStreams.clear()
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown()
        resolve()
      }, 500)
      this.server.tryShutdown(() => {
        clearTimeout(timer)
        resolve()
      })
    })
    rmSync(this.dir, {recursive: true, force: true})
  }

  // ---- test controls ----

  /** Makes calls of `method` (e.g. "RunPodSandbox") fail with a gRPC status. */
  fail(method: string, opts: FaultOptions): void {
    this.faults.set(method, {...opts, remaining: opts.times})
  }

  /** Makes calls of `method` answer only after ms milliseconds (0 removes the delay). */
  delay(method: string, ms: number): void {
    if (ms > 0) this.delays.set(method, ms)
    else this.delays.delete(method)
  }

  clearFaults(): void {
    this.faults.clear()
    this.delays.clear()
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method)
  }

  resetCalls(): void {
    this.calls.length = 0
  }

  /** Adds an image as if it had been pulled; returns its id. */
  addImage(ref: string): string {
    const {tagged, repo} = normalizeImageRef(ref)
    const existing = this.findImage(ref)
    if (existing) return existing.id
    const digest = hex(`${tagged}#content`)
    const image: FakeImage = {
      id: `sha256:${hex(tagged)}`,
      repoTags: [tagged],
      repoDigests: [`${repo}@sha256:${digest}`],
      size: 1_234_567n,
    }
    this.imageStore.set(image.id, image)
    return image.id
  }

  /** PullImage of ref answers NOT_FOUND from now on (as a registry without that tag). */
  markImageMissing(ref: string): void {
    this.missingImages.add(normalizeImageRef(ref).tagged)
  }

  setCondition(type: string, ok: boolean, reason = '', message = ''): void {
    const c = this.conditions.find((x) => x.type === type)
    if (c) Object.assign(c, {status: ok, reason, message})
    else this.conditions.push({type, status: ok, reason, message})
  }

  /** Scripts ExecSync; return undefined to fall back to the default (echo prints its arguments, else exit 0). */
  onExec(handler: ExecHandler | undefined): void {
    this.execHandler = handler
  }

  /** Makes a running (or created) container exit, as if its process had ended. */
  exitContainer(id: string, exitCode: number, reason?: string, message = ''): void {
    const c = this.containerStore.get(id)
    if (!c) throw new Error(`fake-cri: no container ${id}`)
    this.finish(c, exitCode, reason ?? (exitCode === 0 ? 'Completed' : 'Error'), message)
  }

  /** Marks a sandbox NOTREADY, as if its pause process had died. */
  killSandbox(id: string): void {
    const s = this.sandboxStore.get(id)
    if (!s) throw new Error(`fake-cri: no sandbox ${id}`)
    s.state = PodSandboxState.SANDBOX_NOTREADY
  }

  /** Open GetContainerEvents streams. */
  get eventSubscribers(): number {
    return this.eventStreams.size
  }

  sandboxes(): FakeSandbox[] {
    return [...this.sandboxStore.values()]
  }

  containers(): FakeContainer[] {
    return [...this.containerStore.values()]
  }

  images(): Image[] {
    return [...this.imageStore.values()].map((i) => this.toImage(i))
  }

  // ---- internals ----

  private now(): bigint {
    let t = this.clock()
    if (t <= this.lastNs) t = this.lastNs + 1n
    this.lastNs = t
    return t
  }

  private newId(): string {
    let s = ''
    for (let i = 0; i < 8; i++) s += Math.floor(this.random() * 0x100000000).toString(16).padStart(8, '0')
    return s
  }

  private takeFault(method: string, request: unknown): Fault | undefined {
    const f = this.faults.get(method)
    if (!f) return undefined
    if (f.when && !f.when(request)) return undefined
    if (f.probability !== undefined && this.random() >= f.probability) return undefined
    if (f.remaining !== undefined) {
      f.remaining -= 1
      if (f.remaining <= 0) this.faults.delete(method)
    }
    return f
  }

  private async gate(method: string, request: unknown): Promise<void> {
    this.calls.push({method, request, at: Date.now()})
    const ms = this.delays.get(method)
    if (ms) await new Promise((r) => setTimeout(r, ms))
    const fault = this.faults.get(method)?.afterActing ? undefined : this.takeFault(method, request)
    if (fault) throw new FakeStatus(fault.code, fault.message ?? `injected failure of ${method}`)
  }

  /** A fault injected after the call acted. */
  private lost(method: string, request: unknown): void {
    const fault = this.faults.get(method)?.afterActing ? this.takeFault(method, request) : undefined
    if (fault) throw new FakeStatus(fault.code, fault.message ?? `answer of ${method} lost`)
  }

  private unary<Req, Res>(method: string, impl: (req: NoInfer<Req>) => NoInfer<Res> | Promise<NoInfer<Res>>): handleUnaryCall<Req, Res> {
    return (call, callback) => {
      this.gate(method, call.request)
        .then(() => impl(call.request))
        .then((res) => {
          this.lost(method, call.request)
          callback(null, res)
        })
        .catch((e: unknown) => {
          if (e instanceof FakeStatus) callback({code: e.code, details: e.details})
          else callback({code: status.INTERNAL, details: `fake-cri bug: ${String(e)}`})
        })
    }
  }

  private sandbox(id: string): FakeSandbox {
    const s = this.sandboxStore.get(id) ?? [...this.sandboxStore.values()].find((x) => x.id.startsWith(id) && id !== '')
    if (!s) throw new FakeStatus(status.NOT_FOUND, `an error occurred when try to find sandbox "${id}": not found`)
    return s
  }

  private container(id: string): FakeContainer {
    const c = this.containerStore.get(id) ?? [...this.containerStore.values()].find((x) => x.id.startsWith(id) && id !== '')
    if (!c) throw new FakeStatus(status.NOT_FOUND, `an error occurred when try to find container "${id}": not found`)
    return c
  }

  private findImage(ref: string): FakeImage | undefined {
    if (ref === '') return undefined
    const id = ref.startsWith('sha256:') ? ref : /^[0-9a-f]{64}$/.test(ref) ? `sha256:${ref}` : undefined
    if (id) return this.imageStore.get(id)
    const n = normalizeImageRef(ref)
    for (const img of this.imageStore.values()) {
      if (n.digest ? img.repoDigests.includes(`${n.repo}@${n.digest}`) : img.repoTags.includes(n.tagged)) return img
    }
    return undefined
  }

  private toImage(i: FakeImage): Image {
    return {id: i.id, repoTags: [...i.repoTags], repoDigests: [...i.repoDigests], size: i.size, username: '', pinned: false}
  }

  private onExit(id: string, fn: () => void): void {
    const list = this.exitWaiters.get(id) ?? []
    list.push(fn)
    this.exitWaiters.set(id, list)
  }

  private finish(c: FakeContainer, exitCode: number, reason: string, message = ''): void {
    if (c.state === ContainerState.CONTAINER_EXITED) return
    for (const fn of this.exitWaiters.get(c.id) ?? []) fn()
    this.exitWaiters.delete(c.id)
    c.state = ContainerState.CONTAINER_EXITED
    c.finishedAt = this.now()
    c.exitCode = exitCode
    c.reason = reason
    c.message = message
    this.emit(c, ContainerEventType.CONTAINER_STOPPED_EVENT)
  }

  private sandboxStatus(s: FakeSandbox): PodSandboxStatus {
    return {
      id: s.id,
      metadata: s.config.metadata,
      state: s.state,
      createdAt: s.createdAt,
      network: {ip: s.ip, additionalIps: []},
      linux: {namespaces: {options: s.config.linux?.securityContext?.namespaceOptions}},
      labels: {...s.config.labels},
      annotations: {...s.config.annotations},
      runtimeHandler: s.runtimeHandler,
    }
  }

  private toContainer(c: FakeContainer): Container {
    return {
      id: c.id,
      podSandboxId: c.podSandboxId,
      metadata: c.config.metadata,
      image: c.config.image,
      imageRef: c.imageId,
      state: c.state,
      createdAt: c.createdAt,
      labels: {...c.config.labels},
      annotations: {...c.config.annotations},
      imageId: c.imageId,
    }
  }

  private containerStatus(c: FakeContainer): ContainerStatus {
    const img = this.imageStore.get(c.imageId)
    const sandbox = this.sandboxStore.get(c.podSandboxId)
    const logDir = sandbox?.config.logDirectory ?? ''
    return {
      id: c.id,
      metadata: c.config.metadata,
      state: c.state,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      exitCode: c.exitCode,
      image: {
        image: img?.repoTags[0] ?? c.config.image?.image ?? '',
        annotations: {},
        userSpecifiedImage: c.config.image?.userSpecifiedImage ?? '',
        runtimeHandler: '',
        imageRef: '',
      },
      imageRef: img?.repoDigests[0] ?? c.imageId,
      reason: c.reason,
      message: c.message,
      labels: {...c.config.labels},
      annotations: {...c.config.annotations},
      mounts: c.config.mounts,
      logPath: c.config.logPath && logDir ? join(logDir, c.config.logPath) : c.config.logPath,
      imageId: c.imageId,
      stopSignal: c.config.stopSignal,
    }
  }

  private stats(c: FakeContainer): ContainerStats {
    const t = this.now()
    const running = c.state === ContainerState.CONTAINER_RUNNING
    return {
      attributes: {id: c.id, metadata: c.config.metadata, labels: {...c.config.labels}, annotations: {...c.config.annotations}},
      cpu: {timestamp: t, usageCoreNanoSeconds: {value: running ? 1_000_000n : 0n}, usageNanoCores: {value: 0n}},
      memory: {timestamp: t, workingSetBytes: {value: running ? 1_048_576n : 0n}},
      writableLayer: {timestamp: t, fsId: {mountpoint: '/var/lib/fakecri/snapshots'}, usedBytes: {value: 4096n}, inodesUsed: {value: 1n}},
    }
  }

  private emit(c: FakeContainer, type: ContainerEventType): void {
    if (this.eventStreams.size === 0) return
    const sandbox = this.sandboxStore.get(c.podSandboxId)
    const event: ContainerEventResponse = {
      containerId: c.id,
      containerEventType: type,
      createdAt: this.now(),
      podSandboxStatus: sandbox ? this.sandboxStatus(sandbox) : undefined,
      containersStatuses: [this.containerStatus(c)],
    }
    for (const s of this.eventStreams) s.write(event)
  }

  private stopSandbox(s: FakeSandbox): void {
    for (const c of this.containerStore.values()) {
      if (c.podSandboxId === s.id && c.state === ContainerState.CONTAINER_RUNNING) this.finish(c, 137, 'Error')
    }
    s.state = PodSandboxState.SANDBOX_NOTREADY
  }

  private removeContainerNow(c: FakeContainer): void {
    if (c.state === ContainerState.CONTAINER_RUNNING) this.finish(c, 137, 'Error')
    this.containerStore.delete(c.id)
    this.emit(c, ContainerEventType.CONTAINER_DELETED_EVENT)
  }

  private runtimeService(): RuntimeServiceServer {
    const getContainerEvents: handleServerStreamingCall<GetEventsRequest, ContainerEventResponse> = (call) => {
      this.gate('GetContainerEvents', call.request)
        .then(() => {
          if (!this.events) {
            call.emit('error', {code: status.UNIMPLEMENTED, details: 'unknown method GetContainerEvents for service runtime.v1.RuntimeService'})
            return
          }
          this.eventStreams.add(call)
          call.on('cancelled', () => this.eventStreams.delete(call))
        })
        .catch((e: unknown) => {
          const code = e instanceof FakeStatus ? e.code : status.INTERNAL
          call.emit('error', {code, details: e instanceof Error ? e.message : String(e)})
        })
    }

    return {
      version: this.unary('Version', () => ({...this.version})),

      status: this.unary('Status', (req) => ({
        status: {conditions: this.conditions.map((c) => ({...c}))},
        info: verboseInfo(req.verbose, {config: '{"fake":true}'}),
        runtimeHandlers: [],
      })),

      runPodSandbox: this.unary('RunPodSandbox', (req) => {
        const config = req.config
        const md = config?.metadata
        if (!config || !md || md.name === '' || md.namespace === '' || md.uid === '') {
          throw new FakeStatus(status.UNKNOWN, 'sandbox config must include metadata with name, namespace and uid')
        }
        const taken = [...this.sandboxStore.values()].find(
          (s) =>
            s.config.metadata?.name === md.name &&
            s.config.metadata.namespace === md.namespace &&
            s.config.metadata.uid === md.uid &&
            s.config.metadata.attempt === md.attempt,
        )
        if (taken) {
          throw new FakeStatus(
            status.UNKNOWN,
            `failed to reserve sandbox name "${md.name}_${md.namespace}_${md.uid}_${md.attempt}": name is reserved for "${taken.id}"`,
          )
        }
        const id = this.newId()
        this.sandboxStore.set(id, {
          id,
          config,
          state: PodSandboxState.SANDBOX_READY,
          createdAt: this.now(),
          runtimeHandler: req.runtimeHandler,
          ip: config.linux?.securityContext?.namespaceOptions?.network === 2 ? '' : `10.88.0.${this.nextIp++}`,
        })
        return {podSandboxId: id}
      }),

      stopPodSandbox: this.unary('StopPodSandbox', (req) => {
        this.stopSandbox(this.sandbox(req.podSandboxId))
        return {}
      }),

      removePodSandbox: this.unary('RemovePodSandbox', (req) => {
        const s = this.sandboxStore.get(req.podSandboxId)
        if (!s) return {}
        this.stopSandbox(s)
        for (const c of [...this.containerStore.values()]) if (c.podSandboxId === s.id) this.removeContainerNow(c)
        this.sandboxStore.delete(s.id)
        return {}
      }),

      podSandboxStatus: this.unary('PodSandboxStatus', (req) => {
        const s = this.sandbox(req.podSandboxId)
        return {
          status: this.sandboxStatus(s),
          info: verboseInfo(req.verbose, {info: JSON.stringify({pid: 4242})}),
          containersStatuses: [],
          timestamp: this.now(),
        }
      }),

      listPodSandbox: this.unary('ListPodSandbox', (req) => {
        const f = req.filter
        const items: PodSandbox[] = []
        for (const s of this.sandboxStore.values()) {
          if (f?.id && !s.id.startsWith(f.id)) continue
          if (f?.state && s.state !== f.state.state) continue
          if (!matchesLabels(s.config.labels, f?.labelSelector)) continue
          items.push({
            id: s.id,
            metadata: s.config.metadata,
            state: s.state,
            createdAt: s.createdAt,
            labels: {...s.config.labels},
            annotations: {...s.config.annotations},
            runtimeHandler: s.runtimeHandler,
          })
        }
        return {items}
      }),

      createContainer: this.unary('CreateContainer', (req) => {
        const s = this.sandbox(req.podSandboxId)
        const config = req.config
        const md = config?.metadata
        if (!config || !md || md.name === '') throw new FakeStatus(status.UNKNOWN, 'container config must include metadata with a name')
        if (s.state !== PodSandboxState.SANDBOX_READY) {
          throw new FakeStatus(status.UNKNOWN, `failed to create containerd container: sandbox "${s.id}" is not in ready state`)
        }
        const ref = config.image?.image ?? ''
        const image = this.findImage(ref)
        if (!image) throw new FakeStatus(status.NOT_FOUND, `failed to resolve image "${ref}": no such image`)
        const taken = [...this.containerStore.values()].find(
          (c) => c.podSandboxId === s.id && c.config.metadata?.name === md.name && c.config.metadata.attempt === md.attempt,
        )
        if (taken) {
          throw new FakeStatus(status.UNKNOWN, `failed to reserve container name "${md.name}_${md.attempt}": name is reserved for "${taken.id}"`)
        }
        const id = this.newId()
        const c: FakeContainer = {
          id,
          podSandboxId: s.id,
          config,
          imageId: image.id,
          state: ContainerState.CONTAINER_CREATED,
          createdAt: this.now(),
          startedAt: 0n,
          finishedAt: 0n,
          exitCode: 0,
          reason: '',
          message: '',
        }
        this.containerStore.set(id, c)
        this.emit(c, ContainerEventType.CONTAINER_CREATED_EVENT)
        return {containerId: id}
      }),

      startContainer: this.unary('StartContainer', (req) => {
        const c = this.container(req.containerId)
        if (c.state !== ContainerState.CONTAINER_CREATED) {
          throw new FakeStatus(status.UNKNOWN, `failed to set starting state for container "${c.id}": container is in ${ContainerState[c.state]} state`)
        }
        const s = this.sandboxStore.get(c.podSandboxId)
        if (!s || s.state !== PodSandboxState.SANDBOX_READY) {
          throw new FakeStatus(status.UNKNOWN, `sandbox container "${c.podSandboxId}" is not running`)
        }
        c.state = ContainerState.CONTAINER_RUNNING
        c.startedAt = this.now()
        this.emit(c, ContainerEventType.CONTAINER_STARTED_EVENT)
        return {}
      }),

      stopContainer: this.unary('StopContainer', async (req) => {
        const c = this.container(req.containerId)
        // containerd leaves created and exited containers alone.
        if (c.state !== ContainerState.CONTAINER_RUNNING) return {}
        // A PID 1 that ignores SIGTERM (sleep, a shell) runs until the timeout's SIGKILL, unless it
        // ends otherwise meanwhile (a shorter stop, its sandbox stopped).
        if (this.ignoresSigterm(c) && req.timeout > 0n) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, Number(req.timeout) * 1000)
            this.onExit(c.id, () => {
              clearTimeout(t)
              resolve()
            })
          })
          this.finish(c, 137, 'Error')
          return {}
        }
        this.finish(c, this.ignoresSigterm(c) ? 137 : 143, 'Error')
        return {}
      }),

      removeContainer: this.unary('RemoveContainer', (req) => {
        const c = this.containerStore.get(req.containerId)
        if (c) this.removeContainerNow(c)
        return {}
      }),

      listContainers: this.unary('ListContainers', (req) => {
        const f = req.filter
        const containers: Container[] = []
        for (const c of this.containerStore.values()) {
          if (f?.id && !c.id.startsWith(f.id)) continue
          if (f?.podSandboxId && !c.podSandboxId.startsWith(f.podSandboxId)) continue
          if (f?.state && c.state !== f.state.state) continue
          if (!matchesLabels(c.config.labels, f?.labelSelector)) continue
          containers.push(this.toContainer(c))
        }
        return {containers}
      }),

      containerStatus: this.unary('ContainerStatus', (req) => {
        const c = this.container(req.containerId)
        return {status: this.containerStatus(c), info: verboseInfo(req.verbose, {info: JSON.stringify({pid: 4243})})}
      }),

      execSync: this.unary('ExecSync', (req) => {
        const c = this.container(req.containerId)
        if (c.state !== ContainerState.CONTAINER_RUNNING) {
          throw new FakeStatus(status.UNKNOWN, `container is in ${ContainerState[c.state]} state`)
        }
        const scripted = this.execHandler?.(c.id, req.cmd)
        const r: ExecResultLike =
          scripted ?? (req.cmd[0] === 'echo' ? {stdout: `${req.cmd.slice(1).join(' ')}\n`, exitCode: 0} : {exitCode: 0})
        return {stdout: Buffer.from(r.stdout ?? ''), stderr: Buffer.from(r.stderr ?? ''), exitCode: r.exitCode ?? 0}
      }),

      // The fake has no streaming server: interactive sessions are tested against containerd.
      exec: this.unary('Exec', () => {
        throw new FakeStatus(status.UNIMPLEMENTED, 'the fake runtime has no streaming server')
      }),
      portForward: this.unary('PortForward', () => {
        throw new FakeStatus(status.UNIMPLEMENTED, 'the fake runtime has no streaming server')
      }),

      containerStats: this.unary('ContainerStats', (req) => ({stats: this.stats(this.container(req.containerId))})),

      listContainerStats: this.unary('ListContainerStats', (req) => {
        const f = req.filter
        const stats: ContainerStats[] = []
        for (const c of this.containerStore.values()) {
          if (f?.id && !c.id.startsWith(f.id)) continue
          if (f?.podSandboxId && !c.podSandboxId.startsWith(f.podSandboxId)) continue
          if (!matchesLabels(c.config.labels, f?.labelSelector)) continue
          stats.push(this.stats(c))
        }
        return {stats}
      }),

      reopenContainerLog: this.unary('ReopenContainerLog', (req) => {
        const c = this.container(req.containerId)
        if (c.state !== ContainerState.CONTAINER_RUNNING) {
          throw new FakeStatus(status.FAILED_PRECONDITION, 'container is not running')
        }
        return {}
      }),

      getContainerEvents,
    }
  }

  private imageService(): ImageServiceServer {
    return {
      listImages: this.unary('ListImages', (req) => {
        const ref = req.filter?.image?.image ?? ''
        const images = ref === '' ? this.images() : [this.findImage(ref)].filter((i) => i !== undefined).map((i) => this.toImage(i))
        return {images}
      }),

      imageStatus: this.unary('ImageStatus', (req) => {
        const img = this.findImage(req.image?.image ?? '')
        return {image: img ? this.toImage(img) : undefined, info: {}}
      }),

      pullImage: this.unary('PullImage', (req) => {
        const ref = req.image?.image ?? ''
        if (ref === '') throw new FakeStatus(status.UNKNOWN, 'image reference is empty')
        const {tagged} = normalizeImageRef(ref)
        if (this.missingImages.has(tagged)) {
          throw new FakeStatus(
            status.NOT_FOUND,
            `failed to pull and unpack image "${tagged}": failed to resolve reference "${tagged}": ${tagged}: not found`,
          )
        }
        return {imageRef: this.addImage(ref)}
      }),

      removeImage: this.unary('RemoveImage', (req) => {
        const img = this.findImage(req.image?.image ?? '')
        if (img) this.imageStore.delete(img.id)
        return {}
      }),

      imageFsInfo: this.unary('ImageFsInfo', () => ({
        imageFilesystems: [
          {
            timestamp: this.now(),
            fsId: {mountpoint: '/var/lib/fakecri/snapshots'},
            usedBytes: {value: [...this.imageStore.values()].reduce((a, i) => a + i.size, 0n)},
            inodesUsed: {value: BigInt(this.imageStore.size * 100)},
          },
        ],
        containerFilesystems: [],
      })),
    }
  }
}
