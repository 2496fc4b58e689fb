// The one door to the container runtime: a thin, typed wrapper over the generated gRPC clients.
// Every call has a deadline, every failure becomes a CriError (see errors.ts), and every call is
// reported to an optional onCall hook (for logs and metrics).
//
// This module loads @grpc/grpc-js: commands import it lazily (`await import(...)`) so that
// `podrun --help` and `podrun --version` stay fast.
import {
  type CallOptions,
  type ClientUnaryCall,
  type ServiceError,
  Metadata,
  credentials,
} from '@grpc/grpc-js'
import {
  type AuthConfig,
  type Container,
  type ContainerConfig,
  type ContainerEventResponse,
  type ContainerFilter,
  type ContainerStats,
  type ContainerStatsFilter,
  type ContainerStatusResponse,
  type DeepPartial,
  type Image,
  type ImageFilter,
  type ImageFsInfoResponse,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  type PodSandboxStatusResponse,
  type StatusResponse,
  type VersionResponse,
  ContainerStatsRequest,
  ContainerStatusRequest,
  CreateContainerRequest,
  ExecRequest,
  ExecSyncRequest,
  GetEventsRequest,
  ImageFsInfoRequest,
  ImageServiceClient,
  ImageStatusRequest,
  ListContainerStatsRequest,
  ListContainersRequest,
  ListImagesRequest,
  ListPodSandboxRequest,
  PodSandboxStatusRequest,
  PortForwardRequest,
  PullImageRequest,
  RemoveContainerRequest,
  RemoveImageRequest,
  RemovePodSandboxRequest,
  ReopenContainerLogRequest,
  RunPodSandboxRequest,
  RuntimeServiceClient,
  StartContainerRequest,
  StatusRequest,
  StopContainerRequest,
  StopPodSandboxRequest,
  VersionRequest,
} from '../gen/runtime/v1/api.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {type Endpoint, resolveEndpoint} from './endpoint.js'
import {CriError, GrpcCode, grpcCodeName, mapGrpcError} from './errors.js'

/** The CRI API version podrun speaks. */
export const CRI_API_VERSION = 'v1'
/** What podrun sends in VersionRequest (the kubelet and crictl send the same). */
const KUBE_API_VERSION = '0.1.0'

export const DEFAULT_TIMEOUT_MS = 10_000
export const DEFAULT_PULL_TIMEOUT_MS = 120_000
/** crictl's limit; large ListContainers answers on busy hosts exceed grpc-js's 4 MiB default. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024

const RUNTIME_SERVICE = 'runtime.v1.RuntimeService'
const IMAGE_SERVICE = 'runtime.v1.ImageService'

export interface ConnectOptions {
  /** unix:///path, /path, or tcp://host:port; default: $CONTAINER_RUNTIME_ENDPOINT, else the usual sockets. */
  endpoint?: string
  /** Deadline of each call; default 10 s. */
  timeoutMs?: number
  /** Deadline of PullImage; default 120 s, or timeoutMs when that is larger. */
  pullTimeoutMs?: number
  /** Called after each call with the method (e.g. "RunPodSandbox"), the gRPC code name ("OK", "UNAVAILABLE") and its duration. */
  onCall?: (method: string, code: string, ms: number) => void
}

export interface ExecResult {
  stdout: Buffer
  stderr: Buffer
  exitCode: number
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall

/**
 * Connects to the runtime and checks, with one Version call, that it speaks CRI v1.
 * Throws a PodrunError (a CriError for failed calls) that says what to do.
 */
export async function connectCri(opts: ConnectOptions = {}): Promise<CriClient> {
  const client = new CriClient(resolveEndpoint(opts.endpoint), opts)
  try {
    const v = await client.version()
    if (v.runtimeApiVersion !== CRI_API_VERSION) {
      throw new PodrunError(
        `the runtime at ${client.target.display} (${v.runtimeName} ${v.runtimeVersion}) speaks CRI ${v.runtimeApiVersion || '(unknown)'}; podrun needs CRI ${CRI_API_VERSION}`,
        {
          exitCode: ExitCode.runtime,
          reason: 'RuntimeUnsupported',
          suggestions: ['upgrade the runtime: containerd 1.6 or later, CRI-O 1.23 or later'],
        },
      )
    }
    client.runtimeName = v.runtimeName
    client.runtimeVersion = v.runtimeVersion
    client.runtimeApiVersion = v.runtimeApiVersion
    return client
  } catch (err) {
    client.close()
    throw err
  }
}

export class CriClient {
  /** The endpoint in use, as a URI (unix:///run/containerd/containerd.sock). */
  readonly endpoint: string
  readonly target: Endpoint
  runtimeName = ''
  runtimeVersion = ''
  runtimeApiVersion = ''
  readonly timeoutMs: number
  readonly pullTimeoutMs: number

