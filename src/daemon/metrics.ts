// The daemon's metrics in the Prometheus text format (version 0.0.4), without a client library:
// counters, gauges and histograms with labels, rendered on /metrics.

import type {SourceInfo} from './sources.js'

type Labels = Record<string, string>

const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
const CRI_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10]

function escapeValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function labelText(labels: Labels, extra?: [string, string]): string {
  const entries = Object.entries(labels)
  if (extra) entries.push(extra)
  if (entries.length === 0) return ''
  return `{${entries.map(([k, v]) => `${k}="${escapeValue(v)}"`).join(',')}}`
}

function num(n: number): string {
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  if (Number.isNaN(n)) return 'NaN'
  return String(n)
}

/** Series key: label values in the order given (callers always pass the same label names in the same order). */
const keyOf = (labels: Labels): string => {
  let k = ''
  for (const name in labels) k += `${name}\u0000${labels[name]}\u0001`
  return k
}

abstract class Metric {
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge' | 'histogram',
  ) {}
  abstract samples(): string[]
  render(): string {
    return [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`, ...this.samples()].join('\n')
  }
}

export class Counter extends Metric {
  private readonly values = new Map<string, {labels: Labels; value: number}>()
  constructor(name: string, help: string, type: 'counter' | 'gauge' = 'counter') {
    super(name, help, type)
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = keyOf(labels)
    const cur = this.values.get(k)
    if (cur) cur.value += by
    else this.values.set(k, {labels, value: by})
  }
  set(labels: Labels, value: number): void {
    this.values.set(keyOf(labels), {labels, value})
  }
  /** Replaces every series (for gauges computed from a view). */
  reset(series: Array<{labels: Labels; value: number}> = []): void {
    this.values.clear()
    for (const s of series) this.set(s.labels, s.value)
  }
  get(labels: Labels = {}): number {
    return this.values.get(keyOf(labels))?.value ?? 0
  }
  samples(): string[] {
    return [...this.values.values()].map((s) => `${this.name}${labelText(s.labels)} ${num(s.value)}`)
  }
}

export class Gauge extends Counter {
  constructor(name: string, help: string) {
    super(name, help, 'gauge')
  }
}

export class Histogram extends Metric {
  private readonly series = new Map<string, {labels: Labels; counts: number[]; sum: number; count: number}>()
  constructor(
    name: string,
    help: string,
    readonly buckets: number[],
  ) {
    super(name, help, 'histogram')
  }
  observe(labels: Labels, value: number): void {
    const k = keyOf(labels)
    let s = this.series.get(k)
    if (!s) {
      s = {labels, counts: this.buckets.map(() => 0), sum: 0, count: 0}
      this.series.set(k, s)
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]) s.counts[i]++
    s.sum += value
    s.count++
  }
  count(labels: Labels = {}): number {
    return this.series.get(keyOf(labels))?.count ?? 0
  }
  samples(): string[] {
    const out: string[] = []
    for (const s of this.series.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${labelText(s.labels, ['le', num(b)])} ${s.counts[i]}`))
      out.push(`${this.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`)
      out.push(`${this.name}_sum${labelText(s.labels)} ${num(s.sum)}`)
      out.push(`${this.name}_count${labelText(s.labels)} ${s.count}`)
    }
    return out
  }
}

/** Every metric the daemon exposes. */
export class DaemonMetrics {
  readonly syncs = new Counter('podrun_pod_syncs_total', 'Pod syncs (one pod: observe, plan, execute), by result (error: retried with the pod\'s back-off).')
  readonly syncDuration = new Histogram('podrun_pod_sync_duration_seconds', 'Duration of pod syncs (observe, plan, execute), grace periods waited out included.', DURATION_BUCKETS)
  readonly relists = new Counter('podrun_relists_total', 'Relists of the runtime state, by outcome (unchanged: no pass needed).')
  readonly criCalls = new Counter('podrun_cri_calls_total', 'CRI calls, by method and gRPC code.')
  readonly criDuration = new Histogram('podrun_cri_call_duration_seconds', 'Latency of CRI calls, by method.', CRI_BUCKETS)
  readonly pods = new Gauge('podrun_pods', 'Pods of the daemon, by phase.')
  readonly restarts = new Counter('podrun_container_restarts_total', 'Restarts of each container of the daemon\'s pods (from the CRI attempt number).')
  readonly manifestErrors = new Gauge('podrun_manifest_errors', 'Errors in the manifest files, by file (0 series when all are valid).')
  readonly untrusted = new Gauge('podrun_manifest_untrusted', 'Manifest files and folders refused because others than root can write them, by path (0 series when all are trusted).')
  readonly unverified = new Counter('podrun_manifest_unverified_total', 'Manifest files and URL bodies refused for want of a valid signature by one of --verify-key, by source.')
  readonly runtimeUp = new Gauge('podrun_runtime_up', 'Whether the container runtime answers (1) or not (0).')
  readonly actions = new Counter('podrun_pod_actions_total', 'Pod changes carried out, by kind (created, configured, pruned) and result.')
  readonly rollbacks = new Counter('podrun_rollbacks_total', 'Edited pods put back to their last Ready version, by pod.')
  readonly garbage = new Counter('podrun_garbage_removed_total', 'What garbage collection removed (container, sandbox, log, link, image) and whether it could.')
  readonly imageFsUsage = new Gauge('podrun_image_fs_usage_ratio', 'How full the runtime\'s image file system is (0 to 1), as image garbage collection sees it.')
  readonly startTime = new Gauge('podrun_daemon_start_time_seconds', 'When the daemon started, seconds since the epoch.')
  // The process itself, under the names Prometheus client libraries use: on a small device the
  // daemon's own footprint is worth watching.
  readonly rss = new Gauge('process_resident_memory_bytes', 'Resident memory of the daemon process.')
  readonly cpu = new Counter('process_cpu_seconds_total', 'User and system CPU time of the daemon process.')
  readonly heapUsed = new Gauge('nodejs_heap_size_used_bytes', 'Bytes in use in the JavaScript heap.')
  readonly heapTotal = new Gauge('nodejs_heap_size_total_bytes', 'Bytes the JavaScript heap holds.')
  readonly external = new Gauge('nodejs_external_memory_bytes', 'Memory outside the JavaScript heap held by its objects (buffers).')

