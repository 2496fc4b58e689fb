// A temporary workspace for an end-to-end test that runs `podrun daemon`: its namespace, folders,
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

export function daemonWorkspace(name: string): DaemonWorkspace {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `podrun-${name}-`))
  const stateDir = path.join(work, 'state')
  const socket = path.join(stateDir, 'podrun.sock')
  return {
    ns: `e2e-${name}-${process.pid}`,
    work,
    manifestDir: path.join(work, 'manifests'),
    stateDir,
    socket,
    daemonLog: path.join(work, 'daemon.log'),
    env: {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs'), PODRUN_DAEMON_SOCKET: socket},
  }
}