  private readonly rt: RuntimeServiceClient
  private readonly img: ImageServiceClient
  private readonly onCall?: ConnectOptions['onCall']

  /** Use connectCri(), which also checks the API version. */
  constructor(target: Endpoint, opts: ConnectOptions = {}) {
    this.target = target
    this.endpoint = target.uri
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.pullTimeoutMs = Math.max(opts.pullTimeoutMs ?? DEFAULT_PULL_TIMEOUT_MS, this.timeoutMs)
    this.onCall = opts.onCall
    const channelOptions = {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    }
    this.rt = new RuntimeServiceClient(target.address, credentials.createInsecure(), channelOptions)
    // Both services share one connection.
    this.img = new ImageServiceClient(target.address, credentials.createInsecure(), {
      ...channelOptions,
      channelOverride: this.rt.getChannel(),
    })
  }

  close(): void {
    this.img.close()
    this.rt.close()
  }

  /**
   * A RuntimeService call with an encoded request, answered with the encoded response, through
   * grpc-js like every other call: for the daemon's frequent lists, which read only a few fields
   * of the answer (ids.ts) instead of decoding whole specs.
   */
  callRaw(method: string, request: Uint8Array, timeoutMs: number = this.timeoutMs): Promise<Buffer> {
    const path = `/${RUNTIME_SERVICE}/${method}`
    const identity = (b: Buffer) => b
    const raw: UnaryMethod<Buffer, Buffer> = (req, md, o, cb) => this.rt.makeUnaryRequest(path, identity, identity, req, md, o, (err, res) => cb(err, res as Buffer))
    return this.unary(RUNTIME_SERVICE, method, raw, Buffer.from(request), timeoutMs)
  }

  // ---- runtime ----

  version(): Promise<VersionResponse> {
    return this.unary(RUNTIME_SERVICE, 'Version', this.rt.version.bind(this.rt), VersionRequest.fromPartial({version: KUBE_API_VERSION}))
  }

  status(verbose = false): Promise<StatusResponse> {
    return this.unary(RUNTIME_SERVICE, 'Status', this.rt.status.bind(this.rt), StatusRequest.fromPartial({verbose}))
  }

  // ---- sandboxes ----

  async listPodSandbox(filter?: DeepPartial<PodSandboxFilter>): Promise<PodSandbox[]> {
    const res = await this.unary(RUNTIME_SERVICE, 'ListPodSandbox', this.rt.listPodSandbox.bind(this.rt), ListPodSandboxRequest.fromPartial({filter}))
    return res.items
  }

  async runPodSandbox(config: DeepPartial<PodSandboxConfig>, runtimeHandler = ''): Promise<string> {
    const req = RunPodSandboxRequest.fromPartial({config, runtimeHandler})
    const res = await this.unary(RUNTIME_SERVICE, 'RunPodSandbox', this.rt.runPodSandbox.bind(this.rt), req)
    return res.podSandboxId
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.unary(RUNTIME_SERVICE, 'StopPodSandbox', this.rt.stopPodSandbox.bind(this.rt), StopPodSandboxRequest.fromPartial({podSandboxId}))
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.unary(RUNTIME_SERVICE, 'RemovePodSandbox', this.rt.removePodSandbox.bind(this.rt), RemovePodSandboxRequest.fromPartial({podSandboxId}))
  }

  podSandboxStatus(podSandboxId: string, verbose = false): Promise<PodSandboxStatusResponse> {
    const req = PodSandboxStatusRequest.fromPartial({podSandboxId, verbose})
    return this.unary(RUNTIME_SERVICE, 'PodSandboxStatus', this.rt.podSandboxStatus.bind(this.rt), req)
  }

