// `podrun exec`: a command in a pod's running container, through CRI ExecSync (the runtime runs it
// and returns its output and exit code) or, with stdin or a terminal, through CRI Exec and the
// runtime's streaming server. The container is chosen as kubectl chooses it.
import type {CriClient} from '../cri/client.js'
import {ExitCode, PodrunError} from '../lib/errors.js'
import {observe} from './observe.js'
import {chooseContainers, choosePods, instances, type PodChoice} from './pod-select.js'

export interface ExecOptions extends PodChoice {
  name: string
  cmd: string[]
  /** The command's own deadline (the runtime kills it then). */
  timeoutSeconds: number
}

/** The id of the running container the options name. */
async function runningContainer(cri: CriClient, o: PodChoice & {name: string}): Promise<string> {
  const [a] = choosePods(await observe(cri), o)
  const [container] = chooseContainers(a, o)
  const running = instances(a, container).find((c) => c.state === 'RUNNING' && c.podSandboxId === a.sandboxes[0]?.id)
  if (!running) {
    throw new PodrunError(`container ${container} in pod ${a.name} is not running`, {reason: 'ContainerNotRunning', exitCode: ExitCode.invalid, suggestions: [`\`podrun get pods ${a.name} -n ${a.namespace}\` shows its state`]})
  }
  return running.id
}

export async function execInPod(cri: CriClient, o: ExecOptions): Promise<{stdout: Buffer; stderr: Buffer; exitCode: number}> {
  const id = await runningContainer(cri, o)
  const r = await cri.execSync(id, o.cmd, o.timeoutSeconds).catch((e: unknown) => {
    // The runtime ends a command that outlives its timeout and says so in its own words.
    if (/timeout .*exceeded|deadline exceeded|did not answer within/i.test((e as Error).message)) {
      throw new PodrunError(`the command did not finish within ${o.timeoutSeconds}s (--timeout)`, {reason: 'Timeout', exitCode: ExitCode.invalid, cause: e, suggestions: ['raise --timeout (e.g. --timeout 5m)']})
    }
    throw e
  })
  return {stdout: Buffer.from(r.stdout), stderr: Buffer.from(r.stderr), exitCode: r.exitCode}
}

/**
 * The streaming server's URL for an interactive session: stdin, and a terminal when tty (whose
 * stderr is the terminal too, so it is not asked for apart).
 */
export async function execSessionUrl(cri: CriClient, o: PodChoice & {name: string; cmd: string[]; stdin: boolean; tty: boolean}): Promise<string> {
  const id = await runningContainer(cri, o)
  return cri.exec(id, o.cmd, {tty: o.tty, stdin: o.stdin, stdout: true, stderr: !o.tty}).catch((e: unknown) => {
    throw new PodrunError(`the runtime offers no interactive sessions: ${(e as Error).message}`, {reason: 'StreamingUnavailable', exitCode: ExitCode.runtime, cause: e, suggestions: ['without -i and -t, podrun exec runs the command through ExecSync']})
  })
}
