// SSH signatures (ssh-keygen -Y sign) checked with Node's crypto: the podrun namespace, the key
// list, the content, and files that are not keys or signatures.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {after, describe, it} from 'node:test'
import {readVerifyKey, verifySignature} from '../../src/lib/signature.js'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podrun-sig-'))
after(() => fs.rmSync(dir, {recursive: true, force: true}))
const f = (n: string) => path.join(dir, n)
const keygen = (name: string, type = 'ed25519') => execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', f(name)])
const sign = (file: string, key: string, namespace = 'podrun') => {
  execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', namespace, '-f', f(key), file], {stdio: 'pipe'})
  return fs.readFileSync(`${file}.sig`, 'utf8')
}

describe('SSH signatures', () => {
  keygen('a')
  keygen('b')
  const a = readVerifyKey(f('a.pub'))
  const b = readVerifyKey(f('b.pub'))
  fs.writeFileSync(f('m.yaml'), 'kind: Pod\n')
  const msg = fs.readFileSync(f('m.yaml'))

  it('accepts a signature by one of the keys, and says which', () => {
    const r = verifySignature(msg, sign(f('m.yaml'), 'a'), [b, a])
    assert.ok(r.ok && r.key.name === f('a.pub'))
  })
  it('refuses another key, changed content, another namespace, and text that is no signature', () => {
    const sig = sign(f('m.yaml'), 'a')
    assert.deepEqual(verifySignature(msg, sig, [b]), {ok: false, why: 'signed by a key that is not one of --verify-key'})
    assert.match((verifySignature(Buffer.from('kind: Pod\nx: 1\n'), sig, [a]) as {why: string}).why, /does not match the content/)
    fs.writeFileSync(f('n.yaml'), 'kind: Pod\n')
    assert.match((verifySignature(msg, sign(f('n.yaml'), 'a', 'file'), [a]) as {why: string}).why, /namespace "file", not "podrun"/)
    assert.match((verifySignature(msg, 'hello', [a]) as {why: string}).why, /not an SSH signature/)
  })
  it('reads only ed25519 OpenSSH public keys, with a clear error otherwise', () => {
    keygen('r', 'rsa')
    assert.throws(() => readVerifyKey(f('r.pub')), /key type ssh-rsa is not supported/)
    fs.writeFileSync(f('junk.pub'), 'not a key\n')
    assert.throws(() => readVerifyKey(f('junk.pub')), /not an OpenSSH public key/)
  })
})
