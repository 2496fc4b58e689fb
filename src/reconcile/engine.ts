// One reconcile pass: observe -> plan -> execute. The same engine serves `apply` (passes until
// the pods settle) and the daemon (passes forever). Level-triggered: every pass compares the whole
// desired set with the whole actual set.
import fs from 'node:fs/promises'
import os from 'node:os'
import type {CriClient} from '../cri/client.js'
import type {DesiredPod} from '../model/desired.js'
import type {ActualPod} from '../model/actual.js'
import {cgroupRoot, containerLogLinkRoot, logRoot, podRoot} from '../lib/paths.js'
import {observe} from './observe.js'
import {plan, type BackoffPolicy, type PodActions} from './plan.js'
import {executeAll, type ExecContext, type PodResult} from './execute.js'
import {ImagePuller} from './images.js'
import {limits, type Limits} from './limits.js'
import {parseResolvConf, type HostDns} from './sandbox-config.js'
import type {DataLookup} from './container-config.js'

export interface HostInfo {
  dns: HostDns
  nodeName: string
  hostIP: string
}

/** Facts about this machine that pods see (resolver, hostname, address). Read once per command. */
export async function hostInfo(): Promise<HostInfo> {
  const text = await fs.readFile('/etc/resolv.conf', 'utf8').catch(() => '')
  const addrs = Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && a.family === 'IPv4' && !a.internal)
  return {dns: parseResolvConf(text), nodeName: os.hostname(), hostIP: addrs[0]?.address ?? '127.0.0.1'}
}

export interface PassOptions {
  cri: CriClient
  host: HostInfo
  data: DataLookup
  /** Mutating runtime calls in flight (ignored when `limits` is given). */
  parallel: number
  /** Image pulls in flight (ignored when `limits` is given); default 1. */
  parallelPulls?: number
  /** Limits shared with other passes (the daemon's). */
  limits?: Limits
  prune: (a: ActualPod) => boolean
  backoff?: BackoffPolicy
  puller?: ImagePuller
  gracePeriodSeconds?: number
  dryRun?: boolean
  onStep?: (key: string, step: string) => void
  /** Kubernetes-named events of each pod (the daemon keeps them). */
  onEvent?: ExecContext['onEvent']
  /** Clock injection for tests; nanoseconds since the epoch. */
  now?: () => bigint
  /** A listing the caller just made (saves listing the runtime twice in one command). */
  actual?: ActualPod[]
}

export interface PassResult {
  actual: ActualPod[]
  actions: PodActions[]
  results: PodResult[]
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n

export function execContext(o: PassOptions): ExecContext {
  const lim = o.limits ?? limits(o.parallel, o.parallelPulls)
  return {
    cri: o.cri,
    puller: o.puller ?? new ImagePuller(o.cri, lim.pulls),
    limits: lim,
    logRoot: logRoot(),
    logLinkRoot: containerLogLinkRoot(),
    podRoot: podRoot(),
    cgroupRoot: cgroupRoot(),
    hostDns: o.host.dns,
    nodeName: o.host.nodeName,
    hostIP: o.host.hostIP,
    data: o.data,
    gracePeriodSeconds: o.gracePeriodSeconds,
    onStep: o.onStep,
    onEvent: o.onEvent,
  }
}

export async function reconcilePass(desired: DesiredPod[], o: PassOptions): Promise<PassResult> {
  const actual = o.actual ?? (await observe(o.cri))
  const actions = plan(desired, actual, {now: (o.now ?? nowNs)(), prune: o.prune, backoff: o.backoff})
  if (o.dryRun) return {actual, actions, results: []}
  const results = await executeAll(actions, execContext(o))
  return {actual, actions, results}
}