  // ---- containers ----

  async listContainers(filter?: DeepPartial<ContainerFilter>): Promise<Container[]> {
    const res = await this.unary(RUNTIME_SERVICE, 'ListContainers', this.rt.listContainers.bind(this.rt), ListContainersRequest.fromPartial({filter}))
    return res.containers
  }

  async createContainer(
    podSandboxId: string,
    config: DeepPartial<ContainerConfig>,
    sandboxConfig: DeepPartial<PodSandboxConfig>,
  ): Promise<string> {
    const req = CreateContainerRequest.fromPartial({podSandboxId, config, sandboxConfig})
    const res = await this.unary(RUNTIME_SERVICE, 'CreateContainer', this.rt.createContainer.bind(this.rt), req)
    return res.containerId
  }

  async startContainer(containerId: string): Promise<void> {
    await this.unary(RUNTIME_SERVICE, 'StartContainer', this.rt.startContainer.bind(this.rt), StartContainerRequest.fromPartial({containerId}))
  }

  /** Stops with SIGTERM, then SIGKILL after timeoutSeconds; the call's deadline grows by that grace period. */
  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    const req = StopContainerRequest.fromPartial({containerId, timeout: BigInt(Math.max(0, Math.floor(timeoutSeconds)))})
    await this.unary(RUNTIME_SERVICE, 'StopContainer', this.rt.stopContainer.bind(this.rt), req, this.timeoutMs + Math.max(0, timeoutSeconds) * 1000)
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.unary(RUNTIME_SERVICE, 'RemoveContainer', this.rt.removeContainer.bind(this.rt), RemoveContainerRequest.fromPartial({containerId}))
  }

  containerStatus(containerId: string, verbose = false): Promise<ContainerStatusResponse> {
    const req = ContainerStatusRequest.fromPartial({containerId, verbose})
    return this.unary(RUNTIME_SERVICE, 'ContainerStatus', this.rt.containerStatus.bind(this.rt), req)
  }

  /** Runs cmd in the container and waits; timeoutSeconds 0 means no limit on the runtime's side. */
  async execSync(containerId: string, cmd: string[], timeoutSeconds: number): Promise<ExecResult> {
    const t = Math.max(0, Math.floor(timeoutSeconds))
    const req = ExecSyncRequest.fromPartial({containerId, cmd, timeout: BigInt(t)})
    const res = await this.unary(RUNTIME_SERVICE, 'ExecSync', this.rt.execSync.bind(this.rt), req, this.timeoutMs + t * 1000)
    return {stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode}
  }

  /** Asks for an interactive session; the answer is a one-time URL on the runtime's streaming server. */
  async exec(containerId: string, cmd: string[], io: {tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean}): Promise<string> {
    const req = ExecRequest.fromPartial({containerId, cmd, ...io})
    return (await this.unary(RUNTIME_SERVICE, 'Exec', this.rt.exec.bind(this.rt), req)).url
  }

  /** A one-time URL on the runtime's streaming server that forwards to ports in the pod's network. */
  async portForward(podSandboxId: string, ports: number[]): Promise<string> {
    const req = PortForwardRequest.fromPartial({podSandboxId, port: ports})
    return (await this.unary(RUNTIME_SERVICE, 'PortForward', this.rt.portForward.bind(this.rt), req)).url
  }

  async containerStats(containerId: string): Promise<ContainerStats | undefined> {
    const res = await this.unary(RUNTIME_SERVICE, 'ContainerStats', this.rt.containerStats.bind(this.rt), ContainerStatsRequest.fromPartial({containerId}))
    return res.stats
  }

  async listContainerStats(filter?: DeepPartial<ContainerStatsFilter>): Promise<ContainerStats[]> {
    const req = ListContainerStatsRequest.fromPartial({filter})
    const res = await this.unary(RUNTIME_SERVICE, 'ListContainerStats', this.rt.listContainerStats.bind(this.rt), req)
    return res.stats
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    const req = ReopenContainerLogRequest.fromPartial({containerId})
    await this.unary(RUNTIME_SERVICE, 'ReopenContainerLog', this.rt.reopenContainerLog.bind(this.rt), req)
  }

