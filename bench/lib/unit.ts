// The daemon runs in benchmarks with the V8 flags its systemd unit sets (contrib/podrun.service),
// as on a device.
import fs from 'node:fs'
import path from 'node:path'

export function unitNodeOptions(root: string): string {
  return /^Environment=NODE_OPTIONS=(.*)$/m.exec(fs.readFileSync(path.join(root, 'contrib/podrun.service'), 'utf8'))?.[1] ?? ''
}
