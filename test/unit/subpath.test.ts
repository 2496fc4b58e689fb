// Resolving a subPath inside its volume without following links out of it, and the bind mounts
// made from what was resolved (mount(8) needs root, as podrun does).
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {bindSubPaths, cleanSubPaths, mountsUnder, openInside} from '../../src/reconcile/subpath.js'
import {joinInside} from '../../src/lib/paths.js'

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-subpath-unit-'))
const vol = path.join(work, 'vol')
const outside = path.join(work, 'outside')
fs.mkdirSync(path.join(vol, 'dir/inner'), {recursive: true})
fs.mkdirSync(outside)
fs.writeFileSync(path.join(vol, 'dir/file'), 'f')
fs.symlinkSync('dir', path.join(vol, 'link-in')) // stays inside: allowed, as Kubernetes allows it
fs.symlinkSync(outside, path.join(vol, 'link-out'))
fs.symlinkSync('../../outside', path.join(vol, 'dir/up'))
fs.symlinkSync('/nonexistent-podrun-target', path.join(vol, 'dangling'))

const resolve = async (rel: string) => {
  const h = await openInside(vol, rel, 'test')
  try {
    return {ino: h.stat.ino, dir: h.stat.isDirectory()}
  } finally {
    await h.handle.close()
  }
}
const ino = (p: string) => fs.statSync(p).ino

describe('openInside', () => {
  after(async () => {
    if ((await mountsUnder(work)).length === 0) fs.rmSync(work, {recursive: true, force: true})
  })

  const cases: {name: string; rel: string; want: string | RegExp}[] = [
    {name: 'a folder', rel: 'dir', want: 'dir'},
    {name: 'a file two levels down', rel: 'dir/file', want: 'dir/file'},
    {name: 'a link that stays inside the volume', rel: 'link-in/inner', want: 'dir/inner'},
    {name: 'an absolute link out of the volume', rel: 'link-out', want: /leads outside its volume/},
    {name: 'a relative link up and out of the volume', rel: 'dir/up', want: /leads outside its volume/},
    {name: 'a dangling link (never created through)', rel: 'dangling', want: /symbolic link/},
    {name: 'a path below a file', rel: 'dir/file/x', want: /not a directory|ENOTDIR/},
    {name: '".." anywhere', rel: 'dir/../dir', want: /without "\.\."/},
    {name: 'an absolute subPath', rel: '/etc', want: /without "\.\."/},
  ]
  for (const c of cases) {
    it(`${typeof c.want === 'string' ? 'resolves' : 'refuses'} ${c.name}`, async () => {
      if (typeof c.want === 'string') assert.equal((await resolve(c.rel)).ino, ino(path.join(vol, c.want)))
      else await assert.rejects(resolve(c.rel), c.want)
    })
  }

  it('creates missing folders with the volume folder\'s mode, and never through a link', async () => {
    fs.chmodSync(vol, 0o777)
    const r = await resolve('new/deeper')
    assert.equal(r.dir, true)
    assert.equal(fs.statSync(path.join(vol, 'new/deeper')).mode & 0o777, 0o777)
    assert.equal(fs.existsSync('/nonexistent-podrun-target'), false)
    await assert.rejects(resolve('dangling/below'), /symbolic link|leads outside/)
    assert.equal(fs.existsSync('/nonexistent-podrun-target'), false)
  })

  it('binds what was resolved, and a link planted later changes nothing the bind shows', {skip: process.getuid?.() !== 0 ? 'mount needs root' : false}, async () => {
    fs.mkdirSync(path.join(vol, 'data'))
    fs.writeFileSync(path.join(vol, 'data/mine'), 'mine')
    const pod = path.join(work, 'pod')
    const got = await bindSubPaths(pod, 'main', [
      {index: 1, volume: 'vol', volumePath: vol, subPath: 'data'},
      {index: 2, volume: 'vol', volumePath: vol, subPath: 'dir/file'},
    ])
    assert.equal(fs.readFileSync(path.join(got.get(1)!, 'mine'), 'utf8'), 'mine')
    assert.equal(fs.readFileSync(got.get(2)!, 'utf8'), 'f')
    // The container swaps the folder for a link to the host: the bind still shows the old folder,
    // and the next resolution refuses it.
    fs.renameSync(path.join(vol, 'data'), path.join(vol, 'data-old'))
    fs.symlinkSync(outside, path.join(vol, 'data'))
    assert.equal(fs.readFileSync(path.join(got.get(1)!, 'mine'), 'utf8'), 'mine')
    await assert.rejects(bindSubPaths(pod, 'main', [{index: 1, volume: 'vol', volumePath: vol, subPath: 'data'}]), /leads outside its volume/)
    assert.equal((await mountsUnder(pod)).length, 2, 'no new mount was made')
    assert.equal(fs.readFileSync(path.join(got.get(1)!, 'mine'), 'utf8'), 'mine')
    await cleanSubPaths(pod)
    assert.deepEqual(await mountsUnder(pod), [])
    assert.equal(fs.existsSync(path.join(pod, 'volume-subpaths')), false)
  })
})

describe('joinInside', () => {
  it('joins plain names', () => assert.equal(joinInside('/r', 'a_b_c', 'd'), '/r/a_b_c/d'))
  for (const bad of ['..', '.', '', 'a/b', '../../etc', 'a\0b']) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => joinInside('/r', bad), /not a plain name/))
  }
})
