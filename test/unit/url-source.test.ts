// A manifest URL as a daemon source, against an http server on 127.0.0.1 made here: conditional
// polls (304), edits, a body that is invalid or not signed (nothing changes), the last good copy on
// disk (a boot with the server down), back-off, and key rotation. The real containerd and HTTPS
// are in test/e2e/remote.e2e.test.ts.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {createLogger} from '../../src/daemon/log.js'
import {nextDelayMs, sourceName, UrlSource, type UrlSourceOptions} from '../../src/daemon/url-source.js'
import {readVerifyKey} from '../../src/lib/signature.js'
import {cacheFile} from '../../src/daemon/url-cache.js'

const log = createLogger({level: 'error', json: true, stream: {write: () => true}})
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-url-'))
after(() => fs.rmSync(dir, {recursive: true, force: true}))

const pod = (name: string, image = 'busybox:1.36', extra = '') =>
  `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: fleet}\nspec:\n  containers:\n  - name: main\n    image: ${image}\n${extra}`

/** The files the server serves, by path; requests and their conditional headers are recorded. */
const served = new Map<string, string>()
const requests: Array<{path: string; inm?: string; status: number}> = []
let down = false
const server = http.createServer((req, res) => {
  if (down) return void req.socket.destroy()
  const body = served.get(req.url ?? '')
  if (body === undefined) {
    requests.push({path: req.url ?? '', status: 404})
    return void res.writeHead(404).end()
  }
  const etag = `"${crypto.createHash('sha256').update(body).digest('hex').slice(0, 16)}"`
  const inm = req.headers['if-none-match']
  const status = inm === etag ? 304 : 200
  requests.push({path: req.url ?? '', inm, status})
  res.writeHead(status, {etag})
  res.end(status === 304 ? undefined : body)
})
let base = ''
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
after(
  () =>
    new Promise<void>((r) => {
      server.close(() => r())
      server.closeAllConnections()
    }),
)

const source = (p: string, o: Partial<UrlSourceOptions> = {}) =>
  new UrlSource(`${base}${p}`, {remote: {allowHttp: true, timeoutMs: 2000}, checkPeriodMs: 60_000, log, cacheRoot: path.join(dir, 'cache'), podSecurity: {enforce: 'baseline'}, ...o})
const podsOf = (s: UrlSource) => s.snapshot.pods.map((p) => `${p.key} ${(p.pod.spec as {containers: Array<{image: string}>}).containers[0].image}`)

