// What the tests of manifests from a URL need: a CA and a server certificate for 127.0.0.1 made
// with openssl, Ed25519 keys made with ssh-keygen, and bodies signed as an operator signs them
// (`ssh-keygen -Y sign -n podrun`).
import {execFileSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

/** Makes ca.crt, srv.key and srv.crt (for IP 127.0.0.1) in `dir`; returns their paths. */
export function makeTls(dir: string): {ca: string; key: string; cert: string} {
  const ossl = (...args: string[]) => execFileSync('openssl', args, {cwd: dir, stdio: 'pipe'})
  ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=podrun test CA', '-days', '1')
  ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=127.0.0.1')
  fs.writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
  ossl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1', '-extfile', 'san.ext')
  return {ca: path.join(dir, 'ca.crt'), key: path.join(dir, 'srv.key'), cert: path.join(dir, 'srv.crt')}
}

/** Makes an Ed25519 key pair `dir/name` and `dir/name.pub`. */
export function makeSigningKey(dir: string, name: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path.join(dir, name)])
}

let n = 0
/** Signs text with the key `dir/key`; returns the armored signature (what URL.sig serves). */
export function signText(dir: string, text: string, key: string): string {
  const file = path.join(dir, `to-sign-${process.pid}-${n++}.yaml`)
  fs.writeFileSync(file, text)
  execFileSync('ssh-keygen', ['-q', '-Y', 'sign', '-n', 'podrun', '-f', path.join(dir, key), file], {stdio: 'pipe'})
  return fs.readFileSync(`${file}.sig`, 'utf8')
}
