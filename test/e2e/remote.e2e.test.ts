// Manifests from a URL against the real containerd: an HTTPS server on 127.0.0.1 with a CA made
// here (openssl), bodies signed with ssh-keygen -Y sign. apply -f https://... runs the pods; an
// unknown CA, plain http, a tampered body, a wrong key or no signature change nothing; two keys
// allow rotation; a privileged pod from a URL is refused under the default level.
//
// Needs: `bash scripts/runtime.sh up`, `eval "$(bash scripts/runtime.sh env)"`, `npm run build`.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type {AddressInfo} from 'node:net'
import os from 'node:os'
import path from 'node:path'
import {after, before, describe, it} from 'node:test'
import {connectCri, type CriClient} from '../../src/cri/client.js'
import {runPodrun, type Run} from '../support/cli.js'
import {makeSigningKey, makeTls, signText} from '../support/signed-https.js'

const endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT
const image = process.env.PODRUN_TEST_IMAGE
const ns = `e2e-remote-${process.pid}`
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-remote-'))
const env = {...process.env, PODRUN_ROOT: path.join(work, 'root'), PODRUN_LOG_ROOT: path.join(work, 'logs')}
const podrun = (...args: string[]): Promise<Run> => runPodrun(env, args, 120_000)
const f = (name: string) => path.join(work, name)

const pod = (name: string, extra = '') => `apiVersion: v1
kind: Pod
metadata: {name: ${name}, namespace: ${ns}}
spec:
  terminationGracePeriodSeconds: 0
${extra}  containers:
    - {name: main, image: ${image}, command: [sleep, '3600']}
`

const sign = (text: string, key: string): string => signText(work, text, key)

describe('manifests from an https URL, signed, against the real runtime', {concurrency: false, timeout: 180_000}, () => {
  let cri: CriClient
  let server: https.Server
  let plain: http.Server
  let base = ''
  const served = new Map<string, string>()
  const url = (p: string) => `${base}/${p}`

  before(async () => {
    assert.ok(endpoint && image, 'run `eval "$(bash scripts/runtime.sh env)"` after `bash scripts/runtime.sh up`')
    cri = await connectCri({endpoint})
    const tls = makeTls(work)
    for (const k of ['k1', 'k2']) makeSigningKey(work, k)
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const body = served.get((req.url ?? '').slice(1))
      if (body === undefined) return res.writeHead(404).end('not found\n')
      res.writeHead(200, {'content-type': 'application/yaml'}).end(body)
    }
    server = https.createServer({key: fs.readFileSync(tls.key), cert: fs.readFileSync(tls.cert)}, handler)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`
    plain = http.createServer(handler)
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r))
  })

  after(async () => {
    await podrun('delete', 'pods', '--all', '-n', ns, '--grace-period', '0')
    cri?.close()
    server?.close()
    plain?.close()
    fs.rmSync(work, {recursive: true, force: true})
  })

  const ca = () => ['--manifest-url-ca', f('ca.crt')]
  const running = async (name: string) => (await cri.listContainers({labelSelector: {'io.kubernetes.pod.namespace': ns, 'io.kubernetes.pod.name': name}, state: {state: 1}})).length

  it('apply -f https://...: refused without the CA, runs with it; plain http only with --allow-http', async () => {
    served.set('one.yaml', pod('remote-one'))
    const noCa = await podrun('validate', '-f', url('one.yaml'))
    assert.equal(noCa.code, 1)
    assert.match(noCa.stdout + noCa.stderr, /one\.yaml: .*(self-signed|unable to verify|certificate)/i)
    const r = await podrun('apply', '-f', url('one.yaml'), ...ca())
    assert.equal(r.code, 0, r.stdout + r.stderr)
    assert.equal(await running('remote-one'), 1)
    const httpUrl = `http://127.0.0.1:${(plain.address() as AddressInfo).port}/one.yaml`
    const refused = await podrun('validate', '-f', httpUrl)
    assert.equal(refused.code, 1)
    assert.match(refused.stdout + refused.stderr, /plain http is refused .*--allow-http/)
    assert.equal((await podrun('validate', '-f', httpUrl, '--allow-http')).code, 0)
  })

  it('--verify-key: a signed body runs; a tampered body, a wrong key or a missing signature change nothing; two keys allow rotation', async () => {
    const good = pod('remote-signed')
    served.set('signed.yaml', good)
    served.set('signed.yaml.sig', sign(good, 'k1'))
    const k1 = ['--verify-key', f('k1.pub')]
    const ok = await podrun('apply', '-f', url('signed.yaml'), ...ca(), ...k1)
    assert.equal(ok.code, 0, ok.stdout + ok.stderr)
    assert.equal(await running('remote-signed'), 1)
    // Tampered: a second pod slipped into the body, the old signature kept.
    served.set('signed.yaml', `${good}---\n${pod('remote-slipped')}`)
    const tampered = await podrun('apply', '-f', url('signed.yaml'), ...ca(), ...k1)
    assert.equal(tampered.code, 1)
    assert.match(tampered.stderr, /signature refused: the signature does not match the content/)
    assert.equal(await running('remote-slipped'), 0)
    // Signed by k2: refused with k1 alone, accepted with both (rotation).
    const next = pod('remote-signed', '  hostname: rotated\n')
    served.set('signed.yaml', next)
    served.set('signed.yaml.sig', sign(next, 'k2'))
    const wrongKey = await podrun('apply', '-f', url('signed.yaml'), ...ca(), ...k1)
    assert.equal(wrongKey.code, 1)
    assert.match(wrongKey.stderr, /signed by a key that is not one of --verify-key/)
    const rotated = await podrun('apply', '-f', url('signed.yaml'), ...ca(), ...k1, '--verify-key', f('k2.pub'))
    assert.equal(rotated.code, 0, rotated.stdout + rotated.stderr)
    served.delete('signed.yaml.sig')
    const unsigned = await podrun('validate', '-f', url('signed.yaml'), ...ca(), ...k1)
    assert.equal(unsigned.code, 1)
    assert.match(unsigned.stdout + unsigned.stderr, /no signature: .*signed\.yaml\.sig: HTTP 404/)
    // A local file is held to the same keys: FILE.sig beside it.
    fs.writeFileSync(f('local.yaml'), good)
    const local = await podrun('validate', '-f', f('local.yaml'), ...k1)
    assert.equal(local.code, 1)
    assert.match(local.stdout + local.stderr, /no signature: .*local\.yaml\.sig is missing \(sign with: ssh-keygen -Y sign -n podrun/)
    fs.writeFileSync(f('local.yaml.sig'), sign(good, 'k1'))
    assert.equal((await podrun('validate', '-f', f('local.yaml'), ...k1)).code, 0)
  })

  it('a privileged pod from a URL is refused under the default level', async () => {
    served.set('priv.yaml', pod('remote-priv', '  hostPID: true\n'))
    const r = await podrun('apply', '-f', url('priv.yaml'), ...ca())
    assert.equal(r.code, 1)
    assert.match(r.stderr, /priv\.yaml:\d+:\d+: spec\.hostPID: .*refused by --pod-security=baseline/)
    assert.equal(await running('remote-priv'), 0)
  })
})
