// CRI log files read as kubectl shows them: partial lines joined, the last N lines from the end,
// and a follow that goes on across a rotation.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {followFile, linesOf, tailRecords, type LogLine} from '../../src/reconcile/container-logs.js'
import {parseSelector} from '../../src/lib/selector.js'

const rec = (i: number, text: string, tag = 'F', stream = 'stdout') => `2026-12-03T10:00:${String(i % 60).padStart(2, '0')}.${String(i).padStart(9, '0')}Z ${stream} ${tag} ${text}\n`

function tmp(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-logs-'))
}

test('partial records are joined into one line; the last N lines come from the end, a half-written record left out', async () => {
  const dir = tmp()
  const f = path.join(dir, '0.log')
  fs.writeFileSync(f, rec(1, 'one') + rec(2, 'tw', 'P') + rec(3, 'o') + rec(4, 'three', 'F', 'stderr') + '2026-12-03T10:00:05Z stdout F unfinish')
  const all = await tailRecords(f, Infinity)
  assert.deepEqual(linesOf(all.records).map((l) => [l.stream, l.text]), [['stdout', 'one'], ['stdout', 'two'], ['stderr', 'three']])
  assert.equal(all.end, fs.statSync(f).size - '2026-12-03T10:00:05Z stdout F unfinish'.length)
  assert.deepEqual(linesOf((await tailRecords(f, 2)).records).map((l) => l.text), ['two', 'three'])
  assert.deepEqual(linesOf((await tailRecords(f, 0)).records), [])
  fs.rmSync(dir, {recursive: true})
})

test('the tail of a file larger than a read chunk is exact', async () => {
  const dir = tmp()
  const f = path.join(dir, '0.log')
  const lines = Array.from({length: 20_000}, (_, i) => rec(i, `line ${i} ${'x'.repeat(i % 50)}`))
  fs.writeFileSync(f, lines.join(''))
  const got = linesOf((await tailRecords(f, 1500)).records).map((l) => l.text)
  assert.equal(got.length, 1500)
  assert.equal(got[0], `line 18500 ${'x'.repeat(18500 % 50)}`)
  assert.equal(got[1499], `line 19999 ${'x'.repeat(19999 % 50)}`)
  fs.rmSync(dir, {recursive: true})
})

test('a follow sees new lines, reads a rotated file to its end, then goes on with the new one', async () => {
  const dir = tmp()
  const f = path.join(dir, '0.log')
  fs.writeFileSync(f, rec(1, 'before'))
  const seen: string[] = []
  const stop = new AbortController()
  const done = followFile(f, fs.statSync(f).size, (l: LogLine) => seen.push(l.text), {signal: stop.signal, pollMs: 20})
  const until = async (n: number) => {
    for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 10))
  }
  fs.appendFileSync(f, rec(2, 'a') + rec(3, 'b', 'P'))
  fs.appendFileSync(f, rec(4, 'c'))
  await until(2)
  // Rotation: more written to the old file, then it is renamed and a new one begins.
  fs.appendFileSync(f, rec(5, 'last of old'))
  fs.renameSync(f, `${f}.20261203-100005`)
  fs.writeFileSync(f, rec(6, 'first of new'))
  await until(4)
  stop.abort()
  await done
  assert.deepEqual(seen, ['a', 'bc', 'last of old', 'first of new'])
  fs.rmSync(dir, {recursive: true})
})

test('label selectors as kubectl takes them', () => {
  const l = {app: 'web', tier: 'front', env: 'prod'}
  assert.ok(parseSelector('app=web')(l))
  assert.ok(parseSelector('app==web,tier!=db')(l))
  assert.ok(parseSelector('env in (prod, staging),!legacy,tier')(l))
  assert.ok(!parseSelector('env notin (prod)')(l))
  assert.ok(!parseSelector('app=db')(l))
  assert.ok(!parseSelector('app')(undefined))
  assert.throws(() => parseSelector('app=~web'), /unable to parse the selector/)
})
