// Watching the manifest folder: an editor's save or a `..data` swap is one reload; swap and backup
// files alone are none; a folder replaced or created later is watched again.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {silentLogger} from '../../src/daemon/log.js'
import {DirWatcher, ignoredName} from '../../src/daemon/watch.js'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-watch-'))
after(() => fs.rmSync(root, {recursive: true, force: true}))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

let n = 0
async function watched(debounceMs = 60): Promise<{dir: string; w: DirWatcher; fired: string[]}> {
  const dir = path.join(root, `d${n++}`)
  fs.mkdirSync(dir)
  const fired: string[] = []
  const w = new DirWatcher(dir, {recursive: false, debounceMs, log: silentLogger, onChange: (why) => fired.push(why)})
  await w.start()
  return {dir, w, fired}
}

describe('manifest folder watch', () => {
  it('ignores swap, backup and dot files but not ..data', () => {
    for (const name of ['.web.yaml.swp', 'web.yaml~', '#web.yaml#', '4913', 'web.yaml.swp', 'web.yaml.bak', '.#web.yaml', '..2024_01_01_00_00_00.123', 'x.dpkg-new']) {
      assert.ok(ignoredName(name), name)
    }
    for (const name of ['web.yaml', 'web.yml', 'web.json', '..data', 'README']) assert.ok(!ignoredName(name), name)
  })

  it('an editor save (backup, swap, rename, write) is one reload', async () => {
    const {dir, w, fired} = await watched()
    try {
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'v: 1')
      await sleep(200)
      assert.equal(fired.length, 1)
      fs.writeFileSync(path.join(dir, '.a.yaml.swp'), 'x')
      fs.writeFileSync(path.join(dir, '4913'), '')
      fs.rmSync(path.join(dir, '4913'))
      fs.renameSync(path.join(dir, 'a.yaml'), path.join(dir, 'a.yaml~'))
      fs.writeFileSync(path.join(dir, 'a.yaml'), 'v: ')
      await sleep(10)
      fs.appendFileSync(path.join(dir, 'a.yaml'), '2\n')
      fs.rmSync(path.join(dir, 'a.yaml~'))
      fs.rmSync(path.join(dir, '.a.yaml.swp'))
      await sleep(250)
      assert.equal(fired.length, 2, fired.join(', '))
    } finally {
      await w.close()
    }
  })

  it('swap files alone cause no reload', async () => {
    const {dir, w, fired} = await watched()
    try {
      fs.writeFileSync(path.join(dir, '.b.yaml.swp'), 'x')
      fs.writeFileSync(path.join(dir, 'b.yaml~'), 'x')
      await sleep(200)
      assert.deepEqual(fired, [])
    } finally {
      await w.close()
    }
  })

  it('a ..data symlink swap is a reload', async () => {
    const {dir, w, fired} = await watched()
    try {
      fs.mkdirSync(path.join(dir, '..v1'))
      fs.writeFileSync(path.join(dir, '..v1', 'web.yaml'), 'v: 1')
      fs.symlinkSync('..v1', path.join(dir, '..data'))
      fs.symlinkSync('..data/web.yaml', path.join(dir, 'web.yaml'))
      await sleep(200)
      const before = fired.length
      assert.ok(before >= 1)
      fs.mkdirSync(path.join(dir, '..v2'))
      fs.writeFileSync(path.join(dir, '..v2', 'web.yaml'), 'v: 2')
      fs.symlinkSync('..v2', path.join(dir, '..data_tmp'))
      fs.renameSync(path.join(dir, '..data_tmp'), path.join(dir, '..data'))
      fs.rmSync(path.join(dir, '..v1'), {recursive: true})
      await sleep(300)
      assert.equal(fired.length, before + 1)
    } finally {
      await w.close()
    }
  })

  it('a folder created after the start is watched once re-armed', async () => {
    const dir = path.join(root, `late${n++}`)
    const fired: string[] = []
    const w = new DirWatcher(dir, {recursive: false, debounceMs: 30, log: silentLogger, onChange: (why) => fired.push(why)})
    await w.start()
    try {
      fs.mkdirSync(dir)
      assert.equal(await w.rearmIfNeeded(), true)
      assert.equal(await w.rearmIfNeeded(), false)
      const seen = fired.length
      fs.writeFileSync(path.join(dir, 'c.yaml'), 'v: 1')
      await sleep(200)
      assert.ok(fired.length > seen)
    } finally {
      await w.close()
    }
  })
})
