// The daemon's desired state from a manifest folder: last good version per file, removals, a
// folder that cannot be read, and the cheap "nothing changed" check of the resync.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {execFileSync} from 'node:child_process'
import {ManifestSource, manifestErrors} from '../../src/daemon/sources.js'
import {readVerifyKey} from '../../src/lib/signature.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-sources-'))
after(() => fs.rmSync(root, {recursive: true, force: true}))

let n = 0
function folder(files: Record<string, string> = {}): string {
  const d = path.join(root, `m${n++}`)
  fs.mkdirSync(d)
  for (const [f, t] of Object.entries(files)) fs.writeFileSync(path.join(d, f), t)
  return d
}

function pod(name: string, image = 'busybox:1.35', extra = ''): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
spec:
  containers:
    - name: main
      image: ${image}
${extra}`
}

const images = (s: ManifestSource) => Object.fromEntries(s.snapshot.pods.map((p) => [p.name, p.containers[0].spec.image]))

describe('ManifestSource', () => {
  it('reads every valid pod, labelled with its absolute file path', async () => {
    const d = folder({'a.yaml': pod('a'), 'b.yml': pod('b'), 'notes.txt': 'not a manifest', '.a.yaml.swp': 'garbage'})
    const s = new ManifestSource(d)
    const r = await s.reload({force: true})
    assert.ok(r.changed)
    assert.deepEqual(
      s.snapshot.pods.map((p) => [p.name, p.source]),
      [
        ['a', path.join(d, 'a.yaml')],
        ['b', path.join(d, 'b.yml')],
      ],
    )
    assert.deepEqual(
      r.changes.map((c) => c.kind),
      ['added', 'added'],
    )
  })

  it('keeps the last good version of a file that becomes invalid, and reports its errors', async () => {
    const d = folder({'a.yaml': pod('a', 'busybox:1'), 'b.yaml': pod('b', 'busybox:1')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.writeFileSync(path.join(d, 'a.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: a\nspec: [\n')
    fs.writeFileSync(path.join(d, 'b.yaml'), pod('b', 'busybox:2'))
    const r = await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:1', b: 'busybox:2'})
    const inv = r.changes.find((c) => c.kind === 'invalid')
    assert.ok(inv && inv.kind === 'invalid' && inv.frozen)
    assert.equal(inv.file, path.join(d, 'a.yaml'))
    const errs = manifestErrors(s.snapshot).get(path.join(d, 'a.yaml'))
    assert.ok(errs && /a\.yaml:\d+:\d+: .*YAML/.test(errs[0]), String(errs))
    assert.equal(s.snapshot.files.get(path.join(d, 'a.yaml'))?.frozen, true)
  })

  it('a file invalid for a semantic reason is frozen too; once fixed its new version applies', async () => {
    const d = folder({'a.yaml': pod('a', 'busybox:1')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.writeFileSync(path.join(d, 'a.yaml'), pod('a', 'busybox:2', '  restartPolicy: Sometimes\n'))
    await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:1'})
    fs.writeFileSync(path.join(d, 'a.yaml'), pod('a', 'busybox:3'))
    const r = await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:3'})
    assert.deepEqual(
      r.changes.map((c) => c.kind),
      ['fixed'],
    )
    assert.equal(manifestErrors(s.snapshot).size, 0)
  })

  it('a file that was never valid contributes nothing and is not frozen', async () => {
    const d = folder({'bad.yaml': 'kind: Pod\nmetadata: {name: x}\n'})
    const s = new ManifestSource(d)
    const r = await s.reload({force: true})
    assert.equal(s.snapshot.pods.length, 0)
    assert.equal(s.snapshot.files.get(path.join(d, 'bad.yaml'))?.frozen, false)
    assert.ok(r.changes.some((c) => c.kind === 'invalid' && !c.frozen))
  })

  it('a removed file drops its pods; the others stay', async () => {
    const d = folder({'a.yaml': pod('a'), 'b.yaml': pod('b')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.rmSync(path.join(d, 'a.yaml'))
    const r = await s.reload({force: true})
    assert.deepEqual(Object.keys(images(s)), ['b'])
    assert.deepEqual(r.changes, [{file: path.join(d, 'a.yaml'), kind: 'removed'}])
  })

  it('a broken file that is removed drops its last good pods too', async () => {
    const d = folder({'a.yaml': pod('a')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.writeFileSync(path.join(d, 'a.yaml'), ': : :')
    await s.reload({force: true})
    assert.equal(s.snapshot.pods.length, 1)
    fs.rmSync(path.join(d, 'a.yaml'))
    await s.reload({force: true})
    assert.equal(s.snapshot.pods.length, 0)
  })

  it('a pod defined in two files makes both invalid, and both keep their last good state', async () => {
    const d = folder({'a.yaml': pod('a')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.writeFileSync(path.join(d, 'b.yaml'), pod('a', 'busybox:other'))
    await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:1.35'})
    assert.equal(manifestErrors(s.snapshot).size, 2)
  })

  it('a folder that cannot be read freezes everything', async () => {
    const d = folder({'a.yaml': pod('a')})
    const s = new ManifestSource(d)
    await s.reload({force: true})
    fs.rmSync(d, {recursive: true})
    const r = await s.reload({force: true})
    assert.ok(r.changed)
    assert.deepEqual(Object.keys(images(s)), ['a'])
    assert.equal(s.snapshot.dirErrors.length, 1)
    assert.match(manifestErrors(s.snapshot).get(d)?.[0] ?? '', /no such file or directory/)
  })

  it('follows a ..data symlink swap (config-management tools)', async () => {
    const d = folder()
    fs.mkdirSync(path.join(d, '..v1'))
    fs.writeFileSync(path.join(d, '..v1', 'web.yaml'), pod('web', 'busybox:1'))
    fs.symlinkSync('..v1', path.join(d, '..data'))
    fs.symlinkSync('..data/web.yaml', path.join(d, 'web.yaml'))
    const s = new ManifestSource(d)
    await s.reload()
    assert.deepEqual(images(s), {web: 'busybox:1'})
    fs.mkdirSync(path.join(d, '..v2'))
    fs.writeFileSync(path.join(d, '..v2', 'web.yaml'), pod('web', 'busybox:2'))
    fs.symlinkSync('..v2', path.join(d, '..data_tmp'))
    fs.renameSync(path.join(d, '..data_tmp'), path.join(d, '..data'))
    const r = await s.reload() // not forced: the fingerprint sees the new target
    assert.ok(r.read && r.changed)
    assert.deepEqual(images(s), {web: 'busybox:2'})
  })

  it('--file-check-delay: a file changed a moment ago is read only once it has been still for the delay', async () => {
    const d = folder({'a.yaml': pod('a', 'busybox:1')})
    const s = new ManifestSource(d, {fileCheckDelayMs: 300})
    const first = await s.reload({force: true})
    assert.equal(first.read, false)
    assert.ok(first.retryInMs !== undefined && first.retryInMs > 0 && first.retryInMs <= 320, String(first.retryInMs))
    assert.deepEqual(images(s), {})
    await new Promise((r) => setTimeout(r, first.retryInMs))
    const second = await s.reload()
    assert.ok(second.read && second.changed)
    assert.deepEqual(images(s), {a: 'busybox:1'})
  })

  it('--verify-key: each file counts only with a valid FILE.sig; a tampered or unsigned file changes nothing', async () => {
    const d = folder({'a.yaml': pod('a', 'busybox:1')})
    const key = path.join(d, '..', `key-${path.basename(d)}`)
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key])
    const sign = (f: string) => {
      fs.rmSync(path.join(d, `${f}.sig`), {force: true}) // ssh-keygen does not overwrite a signature
      execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', 'podrun', '-f', key, path.join(d, f)], {stdio: 'pipe'})
    }
    sign('a.yaml')
    const s = new ManifestSource(d, {verifyKeys: [readVerifyKey(`${key}.pub`)]})
    await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:1'})
    fs.writeFileSync(path.join(d, 'a.yaml'), pod('a', 'busybox:evil'))
    fs.writeFileSync(path.join(d, 'b.yaml'), pod('b', 'busybox:1'))
    await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:1'}, 'the last good version stays; the unsigned file runs nothing')
    const errs = manifestErrors(s.snapshot)
    assert.match(errs.get(path.join(d, 'a.yaml'))?.join() ?? '', /signature refused: the signature does not match the content/)
    assert.match(errs.get(path.join(d, 'b.yaml'))?.join() ?? '', /no signature: .*b\.yaml\.sig is missing/)
    sign('a.yaml')
    sign('b.yaml')
    await s.reload({force: true})
    assert.deepEqual(images(s), {a: 'busybox:evil', b: 'busybox:1'})
    fs.rmSync(`${key}`)
    fs.rmSync(`${key}.pub`)
  })

  it('a resync without changes reads nothing', async () => {
    const d = folder({'a.yaml': pod('a')})
    const s = new ManifestSource(d)
    await s.reload()
    const gen = s.snapshot.generation
    const r = await s.reload()
    assert.equal(r.read, false)
    assert.equal(r.changed, false)
    assert.equal(s.snapshot.generation, gen)
    fs.writeFileSync(path.join(d, 'a.yaml'), pod('a', 'busybox:9'))
    assert.equal((await s.reload()).read, true)
  })

  it('owns the files of its folder only (subfolders with -R)', () => {
    const s = new ManifestSource('/etc/podrun/manifests')
    assert.ok(s.owns('/etc/podrun/manifests/web.yaml'))
    assert.ok(!s.owns('/etc/podrun/manifests/sub/web.yaml'))
    assert.ok(!s.owns('/etc/podrun/other/web.yaml'))
    assert.ok(!s.owns('/etc/podrun/manifests'))
    assert.ok(!s.owns('apply'))
    assert.ok(!s.owns('/etc/podrun/manifests-old/web.yaml'))
    assert.ok(new ManifestSource('/etc/podrun/manifests', {recursive: true}).owns('/etc/podrun/manifests/sub/web.yaml'))
  })
})
