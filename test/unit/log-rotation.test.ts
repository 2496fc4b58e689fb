// Log rotation as the kubelet's container log manager does it, and reading across rotated files.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type {CriClient} from '../../src/cri/client.js'
import {rotateIfNeeded} from '../../src/daemon/log-rotation.js'
import {linesOf, rotatedLogs, tailWithRotated} from '../../src/reconcile/container-logs.js'

const line = (i: number) => `2026-12-03T10:00:00.${String(i).padStart(9, '0')}Z stdout F line ${i} ${'x'.repeat(80)}\n`

test('past the size: renamed with a time stamp, the runtime asked to reopen, older ones gzipped, max-files kept; the reader reads across them', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-rot-'))
  const log = path.join(dir, '0.log')
  const reopened: string[] = []
  // The runtime reopens by making a new empty file at the path.
  const cri = {reopenContainerLog: async (id: string) => {
    reopened.push(id)
    fs.writeFileSync(log, '')
  }} as unknown as CriClient
  let n = 0
  const write = (count: number) => {
    let text = ''
    for (let i = 0; i < count; i++) text += line(n++)
    fs.appendFileSync(log, text)
  }
  try {
    write(50) // ~5 KB: under the size
    assert.equal(await rotateIfNeeded(cri, {id: 'c1', logPath: log}, {maxBytes: 8192, maxFiles: 3}), false)
    for (let round = 0; round < 5; round++) {
      write(100)
      assert.equal(await rotateIfNeeded(cri, {id: 'c1', logPath: log}, {maxBytes: 8192, maxFiles: 3}, new Date(Date.UTC(2026, 11, 3, 10, 0, round))), true)
    }
    write(10)
    assert.equal(reopened.length, 5)
    const rotated = await rotatedLogs(log)
    assert.deepEqual(rotated.map((f) => path.basename(f)), ['0.log.20261203-100003.gz', '0.log.20261203-100004'])
    // The last lines, across the live file and the rotated ones (gzip included).
    const got = linesOf((await tailWithRotated(log, 150)).records).map((l) => l.text.split(' ').slice(0, 2).join(' '))
    assert.equal(got.length, 150)
    assert.equal(got[0], `line ${n - 150}`)
    assert.equal(got[149], `line ${n - 1}`)
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('a runtime that does not reopen gets its file back', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-rot-'))
  const log = path.join(dir, '0.log')
  fs.writeFileSync(log, line(1).repeat(200))
  const cri = {reopenContainerLog: async () => {
    throw new Error('not supported')
  }} as unknown as CriClient
  try {
    await assert.rejects(rotateIfNeeded(cri, {id: 'c1', logPath: log}, {maxBytes: 1024, maxFiles: 3}), /not supported/)
    assert.ok(fs.statSync(log).size > 1024)
    assert.deepEqual(await rotatedLogs(log), [])
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})

test('rotations in one second keep their files in order, and a line cut by a rotation is read whole', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-rot-'))
  const log = path.join(dir, '0.log')
  // As containerd does on a reopen: a line cut at the switch ends the old file as a partial record.
  const cri = {reopenContainerLog: async () => fs.writeFileSync(log, '')} as unknown as CriClient
  const t = (i: number) => `2026-12-03T10:00:00.${String(i).padStart(9, '0')}Z`
  try {
    const now = new Date(Date.UTC(2026, 11, 3, 10, 0, 5, 100))
    for (let round = 0; round < 4; round++) {
      fs.appendFileSync(log, `${t(round)} stdout F round ${round} ${'x'.repeat(2000)}\n${t(round)} stdout P head-${round}-\n`)
      assert.equal(await rotateIfNeeded(cri, {id: 'c1', logPath: log}, {maxBytes: 1024, maxFiles: 5}, now), true)
      fs.appendFileSync(log, `${t(round)} stdout F tail-${round}\n`)
    }
    fs.appendFileSync(log, `${t(9)} stdout F end\n`)
    const names = (await rotatedLogs(log)).map((f) => path.basename(f))
    assert.deepEqual(names, ['0.log.20261203-100005.gz', '0.log.20261203-100006.gz', '0.log.20261203-100007.gz', '0.log.20261203-100008'])
    const got = linesOf((await tailWithRotated(log, 3)).records).map((l) => l.text)
    assert.deepEqual(got, [`round 3 ${'x'.repeat(2000)}`, 'head-3-tail-3', 'end'])
    const all = linesOf((await tailWithRotated(log, 100)).records).map((l) => l.text.slice(0, 14))
    assert.deepEqual(all, ['round 0 xxxxxx', 'head-0-tail-0', 'round 1 xxxxxx', 'head-1-tail-1', 'round 2 xxxxxx', 'head-2-tail-2', 'round 3 xxxxxx', 'head-3-tail-3', 'end'])
  } finally {
    fs.rmSync(dir, {recursive: true, force: true})
  }
})
