// Runs the built podrun CLI (bin/run.js) as a child process, as a person would, and returns its
// exit code and output. End-to-end tests use it; `npm run build` must have run.
import {execFile} from 'node:child_process'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export interface Run {
  code: number
  stdout: string
  stderr: string
}

export function runPodrun(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 180_000): Promise<Run> {
  return new Promise((res) => {
    execFile(process.execPath, [path.join(projectRoot, 'bin/run.js'), ...args], {env, cwd: projectRoot, timeout: timeoutMs}, (err, stdout, stderr) => {
      res({code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr})
    })
  })
}
