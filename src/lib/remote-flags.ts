// How apply, diff and validate read `-f https://...` and what they require of a source's
// signature: the daemon's --manifest-url options, the same names.
import {Flags} from '@oclif/core'
import type {RemoteOptions} from '../manifest/remote.js'
import {ExitCode, PodrunError} from './errors.js'
import {readVerifyKey} from './signature.js'

export const remoteFlags = {
  'manifest-url-ca': Flags.string({summary: 'A PEM file of CA certificates trusted for https URLs, beside the system\'s (repeatable).', multiple: true}),
  'manifest-url-header': Flags.string({summary: 'A header sent with URL requests, "Name: value" (repeatable).', multiple: true}),
  'allow-http': Flags.boolean({summary: 'Read plain http URLs (anyone on the way could change the manifests).'}),
  'verify-key': Flags.string({
    summary: 'An OpenSSH ed25519 public key (KEY.pub): every file and URL must carry a valid signature by one of these keys, FILE.sig or URL.sig made with `ssh-keygen -Y sign -n podrun -f KEY FILE` (repeatable, for key rotation).',
    multiple: true,
  }),
}

const usage = (message: string): PodrunError => new PodrunError(message, {reason: 'Usage', exitCode: ExitCode.invalid})

export function remoteOptions(flags: {'manifest-url-ca'?: string[]; 'manifest-url-header'?: string[]; 'allow-http'?: boolean; 'verify-key'?: string[]}): RemoteOptions {
  const headers: Record<string, string> = {}
  for (const h of flags['manifest-url-header'] ?? []) {
    const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(h)
    if (!m) throw usage(`--manifest-url-header ${JSON.stringify(h)}: expected "Name: value"`)
    headers[m[1].toLowerCase()] = m[2]
  }
  const verifyKeys = (flags['verify-key'] ?? []).map((f) => {
    try {
      return readVerifyKey(f)
    } catch (e) {
      throw usage(`--verify-key ${(e as Error).message}`)
    }
  })
  return {caFiles: flags['manifest-url-ca'], headers, allowHttp: flags['allow-http'] ?? false, verifyKeys}
}
