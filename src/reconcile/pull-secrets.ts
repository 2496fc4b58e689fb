// Registry credentials from a pod's imagePullSecrets, matched to an image as the kubelet's keyring
// matches them: Secrets of type kubernetes.io/dockerconfigjson (`.dockerconfigjson`, {"auths":
// {...}}) or kubernetes.io/dockercfg (`.dockercfg`, the map itself); each key is a registry host
// (globs allowed per label, `*.example.com`), an optional port and an optional path prefix, with
// or without a scheme; Docker Hub's `https://index.docker.io/v1/` and `docker.io` name the same
// registry. Every matching entry is returned, most specific first; the puller tries them in turn.
import type {Pod} from 'kubernetes-types/core/v1.js'
import type {AuthConfig} from '../cri/types.js'
import type {DataLookup} from './container-config.js'

const DOCKER_HUB = 'index.docker.io'

interface Location {
  host: string
  port: string
  path: string
}

/** Where an image lives: registry host, port and repository path (Docker Hub when no registry is named). */
export function imageLocation(image: string): Location {
  const name = image.split('@')[0].replace(/:[\w][\w.-]*$/, '')
  const first = name.split('/')[0]
  const hasRegistry = name.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')
  if (!hasRegistry) return {host: DOCKER_HUB, port: '', path: name.includes('/') ? name : `library/${name}`}
  const [host, port = ''] = first.split(':')
  return {host: host === 'docker.io' ? DOCKER_HUB : host, port, path: name.slice(first.length + 1)}
}

/** A credentials key, read as the kubelet reads it (scheme and trailing slash dropped). */
export function keyLocation(key: string): Location {
  const rest = key.replace(/^[a-z]+:\/\//i, '')
  const slash = rest.indexOf('/')
  const hostport = slash < 0 ? rest : rest.slice(0, slash)
  let p = slash < 0 ? '' : rest.slice(slash + 1).replace(/\/+$/, '')
  const [h, port = ''] = hostport.split(':')
  const host = h === 'docker.io' ? DOCKER_HUB : h
  if (host === DOCKER_HUB && (p === 'v1' || p === 'v2')) p = ''
  return {host, port, path: p}
}

const globLabel = (pattern: string, label: string): boolean =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^.]*')}$`, 'i').test(label)

export function keyMatches(key: Location, image: Location): boolean {
  const kl = key.host.split('.')
  const il = image.host.split('.')
  if (kl.length !== il.length || !kl.every((l, i) => globLabel(l, il[i]))) return false
  if (key.port !== image.port) return false
  return key.path === '' || image.path === key.path || image.path.startsWith(`${key.path}/`)
}

interface DockerEntry {
  username?: string
  password?: string
  auth?: string
  identitytoken?: string
  registrytoken?: string
}

/** The entries of one Secret's registry config, or none when it holds none (or is not JSON). */
function entriesOf(data: Record<string, string>): Record<string, DockerEntry> {
  try {
    if (data['.dockerconfigjson'] !== undefined) return (JSON.parse(data['.dockerconfigjson']) as {auths?: Record<string, DockerEntry>}).auths ?? {}
    if (data['.dockercfg'] !== undefined) return JSON.parse(data['.dockercfg']) as Record<string, DockerEntry>
  } catch {
    // Validation already reported it; a pull without these credentials says the rest.
  }
  return {}
}

function authOf(key: string, e: DockerEntry): AuthConfig {
  let {username = '', password = ''} = e
  if (!username && e.auth) {
    const text = Buffer.from(e.auth, 'base64').toString('utf8')
    const colon = text.indexOf(':')
    if (colon > 0) [username, password] = [text.slice(0, colon), text.slice(colon + 1)]
  }
  return {username, password, auth: '', serverAddress: key, identityToken: e.identitytoken ?? '', registryToken: e.registrytoken ?? ''}
}

/** The credentials a pod's imagePullSecrets hold for `image`, most specific key first. */
export function pullCredentials(pod: Pod, image: string, data: DataLookup): AuthConfig[] {
  const where = imageLocation(image)
  const ns = pod.metadata?.namespace ?? 'default'
  const found: Array<{rank: number; auth: AuthConfig}> = []
  for (const ref of pod.spec?.imagePullSecrets ?? []) {
    const secret = ref.name ? data('Secret', ns, ref.name) : undefined
    if (!secret) continue
    for (const [key, entry] of Object.entries(entriesOf(secret))) {
      const k = keyLocation(key)
      if (keyMatches(k, where)) found.push({rank: k.path.length * 2 + (k.host.includes('*') ? 0 : 1), auth: authOf(key, entry)})
    }
  }
  return found.sort((a, b) => b.rank - a.rank).map((f) => f.auth)
}
