// The daemon's log lines: JSON for machines, readable on a terminal, filtered by level; and the
// daemon's options (durations, defaults).
import assert from 'node:assert/strict'
import path from 'node:path'
import {describe, it} from 'node:test'
import {createLogger} from '../../src/daemon/log.js'
import {defaultOptions} from '../../src/daemon/options.js'

const at = () => new Date('2026-01-02T03:04:05.678Z')

function capture(opts: Parameters<typeof createLogger>[0]) {
  const lines: string[] = []
  const log = createLogger({now: at, ...opts, stream: {write: (s: string) => lines.push(s), isTTY: opts?.stream?.isTTY}})
  return {log, lines}
}

describe('daemon log', () => {
  it('writes one JSON object per line when not on a terminal, bigints and errors as text', () => {
    const {log, lines} = capture({})
    log.info('pod created', {pod: 'default/web', n: 3, big: 10n ** 19n, err: new Error('boom')})
    assert.equal(lines.length, 1)
    assert.ok(lines[0].endsWith('\n'))
    assert.deepEqual(JSON.parse(lines[0]), {ts: '2026-01-02T03:04:05.678Z', level: 'info', msg: 'pod created', pod: 'default/web', n: 3, big: '10000000000000000000', err: 'boom'})
  })

  it('writes readable lines on a terminal', () => {
    const {log, lines} = capture({stream: {write: () => true, isTTY: true}})
    log.warn('manifest invalid', {file: '/etc/podrun/manifests/web.yaml', errors: ['web.yaml:3:1: bad'], note: 'two words'})
    assert.equal(lines[0], '03:04:05.678 WARN  manifest invalid  file=/etc/podrun/manifests/web.yaml errors=["web.yaml:3:1: bad"] note="two words"\n')
  })

  it('drops what is below --log-level', () => {
    const {log, lines} = capture({level: 'warn'})
    log.debug('d')
    log.info('i')
    log.warn('w')
    log.error('e')
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).level),
      ['warn', 'error'],
    )
    assert.equal(log.enabled('info'), false)
    assert.equal(log.enabled('error'), true)
  })
})

describe('daemon options', () => {
  it('defaults as the issue says: 10 s resync, 1 s relist, back-off 10 s to 5 min reset after 10 min', () => {
    const o = defaultOptions()
    // No folder unless asked for: a daemon without --manifest-dir supervises applied pods only.
    assert.equal(o.manifestDir, undefined)
    assert.equal(defaultOptions({manifestDir: 'm'}).manifestDir, path.resolve('m'))
    assert.equal(o.stateDir, '/run/podrun')
    assert.equal(o.resyncMs, 10_000)
    assert.equal(o.relistMs, 1_000)
    assert.deepEqual(o.backoff, {initialMs: 10_000, maxMs: 300_000, resetMs: 600_000})
    assert.equal(o.stopPodsOnExit, false)
  })
})
