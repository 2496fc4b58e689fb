// The floor for the apply benchmark: a minimal, standalone CRI client that does for N
// single-container pods exactly the runtime work `podrun apply` / `podrun delete` do, and nothing
// else: no manifest parsing, no validation, no planning, no CLI framework.
//
//   node --import tsx bench/raw-cri.ts up    N [PARALLEL] [--namespace NS] [--image REF] [--grace S] [--log-root DIR]
//   node --import tsx bench/raw-cri.ts down  N [PARALLEL] [--namespace NS] ...
//   node --import tsx bench/raw-cri.ts check N            [--namespace NS]   (the floor of a no-op re-apply)
//
// up:    Version; ImageStatus once (PullImage only when absent), shared by all pods as podrun's
//        puller does; per pod, PARALLEL pods at a time: mkdir log folder, RunPodSandbox,
//        PodSandboxStatus (podrun reads the pod IP for the env), CreateContainer, StartContainer;
//        then ListPodSandbox + ListContainers (label filter) until all N run, every 250 ms as podrun.
// down:  Version; ListPodSandbox + ListContainers (label filter); per pod, PARALLEL at a time:
//        StopContainer(grace), StopPodSandbox, RemovePodSandbox, remove the pod's cgroup folders
//        and its log folder (podrun does both).
// check: Version; ListPodSandbox + ListContainers; exit 0 when all N run.
//
// The sandbox and container configs have podrun's shape (log directory and log path, labels,
// annotations with the pod and container JSON, DNS from the host, cgroup parent, masked and
// read-only paths), so the runtime does the same work for both. The label
// podrun.io/managed-by is "podrun-bench-raw", so podrun never sees these pods as its own.
//
// It talks to the runtime through the project's generated bindings and @grpc/grpc-js, nothing
// more. The benchmark runs it compiled to JavaScript against dist/gen (see bench/lib/floor.ts),
// so that its start-up is plain node loading the same modules podrun loads; under tsx, as above,
// it works the same but starts slower.
import fs from 'node:fs/promises'
import path from 'node:path'
import {createHash} from 'node:crypto'
import {Metadata, credentials, type ServiceError} from '@grpc/grpc-js'
import {
  ContainerConfig,
  ContainerState,
  CreateContainerRequest,
  ImageServiceClient,
  ImageStatusRequest,
  ListContainersRequest,
  ListPodSandboxRequest,
  NamespaceMode,
  PodSandboxConfig,
  PodSandboxState,
  PodSandboxStatusRequest,
  PullImageRequest,
  RemovePodSandboxRequest,
  RunPodSandboxRequest,
  RuntimeServiceClient,
  SecurityProfile_ProfileType,
  StartContainerRequest,
  StopContainerRequest,
  StopPodSandboxRequest,
  VersionRequest,
  type Container,
  type CreateContainerResponse,
  type ImageStatusResponse,
  type ListContainersResponse,
  type ListPodSandboxResponse,
  type PodSandbox,
  type RunPodSandboxResponse,
} from '../src/gen/runtime/v1/api.js'

const MANAGED_BY = 'podrun-bench-raw'
const POLL_MS = 250
const TIMEOUT_MS = 10_000
const WAIT_MS = 120_000
const MASKED_PATHS = ['/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware', '/sys/devices/virtual/powercap']
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger']

interface Options {
  mode: 'up' | 'down' | 'check'
  n: number
  parallel: number
  namespace: string
  image: string
  grace: number
  logRoot: string
  cgroupRoot: string
  endpoint: string
}

function usage(msg: string): never {
  process.stderr.write(`raw-cri: ${msg}\nusage: raw-cri up|down|check N [PARALLEL] [--namespace NS] [--image REF] [--grace SECONDS] [--log-root DIR] [--cgroup-root PATH]\n`)
  process.exit(2)
}