  constructor() {
    this.startTime.set({}, Math.floor(Date.now() / 1000))
    this.runtimeUp.set({}, 0)
    for (const phase of ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']) this.pods.set({phase}, 0)
    this.syncs.inc({result: 'ok'}, 0)
    this.syncs.inc({result: 'error'}, 0)
  }

  /** Each manifest URL's fetches and whether it runs from its cached copy; each pod's source. */
  readonly sourceFetches = new Counter('podrun_source_fetches_total', 'Fetches of each manifest URL, by result (changed, unchanged, not-modified: a 304, refused: no valid signature, error).')
  readonly sourceFromCache = new Gauge('podrun_source_from_cache', 'Whether a manifest URL\'s pods run from its copy cached on disk (1: the server has not answered since the daemon started) or not (0).')
  readonly sourceLastSuccess = new Gauge('podrun_source_last_success_timestamp_seconds', 'When a manifest URL last answered (200 or 304), seconds since the epoch.')
  readonly podSource = new Gauge('podrun_pod_info', 'One series per pod of the daemon, with the source it comes from (its manifest file, URL, or apply).')

  /** Sets the source series from what the sources say now (at each scrape). */
  setSources(list: SourceInfo[], pods: Array<{namespace: string; name: string; source: string}>): void {
    const urls = list.filter((s) => s.kind === 'url')
    this.sourceFetches.reset(urls.flatMap((s) => Object.entries(s.fetches ?? {}).map(([result, n]) => ({labels: {source: s.name, result}, value: n ?? 0}))))
    this.sourceFromCache.reset(urls.map((s) => ({labels: {source: s.name}, value: s.fromCache ? 1 : 0})))
    this.sourceLastSuccess.reset(urls.filter((s) => s.lastSuccess).map((s) => ({labels: {source: s.name}, value: Math.floor(Date.parse(s.lastSuccess!) / 1000)})))
    this.podSource.reset(pods.map((p) => ({labels: {namespace: p.namespace, pod: p.name, source: p.source}, value: 1})))
  }

  /** The hook for the CRI client's onCall. */
  readonly onCall = (method: string, code: string, ms: number): void => {
    this.criCalls.inc({method, code})
    this.criDuration.observe({method}, ms / 1000)
  }

  /** The containers' CPU and memory under cAdvisor's names, so existing dashboards read them. */
  readonly containerCpu = new Counter('container_cpu_usage_seconds_total', 'Cumulative cpu time consumed in seconds.')
  readonly containerMemory = new Gauge('container_memory_working_set_bytes', 'Current working set in bytes.')

  /** The running containers' usage as last sampled (the series of containers gone are dropped). */
  setContainerUsage(list: Array<{namespace: string; pod: string; container: string; id: string; cpuSeconds: number; workingSetBytes: number}>): void {
    const labels = (u: (typeof list)[number]) => ({namespace: u.namespace, pod: u.pod, container: u.container, id: u.id})
    this.containerCpu.reset(list.map((u) => ({labels: labels(u), value: u.cpuSeconds})))
    this.containerMemory.reset(list.map((u) => ({labels: labels(u), value: u.workingSetBytes})))
  }

  render(): string {
    const m = process.memoryUsage()
    const c = process.cpuUsage()
    this.rss.set({}, m.rss)
    this.cpu.set({}, (c.user + c.system) / 1e6)
    this.heapUsed.set({}, m.heapUsed)
    this.heapTotal.set({}, m.heapTotal)
    this.external.set({}, m.external)
    // Every metric the object holds, in the order declared (one left out of a list is never served).
    const all = Object.values(this).filter((v): v is Metric => v instanceof Metric)
    return all.map((m) => m.render()).join('\n') + '\n'
  }
}
