// The manifest folder's trust, as sshd's StrictModes: owner and modes of the folder, the folders
// above it and each file, checked without following links. Runs as root (it chowns).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {fileTrust, folderTrust} from '../../src/daemon/manifest-trust.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-trust-'))
after(() => fs.rmSync(root, {recursive: true, force: true}))
const asRoot = process.geteuid?.() === 0

describe('manifest folder trust', {skip: asRoot ? false : 'needs root (chown)'}, () => {
  const mk = (name: string, mode: number, uid = 0) => {
    const d = path.join(root, name)
    fs.mkdirSync(d, {recursive: true})
    fs.chmodSync(d, mode)
    fs.chownSync(d, uid, 0)
    return d
  }
  it('a root-owned folder that only root writes, under /tmp (sticky), is trusted', () => {
    assert.deepEqual(folderTrust(mk('good', 0o755)), [])
  })
  it('a world-writable, a group-writable or another user\'s folder is not', () => {
    assert.match(folderTrust(mk('world', 0o777))[0].message, /writable by its group and others \(mode 0777\)/)
    assert.match(folderTrust(mk('group', 0o775))[0].message, /writable by its group \(mode 0775\)/)
    assert.match(folderTrust(mk('nobody', 0o755, 65534))[0].message, /owned by uid 65534, not by root/)
  })
  it('a folder above that others can write makes every folder below it untrusted', () => {
    mk('open', 0o777)
    const below = mk('open/inner', 0o755)
    const problems = folderTrust(below)
    assert.deepEqual(problems.map((p) => p.path), [path.join(root, 'open')])
  })
  it('files: root-owned, not writable by group or others; a link is judged by its target', () => {
    const d = mk('files', 0o755)
    const f = (name: string, mode: number, uid = 0) => {
      const p = path.join(d, name)
      fs.writeFileSync(p, 'x')
      fs.chmodSync(p, mode)
      fs.chownSync(p, uid, 0)
      return p
    }
    assert.deepEqual(fileTrust(f('ok.yaml', 0o644), d), [])
    assert.match(fileTrust(f('w.yaml', 0o666), d)[0].message, /writable by its group and others/)
    assert.match(fileTrust(f('n.yaml', 0o644, 65534), d)[0].message, /owned by uid 65534/)
    // A link is judged by its target: inside the folder, and outside it with the folders above.
    fs.symlinkSync(path.join(d, 'ok.yaml'), path.join(d, 'link.yaml'))
    assert.deepEqual(fileTrust(path.join(d, 'link.yaml'), d), [])
    fs.symlinkSync(path.join(d, 'n.yaml'), path.join(d, 'bad-link.yaml'))
    assert.match(fileTrust(path.join(d, 'bad-link.yaml'), d)[0].message, /a link to .*n\.yaml, which is owned by uid 65534/)
    const open = mk('outside', 0o777)
    fs.writeFileSync(path.join(open, 'p.yaml'), 'x')
    fs.symlinkSync(path.join(open, 'p.yaml'), path.join(d, 'out-link.yaml'))
    assert.match(fileTrust(path.join(d, 'out-link.yaml'), d)[0].message, /a link into .*outside, which is writable by its group and others/)
  })
})