function parseArgs(argv: string[]): Options {
  const pos: string[] = []
  const flags: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a.startsWith('--')) {
      if (i + 1 >= argv.length) usage(`${a} needs a value`)
      flags[a.slice(2)] = argv[++i]
    } else pos.push(a)
  }
  const mode = pos[0]
  if (mode !== 'up' && mode !== 'down' && mode !== 'check') usage('the first argument is up, down or check')
  const n = Number(pos[1])
  const parallel = Number(pos[2] ?? 4)
  if (!Number.isInteger(n) || n < 0) usage('N must be a whole number')
  if (!Number.isInteger(parallel) || parallel < 1) usage('PARALLEL must be a positive whole number')
  const endpoint = flags.endpoint ?? process.env.CONTAINER_RUNTIME_ENDPOINT
  if (!endpoint) usage('set CONTAINER_RUNTIME_ENDPOINT or pass --endpoint')
  const image = flags.image ?? process.env.PODRUN_TEST_IMAGE ?? ''
  if (mode === 'up' && !image) usage('set PODRUN_TEST_IMAGE or pass --image')
  return {
    mode,
    n,
    parallel,
    namespace: flags.namespace ?? 'podrun-bench-raw',
    image,
    grace: Number(flags.grace ?? 0),
    logRoot: flags['log-root'] ?? process.env.PODRUN_LOG_ROOT ?? '/var/log/podrun/pods',
    cgroupRoot: flags['cgroup-root'] ?? process.env.PODRUN_CGROUP_ROOT ?? '/podrun',
    endpoint: endpoint.startsWith('unix://') || endpoint.startsWith('tcp://') ? endpoint.replace(/^tcp:\/\//, '') : `unix://${path.resolve(endpoint)}`,
  }
}

// ---- calls, counted ----

const calls: Record<string, {count: number; ms: number}> = {}

type Callback<Res> = (err: ServiceError | null, res: Res) => void

function unary<Res>(method: string, fn: (md: Metadata, opts: {deadline: number}, cb: Callback<Res>) => unknown, timeoutMs = TIMEOUT_MS): Promise<Res> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    fn(new Metadata(), {deadline: Date.now() + timeoutMs}, (err, res) => {
      const c = (calls[method] ??= {count: 0, ms: 0})
      c.count++
      c.ms += performance.now() - t0
      if (err) reject(new Error(`${method}: ${err.details || err.message}`))
      else resolve(res)
    })
  })
}

// ---- the shape podrun gives pods ----