describe('manifest URL source', () => {
  it('names a URL without its credentials or query', () => {
    assert.equal(sourceName('https://user:pw@h.example/a/b.yaml?token=s3cret#x'), 'https://h.example/a/b.yaml?…')
    assert.equal(sourceName('https://h.example/a.yaml'), 'https://h.example/a.yaml')
  })

  it('backs off exponentially with jitter, capped at 5 minutes', () => {
    assert.equal(nextDelayMs(20_000, 0, () => 0.5), 20_000)
    assert.equal(nextDelayMs(20_000, 1, () => 0.5), 40_000)
    assert.equal(nextDelayMs(20_000, 10, () => 0.5), 300_000)
    assert.equal(nextDelayMs(20_000, 1, () => 0), 32_000)
    assert.equal(nextDelayMs(20_000, 1, () => 1), 48_000)
  })

  it('polls: pods from the body, a 304 when unchanged, an edit rolls in, an invalid body changes nothing', async () => {
    served.set('/a.yaml', pod('web') + '---\n' + pod('db'))
    const s = source('/a.yaml')
    let changes = 0
    s.start(() => changes++)
    try {
      for (let i = 0; i < 200 && changes === 0; i++) await new Promise((r) => setTimeout(r, 10))
      const r = await s.reload()
      assert.ok(r.changed)
      assert.deepEqual(podsOf(s), ['fleet/web busybox:1.36', 'fleet/db busybox:1.36'])
      assert.equal(s.snapshot.pods[0].source, `${base}/a.yaml`)
      assert.equal(changes, 1)
      // Unchanged: a conditional request answered 304, and nothing to read again.
      assert.equal(await s.poll(), 'not-modified', JSON.stringify(requests))
      assert.equal(requests.at(-1)!.status, 304)
      assert.equal((await s.reload()).read, false)
      // An edit on the server.
      served.set('/a.yaml', pod('web', 'busybox:1.37'))
      assert.equal(await s.poll(), 'changed')
      const r2 = await s.reload()
      assert.deepEqual(r2.changes.map((c) => c.kind), ['changed'])
      assert.deepEqual(podsOf(s), ['fleet/web busybox:1.37'])
      // An invalid body: its pods stay at the last good version, the error is reported.
      served.set('/a.yaml', pod('web', 'busybox:1.38', '    ports: [{containerPort: 99999}]\n'))
      assert.equal(await s.poll(), 'changed')
      const r3 = await s.reload()
      assert.equal(r3.changes[0].kind, 'invalid')
      assert.deepEqual(podsOf(s), ['fleet/web busybox:1.37'])
      assert.match(s.info().errors[0], /containerPort/)
      // A privileged pod is refused under the URL's level (baseline).
      served.set('/a.yaml', pod('web', 'busybox:1.38', '    securityContext: {privileged: true}\n'))
      await s.poll()
      await s.reload()
      assert.deepEqual(podsOf(s), ['fleet/web busybox:1.37'])
      assert.match(s.info().errors.join('\n'), /privileged/)
      // An empty body (a server's fault, more likely than an order) changes nothing; an empty List does.
      served.set('/a.yaml', '# nothing\n\n')
      await s.poll()
      await s.reload()
      assert.deepEqual(podsOf(s), ['fleet/web busybox:1.37'])
      assert.match(s.info().errors[0], /the body is empty: refused/)
      // The last good copy on disk is the 1.37 one, with its ETag.
      const cached = JSON.parse(fs.readFileSync(cacheFile(`${base}/a.yaml`, path.join(dir, 'cache')), 'utf8'))
      assert.match(cached.body, /busybox:1.37/)
      assert.ok(cached.etag)
      served.set('/a.yaml', 'apiVersion: v1\nkind: List\nitems: []\n')
      await s.poll()
      await s.reload()
      assert.deepEqual(podsOf(s), [])
      assert.deepEqual(s.info().errors, [])
    } finally {
      await s.stop()
    }
  })

  it('boots from the last good copy while the server is down, says so, and backs off', async () => {
    served.set('/b.yaml', pod('cache-me'))
    const first = source('/b.yaml')
    await first.poll()
    await first.reload()
    void first.stop()
    down = true
    try {
      const s = source('/b.yaml', {random: () => 0.5})
      await s.reload()
      assert.deepEqual(podsOf(s), ['fleet/cache-me busybox:1.36'])
      assert.equal(s.info().fromCache, true)
      assert.equal(await s.poll(), 'error')
      assert.equal(await s.poll(), 'error')
      const info = s.info()
      assert.equal(info.failures, 2)
      assert.ok(info.lastError)
      assert.ok(Date.parse(info.nextFetch!) - Date.now() > 200_000, `back-off after 2 failures: ${info.nextFetch}`)
      assert.deepEqual(podsOf(s), ['fleet/cache-me busybox:1.36'])
      // The server back, unchanged: a 304 against the cached copy's ETag, and no longer from cache.
      down = false
      assert.equal(await s.poll(), 'not-modified')
      assert.equal(s.info().fromCache, false)
      assert.equal(s.info().failures, 0)
      await s.stop()
    } finally {
      down = false
    }
  })

  it('without a cached copy and without the server, holds its pods (source error), runs none', async () => {
    down = true
    try {
      const s = source('/never.yaml')
      assert.equal(await s.poll(), 'error')
      const r = await s.reload()
      assert.equal(r.snapshot.dirErrors.length, 1)
      assert.match(r.snapshot.dirErrors[0].message, /not fetched yet/)
      assert.deepEqual(podsOf(s), [])
      await s.stop()
    } finally {
      down = false
    }
  })

  describe('with --verify-key', () => {
    const keygen = (name: string) => execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(dir, name)])
    const sign = (text: string, key: string) => {
      const f = path.join(dir, `msg-${crypto.randomUUID()}`)
      fs.writeFileSync(f, text)
      execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', 'podrun', '-f', path.join(dir, key), f], {stdio: 'pipe'})
      return fs.readFileSync(`${f}.sig`, 'utf8')
    }
    before(() => {
      keygen('old')
      keygen('new')
      keygen('other')
    })

    it('takes a body signed by one of the keys; refuses unsigned, tampered and other-key bodies without changing anything; rotates keys', async () => {
      const keys = [readVerifyKey(path.join(dir, 'old.pub')), readVerifyKey(path.join(dir, 'new.pub'))]
      const s = source('/s.yaml', {remote: {allowHttp: true, verifyKeys: keys, timeoutMs: 2000}})
      // Unsigned: refused, nothing runs.
      served.set('/s.yaml', pod('signed'))
      served.delete('/s.yaml.sig')
      assert.equal(await s.poll(), 'refused')
      let r = await s.reload()
      assert.equal(r.changes[0].kind, 'invalid')
      assert.match(s.info().errors[0], /\/s\.yaml: no signature/)
      assert.deepEqual(podsOf(s), [])
      // The .sig appears for the same body: taken.
      served.set('/s.yaml.sig', sign(pod('signed'), 'old'))
      assert.equal(await s.poll(), 'changed')
      await s.reload()
      assert.deepEqual(podsOf(s), ['fleet/signed busybox:1.36'])
      // Tampered (the body changed, the signature did not): refused, the pod stays as it was.
      served.set('/s.yaml', pod('signed', 'evil:1'))
      assert.equal(await s.poll(), 'refused')
      r = await s.reload()
      assert.equal(r.changes[0].kind, 'invalid')
      assert.equal((r.changes[0] as {errors: Array<{code?: string}>}).errors[0].code, 'unsigned')
      assert.match(s.info().errors[0], /does not match the content/)
      assert.deepEqual(podsOf(s), ['fleet/signed busybox:1.36'])
      // Signed by a key not given: refused.
      served.set('/s.yaml.sig', sign(pod('signed', 'evil:1'), 'other'))
      assert.equal(await s.poll(), 'refused')
      await s.reload()
      assert.match(s.info().errors[0], /not one of --verify-key/)
      assert.deepEqual(podsOf(s), ['fleet/signed busybox:1.36'])
      // Rotation: the new key signs the next version.
      served.set('/s.yaml', pod('signed', 'busybox:1.37'))
      served.set('/s.yaml.sig', sign(pod('signed', 'busybox:1.37'), 'new'))
      assert.equal(await s.poll(), 'changed')
      await s.reload()
      assert.deepEqual(podsOf(s), ['fleet/signed busybox:1.37'])
      assert.deepEqual(s.info().errors, [])
      await s.stop()
      // A daemon that no longer trusts the old key... still runs the cached copy signed by the new one;
      const onlyNew = source('/s.yaml', {remote: {allowHttp: true, verifyKeys: [keys[1]], timeoutMs: 2000}})
      await onlyNew.reload()
      assert.deepEqual(podsOf(onlyNew), ['fleet/signed busybox:1.37'])
      // ...and one that trusts only the old key does not use that copy at all.
      const onlyOld = source('/s.yaml', {remote: {allowHttp: true, verifyKeys: [keys[0]], timeoutMs: 2000}})
      await onlyOld.reload()
      assert.deepEqual(podsOf(onlyOld), [])
      assert.equal(onlyOld.info().fromCache, false)
    })
  })
})

describe('manifest URL source, stopping and secrets', () => {
  it('stops at once while a fetch hangs, and never shows the URL\'s token', async () => {
    const hang = http.createServer(() => undefined) // answers nothing
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', () => r()))
    const at = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/x.yaml?token=s3cret`
    const s = new UrlSource(at, {remote: {allowHttp: true, timeoutMs: 30_000}, checkPeriodMs: 60_000, log, cacheRoot: path.join(dir, 'cache')})
    try {
      s.start(() => undefined)
      await new Promise((r) => setTimeout(r, 200))
      const t0 = Date.now()
      await s.stop()
      assert.ok(Date.now() - t0 < 2000, `stopped in ${Date.now() - t0} ms`)
      const s2 = new UrlSource(at.replace(/\/x\.yaml/, '/missing.yaml'), {remote: {allowHttp: true, timeoutMs: 300}, checkPeriodMs: 60_000, log, cacheRoot: path.join(dir, 'cache')})
      assert.equal(await s2.poll(), 'error')
      await s2.stop()
      const info = JSON.stringify(s2.info())
      assert.ok(!info.includes('s3cret'), info)
      assert.match(info, /missing\.yaml\?…/)
    } finally {
      hang.closeAllConnections()
      hang.close()
    }
  })
})
