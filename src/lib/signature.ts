// Detached signatures made by OpenSSH (`ssh-keygen -Y sign -n podrun -f KEY FILE` writes
// FILE.sig), checked against OpenSSH public keys (`ssh-ed25519 AAAA... comment`, the .pub file).
// The armored SSHSIG format is unpacked here; the verification itself is Node's crypto (Ed25519).
// podrun accepts Ed25519 keys: what `ssh-keygen -t ed25519` makes, and what operators sign with.
import crypto from 'node:crypto'
import fs from 'node:fs'

/** The namespace operators sign with (`-n podrun`): a signature made for something else does not count. */
export const SIGNATURE_NAMESPACE = 'podrun'
const MAGIC = Buffer.from('SSHSIG')

export interface VerifyKey {
  /** Where it came from, for messages. */
  name: string
  key: crypto.KeyObject
  /** The key's SSH wire form, to match the one a signature names. */
  blob: Buffer
}

class Reader {
  private at = 0
  constructor(private readonly buf: Buffer) {}
  bytes(n: number): Buffer {
    if (this.at + n > this.buf.length) throw new Error('truncated')
    const b = this.buf.subarray(this.at, this.at + n)
    this.at += n
    return b
  }
  u32(): number {
    return this.bytes(4).readUInt32BE(0)
  }
  string(): Buffer {
    return this.bytes(this.u32())
  }
  get done(): boolean {
    return this.at === this.buf.length
  }
}

const sshString = (b: Buffer | string): Buffer => {
  const body = typeof b === 'string' ? Buffer.from(b) : b
  const len = Buffer.alloc(4)
  len.writeUInt32BE(body.length)
  return Buffer.concat([len, body])
}

function ed25519Key(blob: Buffer): crypto.KeyObject {
  const r = new Reader(blob)
  const type = r.string().toString()
  if (type !== 'ssh-ed25519') throw new Error(`key type ${type} is not supported (podrun verifies ssh-ed25519 keys)`)
  const raw = r.string()
  if (raw.length !== 32 || !r.done) throw new Error('malformed ssh-ed25519 key')
  return crypto.createPublicKey({key: {kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url')}, format: 'jwk'})
}

/** Reads a public key file: one `ssh-ed25519 BASE64 [comment]` line (an OpenSSH .pub file). */
export function readVerifyKey(file: string): VerifyKey {
  const text = fs.readFileSync(file, 'utf8')
  const line = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'))
  const m = line && /^(\S+)\s+([A-Za-z0-9+/=]+)(?:\s+.*)?$/.exec(line)
  if (!m) throw new Error(`${file}: not an OpenSSH public key (expected "ssh-ed25519 AAAA... comment", as ssh-keygen writes KEY.pub)`)
  const blob = Buffer.from(m[2], 'base64')
  let type = ''
  try {
    type = new Reader(blob).string().toString()
  } catch {
    // not the wire form of a key
  }
  if (type !== m[1]) throw new Error(`${file}: not an OpenSSH public key (expected "ssh-ed25519 AAAA... comment", as ssh-keygen writes KEY.pub)`)
  try {
    return {name: file, key: ed25519Key(blob), blob}
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`)
  }
}

/** Why `signature` does not make `message` count ("signature refused: ..."), or undefined when it does. */
export function signatureProblem(message: Buffer, signature: string, keys: VerifyKey[]): string | undefined {
  const v = verifySignature(message, signature, keys)
  return v.ok ? undefined : `signature refused: ${v.why}`
}

/**
 * Whether `signature` (the armored text ssh-keygen -Y sign writes) is a valid signature of
 * `message` under the podrun namespace by one of `keys`. Returns the key that signed, or why not.
 */
export function verifySignature(message: Buffer, signature: string, keys: VerifyKey[]): {ok: true; key: VerifyKey} | {ok: false; why: string} {
  const m = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(signature)
  if (!m) return {ok: false, why: 'not an SSH signature (expected the armored text of ssh-keygen -Y sign)'}
  try {
    const r = new Reader(Buffer.from(m[1].replace(/\s+/g, ''), 'base64'))
    if (!r.bytes(6).equals(MAGIC)) return {ok: false, why: 'not an SSH signature'}
    if (r.u32() !== 1) return {ok: false, why: 'unsupported SSH signature version'}
    const publicKey = r.string()
    const namespace = r.string().toString()
    const reserved = r.string()
    const hashAlg = r.string().toString()
    const sigBlob = r.string()
    if (namespace !== SIGNATURE_NAMESPACE) return {ok: false, why: `signed for namespace "${namespace}", not "${SIGNATURE_NAMESPACE}" (sign with -n ${SIGNATURE_NAMESPACE})`}
    if (hashAlg !== 'sha512' && hashAlg !== 'sha256') return {ok: false, why: `unsupported hash ${hashAlg}`}
    const key = keys.find((k) => k.blob.equals(publicKey))
    if (!key) return {ok: false, why: 'signed by a key that is not one of --verify-key'}
    const sr = new Reader(sigBlob)
    const sigType = sr.string().toString()
    const sig = sr.string()
    if (sigType !== 'ssh-ed25519') return {ok: false, why: `signature type ${sigType} is not supported`}
    const digest = crypto.createHash(hashAlg).update(message).digest()
    const signed = Buffer.concat([MAGIC, sshString(namespace), sshString(reserved), sshString(hashAlg), sshString(digest)])
    return crypto.verify(null, signed, key.key, sig) ? {ok: true, key} : {ok: false, why: `the signature does not match the content (signed by ${key.name}, but the content changed)`}
  } catch (e) {
    return {ok: false, why: `malformed SSH signature (${(e as Error).message})`}
  }
}
