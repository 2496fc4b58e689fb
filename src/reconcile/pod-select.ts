// Which pods and containers a command about one pod means, as kubectl picks them: a pod by name
// (or the pods a label selector matches) in a namespace; -c, every container, or the default one
// (the kubectl.kubernetes.io/default-container annotation, else the first) with a note naming the
// others; and a container's instances, newest first.
import type {ActualContainer, ActualPod} from '../model/actual.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {parseSelector} from '../lib/selector.js'
import {podAsRecorded} from './pod-record.js'

export interface PodChoice {
  namespace: string
  name?: string
  selector?: string
  container?: string
  allContainers?: boolean
  /** Notes for a person (stderr): the defaulted container. */
  note: (text: string) => void
}

const DEFAULT_CONTAINER = 'kubectl.kubernetes.io/default-container'

/** The pods asked for: one by name, or those whose labels match the selector. */
export function choosePods(all: ActualPod[], o: PodChoice): ActualPod[] {
  const inNs = all.filter((a) => a.namespace === o.namespace && a.sandboxes.length > 0)
  if (o.name) {
    const a = inNs.find((p) => p.name === o.name)
    if (!a) throw new PodrunError(`pods "${o.name}" not found in namespace ${o.namespace}`, {reason: 'NotFound', exitCode: ExitCode.invalid, suggestions: ['`podrun get pods -A` lists the pods']})
    return [a]
  }
  const match = parseSelector(o.selector ?? '')
  return inNs.filter((a) => match(podAsRecorded(a)?.metadata?.labels))
}

/** The containers of a pod to show: -c, every one, or the default (with a note when it had to choose). */
export function chooseContainers(a: ActualPod, o: PodChoice): string[] {
  const spec = podAsRecorded(a)?.spec
  const apps = (spec?.containers ?? []).map((c) => c.name)
  const inits = (spec?.initContainers ?? []).map((c) => c.name)
  if (o.allContainers) return [...inits, ...apps]
  if (o.container) {
    if (![...apps, ...inits].includes(o.container)) {
      throw new PodrunError(`container ${o.container} is not valid for pod ${a.name}: choose one of: [${apps.join(' ')}]${inits.length ? ` or one of the init containers: [${inits.join(' ')}]` : ''}`, {reason: 'NotFound', exitCode: ExitCode.invalid})
    }
    return [o.container]
  }
  const wanted = podAsRecorded(a)?.metadata?.annotations?.[DEFAULT_CONTAINER]
  const chosen = wanted && apps.includes(wanted) ? wanted : apps[0]
  if (apps.length + inits.length > 1 && !wanted) o.note(`Defaulted container "${chosen}" out of: ${[...apps, ...inits.map((i) => `${i} (init)`)].join(', ')}`)
  return chosen ? [chosen] : []
}

/** Every instance of a container, newest first. */
export function instances(a: ActualPod, name: string): ActualContainer[] {
  return a.containers.filter((c) => c.name === name).sort((x, y) => y.attempt - x.attempt || (y.createdAt > x.createdAt ? 1 : y.createdAt < x.createdAt ? -1 : 0))
}

