// Whether the manifest folder can be trusted, as sshd's StrictModes trusts a user's files: a root
// daemon runs whatever the folder holds, so everyone who can write there is root. The folder,
// every folder above it and every manifest file must be owned by root (or by the daemon's own
// user) and not writable by group or others; a link is judged by what it points at. Checked with
// lstat at every read of the folder; --insecure-manifest-dir turns it off.
import fs from 'node:fs'
import path from 'node:path'

export interface TrustProblem {
  path: string
  message: string
  /** The folder itself or one above it: nothing in it is trusted. */
  folder: boolean
}

const describeMode = (mode: number): string => `0${(mode & 0o7777).toString(8)}`

function problemOf(st: fs.Stats, uid: number): string | undefined {
  if (st.uid !== 0 && st.uid !== uid) return `owned by uid ${st.uid}, not by root`
  if (st.mode & 0o022) return `writable by ${st.mode & 0o020 ? 'its group' : ''}${(st.mode & 0o020) && (st.mode & 0o002) ? ' and ' : ''}${st.mode & 0o002 ? 'others' : ''} (mode ${describeMode(st.mode)})`
  return undefined
}

/**
 * The folder and every folder above it. A root-owned sticky folder above (/tmp) passes: others
 * may add entries there but cannot rename or remove the ones root owns.
 */
export function folderTrust(dir: string, uid = process.geteuid?.() ?? 0): TrustProblem[] {
  const out: TrustProblem[] = []
  const start = path.resolve(dir)
  let cur = start
  for (;;) {
    let st: fs.Stats
    try {
      st = fs.lstatSync(cur)
    } catch {
      break // a folder that cannot be read is reported as such where it is read
    }
    if (st.isSymbolicLink() && cur === start) {
      // The folder given may be a link (a common layout); its target is what is read and checked.
      const target = fs.realpathSync(cur)
      const parent = path.dirname(cur)
      const why = problemOf(fs.lstatSync(parent), uid)
      if (why) out.push({path: parent, message: why, folder: true})
      return [...out, ...folderTrust(target, uid)]
    }
    const stickyAbove = cur !== start && st.uid === 0 && (st.mode & 0o1000) !== 0
    const why = stickyAbove ? undefined : problemOf(st, uid)
    if (why) out.push({path: cur, message: why, folder: true})
    const up = path.dirname(cur)
    if (up === cur) break
    cur = up
  }
  return out
}

/**
 * A manifest file: owned by root, not writable by group or others. A link (the `..data` layout of
 * config-management tools) is judged by what it points at, and by the folders that hold that,
 * when they are outside the manifest folder; the link itself only root could make in a trusted folder.
 */
export function fileTrust(file: string, dir: string, uid = process.geteuid?.() ?? 0): TrustProblem[] {
  let st: fs.Stats
  try {
    st = fs.lstatSync(file)
  } catch {
    return [] // gone since it was listed: the next read sees it
  }
  if (!st.isSymbolicLink()) {
    const why = problemOf(st, uid)
    return why ? [{path: file, message: why, folder: false}] : []
  }
  let target: string
  try {
    target = fs.realpathSync(file)
    st = fs.statSync(target)
  } catch {
    return []
  }
  const out: TrustProblem[] = []
  const why = problemOf(st, uid)
  if (why) out.push({path: file, message: `a link to ${target}, which is ${why}`, folder: false})
  const rel = path.relative(dir, target)
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    for (const p of folderTrust(path.dirname(target), uid)) out.push({path: file, message: `a link into ${p.path}, which is ${p.message}`, folder: false})
  }
  return out
}

export const TRUST_HINT = 'a root daemon runs what this folder holds: make it root-owned and writable by root alone (chown root:root, chmod go-w), or start the daemon with --insecure-manifest-dir'
