// A temporary workspace for an end-to-end test or a benchmark that runs `podrun daemon`: its namespace, folders,
// API socket, log file and the environment that points podrun at them.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface DaemonWorkspace {
  ns: string
  work: string
  manifestDir: string
  stateDir: string
  socket: string
  daemonLog: string
  env: NodeJS.ProcessEnv
}

/** kind: what runs it ("e2e" tests, "bench" benchmarks), in the namespace's name. */
export function daemonWorkspace(name: string, kind: 'e2e' | 'bench' = 'e2e'): DaemonWorkspace {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `podrun-${kind === 'bench' ? 'bench-' : ''}${name}-`))
  const stateDir = path.join(work, 'state')
  const socket = path.join(stateDir, 'podrun.sock')
  return {
    ns: `${kind}-${name}-${process.pid}`,
    work,
    manifestDir: path.join(work, 'manifests'),
    stateDir,
    socket,
    daemonLog: path.join(work, 'daemon.log'),
    env: {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs'), PODRUN_DAEMON_SOCKET: socket},
  }
}