function podUid(namespace: string, name: string): string {
  const h = createHash('sha256').update(`podrun/${namespace}/${name}`).digest('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const podName = (i: number): string => `pod-${String(i).padStart(3, '0')}`

interface HostDns {
  servers: string[]
  searches: string[]
  options: string[]
}

async function hostDns(): Promise<HostDns> {
  const text = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '')
  const out: HostDns = {servers: [], searches: [], options: []}
  for (const raw of text.split('\n')) {
    const [key, ...rest] = raw.replace(/[#;].*$/, '').trim().split(/\s+/)
    if (key === 'nameserver' && rest[0]) out.servers.push(rest[0])
    else if (key === 'search' || key === 'domain') out.searches = rest
    else if (key === 'options') out.options.push(...rest)
  }
  return out
}

const logDir = (o: Options, name: string, uid: string): string => path.join(o.logRoot, `${o.namespace}_${name}_${uid}`)
const cgroupParent = (o: Options, uid: string): string => path.posix.join(o.cgroupRoot, 'besteffort', `pod${uid}`)

function labels(o: Options, name: string, uid: string): Record<string, string> {
  return {
    'io.kubernetes.pod.name': name,
    'io.kubernetes.pod.namespace': o.namespace,
    'io.kubernetes.pod.uid': uid,
    'podrun.io/managed-by': MANAGED_BY,
    'podrun.io/source': 'raw',
  }
}

const namespaceOptions = {network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD, targetId: ''}

function sandboxConfig(o: Options, name: string, uid: string, dns: HostDns): PodSandboxConfig {
  const container = {name: 'main', image: o.image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600']}
  const pod = {apiVersion: 'v1', kind: 'Pod', metadata: {name, namespace: o.namespace}, spec: {terminationGracePeriodSeconds: o.grace, containers: [container]}}
  return PodSandboxConfig.fromPartial({
    metadata: {name, namespace: o.namespace, uid, attempt: 0},
    hostname: name,
    logDirectory: logDir(o, name, uid),
    dnsConfig: dns,
    portMappings: [],
    labels: {...labels(o, name, uid), 'podrun.io/sandbox-hash': 'raw'},
    annotations: {'podrun.io/pod': JSON.stringify(pod), 'io.kubernetes.pod.terminationGracePeriod': String(o.grace)},
    linux: {cgroupParent: cgroupParent(o, uid), sysctls: {}, securityContext: {namespaceOptions, supplementalGroups: [], privileged: false}},
  })
}

function containerConfig(o: Options, name: string, uid: string): ContainerConfig {
  const spec = {name: 'main', image: o.image, imagePullPolicy: 'IfNotPresent', command: ['sleep', '3600']}
  return ContainerConfig.fromPartial({
    metadata: {name: 'main', attempt: 0},
    image: {image: o.image, userSpecifiedImage: o.image},
    command: ['sleep', '3600'],
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    labels: {...labels(o, name, uid), 'io.kubernetes.container.name': 'main', 'podrun.io/container-hash': 'raw'},
    annotations: {
      'podrun.io/container': JSON.stringify(spec),
      'podrun.io/backoff-step': '0',
      'podrun.io/init-container': 'false',
      'io.kubernetes.container.restartCount': '0',
      'io.kubernetes.pod.terminationGracePeriod': String(o.grace),
    },
    logPath: 'main/0.log',
    linux: {
      resources: {cpuShares: 2n, cpuPeriod: 0n, cpuQuota: 0n, memoryLimitInBytes: 0n},
      securityContext: {
        privileged: false,
        capabilities: {addCapabilities: [], dropCapabilities: [], addAmbientCapabilities: []},
        namespaceOptions,
        supplementalGroups: [],
        maskedPaths: MASKED_PATHS,
        readonlyPaths: READONLY_PATHS,
        seccomp: {profileType: SecurityProfile_ProfileType.Unconfined, localhostRef: ''},
      },
    },
  })
}

// ---- work ----

async function pool<T>(items: T[], parallel: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++])
  }
  await Promise.all(Array.from({length: Math.max(1, Math.min(parallel, items.length))}, worker))
}

async function list(rt: RuntimeServiceClient, o: Options): Promise<{sandboxes: PodSandbox[]; containers: Container[]}> {
  const labelSelector = {'io.kubernetes.pod.namespace': o.namespace, 'podrun.io/managed-by': MANAGED_BY}
  const [s, c] = await Promise.all([
    unary<ListPodSandboxResponse>('ListPodSandbox', (md, opt, cb) => rt.listPodSandbox(ListPodSandboxRequest.fromPartial({filter: {labelSelector}}), md, opt, cb)),
    unary<ListContainersResponse>('ListContainers', (md, opt, cb) => rt.listContainers(ListContainersRequest.fromPartial({filter: {labelSelector}}), md, opt, cb)),
  ])
  return {sandboxes: s.items, containers: c.containers}
}

function allRunning(l: {sandboxes: PodSandbox[]; containers: Container[]}, n: number): boolean {
  const ready = l.sandboxes.filter((s) => s.state === PodSandboxState.SANDBOX_READY).length
  const running = l.containers.filter((c) => c.state === ContainerState.CONTAINER_RUNNING).length
  return ready === n && running === n
}

async function up(rt: RuntimeServiceClient, img: ImageServiceClient, o: Options): Promise<void> {
  const dns = await hostDns()
  // One ImageStatus for all pods, started at once and awaited before the first CreateContainer.
  const image = (async () => {
    const st = await unary<ImageStatusResponse>('ImageStatus', (md, opt, cb) => img.imageStatus(ImageStatusRequest.fromPartial({image: {image: o.image}}), md, opt, cb))
    if (!st.image) await unary('PullImage', (md, opt, cb) => img.pullImage(PullImageRequest.fromPartial({image: {image: o.image}}), md, opt, cb), 120_000)
  })()
  image.catch(() => undefined)
  const names = Array.from({length: o.n}, (_, i) => podName(i))
  await pool(names, o.parallel, async (name) => {
    const uid = podUid(o.namespace, name)
    const config = sandboxConfig(o, name, uid, dns)
    await fs.mkdir(config.logDirectory, {recursive: true})
    const {podSandboxId} = await unary<RunPodSandboxResponse>('RunPodSandbox', (md, opt, cb) => rt.runPodSandbox(RunPodSandboxRequest.fromPartial({config}), md, opt, cb))
    await image
    await unary('PodSandboxStatus', (md, opt, cb) => rt.podSandboxStatus(PodSandboxStatusRequest.fromPartial({podSandboxId}), md, opt, cb))
    const req = CreateContainerRequest.fromPartial({podSandboxId, config: containerConfig(o, name, uid), sandboxConfig: config})
    const {containerId} = await unary<CreateContainerResponse>('CreateContainer', (md, opt, cb) => rt.createContainer(req, md, opt, cb))
    await unary('StartContainer', (md, opt, cb) => rt.startContainer(StartContainerRequest.fromPartial({containerId}), md, opt, cb))
  })
  const deadline = Date.now() + WAIT_MS
  while (!allRunning(await list(rt, o), o.n)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${o.n} pods to run`)
    await new Promise((r) => setTimeout(r, POLL_MS))
  }
}

async function down(rt: RuntimeServiceClient, o: Options): Promise<number> {
  const {sandboxes, containers} = await list(rt, o)
  const byPod = new Map<string, Container[]>()
  for (const c of containers) byPod.set(c.podSandboxId, [...(byPod.get(c.podSandboxId) ?? []), c])
  const controllers = await fs.readdir('/sys/fs/cgroup').catch(() => [] as string[])
  await pool(sandboxes, o.parallel, async (s) => {
    const live = (byPod.get(s.id) ?? []).filter((c) => c.state !== ContainerState.CONTAINER_EXITED)
    await Promise.all(
      live.map((c) =>
        unary('StopContainer', (md, opt, cb) => rt.stopContainer(StopContainerRequest.fromPartial({containerId: c.id, timeout: BigInt(o.grace)}), md, opt, cb), TIMEOUT_MS + o.grace * 1000),
      ),
    )
    await unary('StopPodSandbox', (md, opt, cb) => rt.stopPodSandbox(StopPodSandboxRequest.fromPartial({podSandboxId: s.id}), md, opt, cb))
    await unary('RemovePodSandbox', (md, opt, cb) => rt.removePodSandbox(RemovePodSandboxRequest.fromPartial({podSandboxId: s.id}), md, opt, cb))
    const name = s.metadata?.name ?? ''
    const uid = s.metadata?.uid ?? ''
    const parent = cgroupParent(o, uid)
    await Promise.all(controllers.map((c) => fs.rmdir(`/sys/fs/cgroup/${c}${parent}`).catch(() => undefined)))
    await fs.rm(logDir(o, name, uid), {recursive: true, force: true})
  })
  return sandboxes.length
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2))
  const t0 = performance.now()
  const rt = new RuntimeServiceClient(o.endpoint, credentials.createInsecure())
  const img = new ImageServiceClient(o.endpoint, credentials.createInsecure(), {channelOverride: rt.getChannel()})
  let ok = true
  let pods = o.n
  try {
    // podrun checks the API version first; so does the floor.
    await unary('Version', (md, opt, cb) => rt.version(VersionRequest.fromPartial({version: '0.1.0'}), md, opt, cb))
    if (o.mode === 'up') await up(rt, img, o)
    else if (o.mode === 'down') pods = await down(rt, o)
    else ok = allRunning(await list(rt, o), o.n)
  } finally {
    img.close()
    rt.close()
  }
  process.stdout.write(JSON.stringify({mode: o.mode, pods, ok, ms: Math.round(performance.now() - t0), calls}) + '\n')
  if (!ok) process.exitCode = 1
}

main().catch((e: Error) => {
  process.stderr.write(`raw-cri: ${e.message}\n`)
  process.exitCode = 1
})
