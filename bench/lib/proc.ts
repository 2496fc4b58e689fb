// Child processes for the benchmark: timed as whole processes (spawn to exit, node start-up
// included), their output kept, and every one still running stopped by its pid on the way out.
import {spawn, type ChildProcess} from 'node:child_process'

export interface Run {
  code: number
  signal: string | null
  stdout: string
  stderr: string
  /** Wall time from spawn to exit, seconds. */
  seconds: number
}

const running = new Set<ChildProcess>()

/** Stop every child still running (SIGTERM, by pid). */
export function stopChildren(): void {
  for (const c of running) {
    if (c.pid !== undefined && c.exitCode === null) {
      try {
        process.kill(c.pid, 'SIGTERM')
      } catch {
        // already gone
      }
    }
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv
  cwd?: string
  timeoutMs?: number
}

export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    let t1 = t0
    const child = spawn(cmd, args, {env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe']})
    running.add(child)
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (b: Buffer) => out.push(b))
    child.stderr.on('data', (b: Buffer) => err.push(b))
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM')
    }, opts.timeoutMs ?? 600_000)
    child.on('error', (e) => {
      clearTimeout(timer)
      running.delete(child)
      reject(e)
    })
    child.on('exit', () => {
      t1 = performance.now()
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({code: code ?? -1, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), seconds: (t1 - t0) / 1000})
    })
  })
}

/** run(), but a non-zero exit is an error that carries the command's output. */
export async function mustRun(what: string, cmd: string, args: string[], opts: RunOptions = {}): Promise<Run> {
  const r = await run(cmd, args, opts)
  if (r.code !== 0) {
    const tail = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-15).join('\n')
    throw new Error(`${what} failed (exit ${r.code}${r.signal ? `, ${r.signal}` : ''}):\n${tail}`)
  }
  return r
}

/** Whether an executable is on PATH. */
export async function onPath(name: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${name}`]).catch(() => undefined)
  return r?.code === 0
}
