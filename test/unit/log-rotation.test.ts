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
