// Termination messages, as the kubelet keeps them: each container attempt gets an empty file in
// its pod's folder, mounted at its terminationMessagePath (/dev/termination-log); what the
// program wrote there (at most 4096 bytes) becomes the message of its terminated state. With
// terminationMessagePolicy FallbackToLogsOnError, a container that failed and wrote nothing gets
// the end of its log instead (the last 80 lines, at most 2048 bytes). The paths are made from
// podRoot and the container's labels, each part a plain name (joinInside).
import fs from 'node:fs/promises'
import type {Container} from 'kubernetes-types/core/v1.js'
import {joinInside} from '../lib/paths.js'

const MAX_MESSAGE = 4096
const FALLBACK_LINES = 80
const FALLBACK_BYTES = 2048

export const terminationLogPath = (podRoot: string, uid: string, container: string, attempt: number): string =>
  joinInside(podRoot, uid, 'containers', container, `${attempt}.termination-log`)

/** Makes the empty file a container attempt writes its message into (any user in it may). */
export async function makeTerminationLog(podRoot: string, uid: string, container: string, attempt: number): Promise<string> {
  const file = terminationLogPath(podRoot, uid, container, attempt)
  await fs.mkdir(joinInside(podRoot, uid, 'containers', container), {recursive: true, mode: 0o750})
  await fs.writeFile(file, '', {mode: 0o666})
  await fs.chmod(file, 0o666)
  return file
}

async function readHead(file: string, max: number): Promise<string> {
  const h = await fs.open(file, 'r').catch(() => undefined)
  if (!h) return ''
  try {
    const buf = Buffer.alloc(max)
    const {bytesRead} = await h.read(buf, 0, max, 0)
    return buf.subarray(0, bytesRead).toString('utf8')
  } finally {
    await h.close()
  }
}

/** The end of a CRI-format log (`<time> <stream> <P|F> <text>`), as the program wrote it. */
export async function logTail(file: string, lines = FALLBACK_LINES, bytes = FALLBACK_BYTES): Promise<string> {
  const st = await fs.stat(file).catch(() => undefined)
  if (!st) return ''
  const h = await fs.open(file, 'r')
  try {
    const want = Math.min(st.size, 64 * 1024)
    const buf = Buffer.alloc(want)
    await h.read(buf, 0, want, st.size - want)
    let out = ''
    for (const line of buf.toString('utf8').split('\n')) {
      const m = /^\S+ (?:stdout|stderr) ([PF]) (.*)$/.exec(line)
      if (m) out += m[2] + (m[1] === 'F' ? '\n' : '')
    }
    const kept = out.split('\n').slice(-(lines + 1)).join('\n')
    return Buffer.from(kept).subarray(-bytes).toString('utf8')
  } finally {
    await h.close()
  }
}

/** The message of a terminated container attempt, or '' when it left none. */
export async function terminationMessage(o: {podRoot: string; uid: string; container: string; attempt: number; spec?: Container; exitCode?: number; logFile: string}): Promise<string> {
  let file: string
  try {
    file = terminationLogPath(o.podRoot, o.uid, o.container, o.attempt)
  } catch {
    return ''
  }
  const msg = (await readHead(file, MAX_MESSAGE)).trim()
  if (msg || o.spec?.terminationMessagePolicy !== 'FallbackToLogsOnError' || !o.exitCode) return msg
  return (await logTail(o.logFile)).trim()
}