  /**
   * Subscribes to container events. onEnd is called exactly once: with undefined when the stream
   * ended or was cancelled, else with a CriError (UNIMPLEMENTED on runtimes without events, such
   * as containerd 1.6: fall back to listing). Returns a function that cancels the subscription.
   */
  getContainerEvents(onEvent: (event: ContainerEventResponse) => void, onEnd: (err?: CriError) => void): () => void {
    const method = 'GetContainerEvents'
    const started = performance.now()
    const call = this.rt.getContainerEvents(GetEventsRequest.fromPartial({}), new Metadata())
    let cancelled = false
    let done = false
    const finish = (code: number, err?: CriError): void => {
      if (done) return
      done = true
      this.report(method, code, started)
      onEnd(err)
    }
    call.on('data', (event: ContainerEventResponse) => {
      if (!done) onEvent(event)
    })
    call.on('error', (e: ServiceError) => {
      if (cancelled && e.code === GrpcCode.CANCELLED) finish(GrpcCode.CANCELLED)
      else finish(e.code, mapGrpcError(e, {method: `${RUNTIME_SERVICE}/${method}`, endpoint: this.target.display}))
    })
    call.on('end', () => finish(GrpcCode.OK))
    return () => {
      if (done) return
      cancelled = true
      call.cancel()
    }
  }

  // ---- images ----

  /** Lists images; a string filter is an image reference. */
  async listImages(filter?: string | DeepPartial<ImageFilter>): Promise<Image[]> {
    const f = typeof filter === 'string' ? {image: {image: filter}} : filter
    const res = await this.unary(IMAGE_SERVICE, 'ListImages', this.img.listImages.bind(this.img), ListImagesRequest.fromPartial({filter: f}))
    return res.images
  }

  /** The image, or undefined when the runtime does not have it. */
  async imageStatus(ref: string): Promise<Image | undefined> {
    const req = ImageStatusRequest.fromPartial({image: {image: ref}})
    const res = await this.unary(IMAGE_SERVICE, 'ImageStatus', this.img.imageStatus.bind(this.img), req, this.timeoutMs, ref)
    return res.image
  }

  /** Pulls ref and returns the image reference the runtime resolved it to (an image id). */
  async pullImage(ref: string, auth?: DeepPartial<AuthConfig>, sandboxConfig?: DeepPartial<PodSandboxConfig>): Promise<string> {
    const req = PullImageRequest.fromPartial({image: {image: ref}, auth, sandboxConfig})
    const res = await this.unary(IMAGE_SERVICE, 'PullImage', this.img.pullImage.bind(this.img), req, this.pullTimeoutMs, ref)
    return res.imageRef
  }

  async removeImage(ref: string): Promise<void> {
    const req = RemoveImageRequest.fromPartial({image: {image: ref}})
    await this.unary(IMAGE_SERVICE, 'RemoveImage', this.img.removeImage.bind(this.img), req, this.timeoutMs, ref)
  }

  imageFsInfo(): Promise<ImageFsInfoResponse> {
    return this.unary(IMAGE_SERVICE, 'ImageFsInfo', this.img.imageFsInfo.bind(this.img), ImageFsInfoRequest.fromPartial({}))
  }

  // ---- plumbing ----

  private unary<Req, Res>(
    service: string,
    method: string,
    fn: UnaryMethod<Req, Res>,
    request: Req,
    timeoutMs: number = this.timeoutMs,
    ref?: string,
  ): Promise<Res> {
    const started = performance.now()
    return new Promise<Res>((resolve, reject) => {
      fn(request, new Metadata(), {deadline: Date.now() + timeoutMs}, (err, res) => {
        if (err) {
          this.report(method, err.code, started)
          reject(mapGrpcError(err, {method: `${service}/${method}`, endpoint: this.target.display, timeoutMs, ref}))
          return
        }
        this.report(method, GrpcCode.OK, started)
        resolve(res)
      })
    })
  }

  private report(method: string, code: number, started: number): void {
    if (!this.onCall) return
    try {
      this.onCall(method, grpcCodeName(code), performance.now() - started)
    } catch {
      // A broken hook must not break the call.
    }
  }
}
