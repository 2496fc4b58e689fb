// The cheap relist: once a second the daemon must notice a container that exited; it need not
// re-read what runs fine. So a relist asks the runtime only for podrun's EXITED containers
// (ListContainers with a state filter and podrun's label selector): a handful of items on a
// healthy machine, however many pods run, in one call. Their ids are compared with what the last
// full pass saw; any difference asks for a full pass. A sandbox that died, a pod removed behind
// podrun's back, a container stuck in CREATED: the resync sees those.
//
// The resync (every 10 s) lists everything podrun runs, still reading only ids and states, and
// runs a full pass only when something differs from what the last full pass saw (or the folder
// changed, or a full pass is due anyway).
//
// Both go through the CRI client's raw calls and read the answers for the few fields needed
// (cri/ids.ts): a resync's answer carries every pod's stored spec, which need not be decoded.
import type {CriClient} from '../cri/client.js'
import {decodeContainerIds, decodeSandboxIds} from '../cri/ids.js'
import {ContainerState, ListContainersRequest, ListPodSandboxRequest} from '../gen/runtime/v1/api.js'
import {Label, managedSelector} from '../reconcile/labels.js'
import {CONTAINER_STATES, SANDBOX_STATES} from '../reconcile/observe.js'
import type {ActualPod} from '../model/actual.js'

/** What a relist compares: "c<id>" of EXITED containers (and, from the resync, "s<id>:<state>"...). */
export type RuntimeState = Set<string>

export function sameState(a: RuntimeState | undefined, b: RuntimeState): boolean {
  if (!a || a.size !== b.size) return false
  for (const k of b) if (!a.has(k)) return false
  return true
}

/** What a relist would see in observed pods (what a full pass saw), for the sources `keep` accepts. */
export function stateOfPods(pods: ActualPod[], keep: (source: string) => boolean = () => true): RuntimeState {
  const out: RuntimeState = new Set()
  for (const p of pods) for (const c of p.containers) if (c.state === 'EXITED' && keep(c.labels[Label.source] ?? '')) out.add(`c${c.id}`)
  return out
}

/**
 * Every id and state of podrun's sandboxes and containers ("s<id>:<state>", "c<id>:<state>", CRI
 * state numbers): what the resync compares before deciding that a full pass is needed.
 */
export function fullStateOfPods(pods: ActualPod[]): RuntimeState {
  const out: RuntimeState = new Set()
  for (const p of pods) {
    for (const s of p.sandboxes) out.add(`s${s.id}:${Math.max(0, SANDBOX_STATES.indexOf(s.state))}`)
    for (const c of p.containers) out.add(`c${c.id}:${Math.max(0, CONTAINER_STATES.indexOf(c.state))}`)
  }
  return out
}

const encode = <T>(type: {encode(m: T): {finish(): Uint8Array}; fromPartial(o: object): T}, o: object): Uint8Array => type.encode(type.fromPartial(o)).finish()

export class Relister {
  private readonly exitedReq = encode(ListContainersRequest, {filter: {state: {state: ContainerState.CONTAINER_EXITED}, labelSelector: managedSelector}})
  private readonly allSandboxesReq = encode(ListPodSandboxRequest, {filter: {labelSelector: managedSelector}})
  private readonly allContainersReq = encode(ListContainersRequest, {filter: {labelSelector: managedSelector}})

  constructor(
    private readonly cri: CriClient,
    /** Which pods matter (by their podrun.io/source): the others' changes wait for a resync. */
    private readonly keep: (source: string) => boolean = () => true,
  ) {}

  /** The EXITED containers of the pods `keep` accepts. */
  async state(): Promise<RuntimeState> {
    const containers = decodeContainerIds(await this.cri.callRaw('ListContainers', this.exitedReq), Label.source)
    const out: RuntimeState = new Set()
    for (const c of containers) if (this.keep(c.label)) out.add(`c${c.id}`)
    return out
  }

  /** Every id and state of podrun's sandboxes and containers (as fullStateOfPods). */
  async all(): Promise<RuntimeState> {
    const [sandboxes, containers] = await Promise.all([
      this.cri.callRaw('ListPodSandbox', this.allSandboxesReq).then((b) => decodeSandboxIds(b)),
      this.cri.callRaw('ListContainers', this.allContainersReq).then((b) => decodeContainerIds(b)),
    ])
    const out: RuntimeState = new Set()
    const ids = new Set<string>()
    for (const s of sandboxes) {
      ids.add(s.id)
      out.add(`s${s.id}:${s.state}`)
    }
    // As observe does: containers whose sandbox is not podrun's are not podrun's.
    for (const c of containers) if (ids.has(c.sandboxId)) out.add(`c${c.id}:${c.state}`)
    return out
  }
}
