// The pod's /etc/hosts, as the kubelet writes it: localhost entries, the pod's own IP with its
// hostname (and the fully qualified name when it has a subdomain), then the pod's hostAliases. A
// pod on the host network gets the host's /etc/hosts with its hostAliases after it. Written into
// the pod's folder atomically and mounted into each container, unless the container mounts
// something of its own at /etc/hosts.
import fs from 'node:fs/promises'
import path from 'node:path'
import type {Pod} from 'kubernetes-types/core/v1.js'

export const HOSTS_PATH = '/etc/hosts'

export function hostsFileContent(pod: Pod, podIP: string, hostHosts?: string): string {
  const spec = pod.spec ?? {containers: []}
  const aliases = (spec.hostAliases ?? []).filter((a) => a.ip && (a.hostnames ?? []).length > 0)
  const aliasLines = aliases.length > 0 ? `\n# Entries added by HostAliases.\n${aliases.map((a) => `${a.ip}\t${(a.hostnames ?? []).join('\t')}`).join('\n')}\n` : ''
  if (spec.hostNetwork) return `${hostHosts ?? ''}${hostHosts && !hostHosts.endsWith('\n') ? '\n' : ''}${aliasLines}`
  const hostname = spec.hostname ?? pod.metadata?.name ?? ''
  const names = spec.subdomain ? `${hostname}.${spec.subdomain}.${pod.metadata?.namespace ?? 'default'}.svc.cluster.local\t${hostname}` : hostname
  return (
    '# Kubernetes-managed hosts file (podrun).\n' +
    '127.0.0.1\tlocalhost\n' +
    '::1\tlocalhost ip6-localhost ip6-loopback\n' +
    'fe00::0\tip6-localnet\n' +
    'fe00::0\tip6-mcastprefix\n' +
    'fe00::1\tip6-allnodes\n' +
    'fe00::2\tip6-allrouters\n' +
    (podIP ? `${podIP}\t${names}\n` : '') +
    aliasLines
  )
}

/** Writes the pod's hosts file into its folder (atomically) and returns its path. */
export async function writeHostsFile(dir: string, pod: Pod, podIP: string): Promise<string> {
  const hostHosts = pod.spec?.hostNetwork ? await fs.readFile('/etc/hosts', 'utf8').catch(() => '') : undefined
  const file = path.join(dir, 'etc-hosts')
  const tmp = `${file}.tmp`
  await fs.mkdir(dir, {recursive: true, mode: 0o750})
  await fs.writeFile(tmp, hostsFileContent(pod, podIP, hostHosts), {mode: 0o644})
  await fs.rename(tmp, file)
  return file
}
