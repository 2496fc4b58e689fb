// Container image references (the grammar of github.com/distribution/reference, which the runtime
// applies when it pulls), and the image pull policy Kubernetes defaults from them.

const ALNUM = '[a-z0-9]+'
const SEPARATOR = '(?:[._]|__|[-]+)'
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:]+\\])(?::[0-9]+)?`
const TAG = '[\\w][\\w.-]{0,127}'
const DIGEST = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}'
const REFERENCE = new RegExp(`^((?:${DOMAIN}/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*)(?::(${TAG}))?(?:@(${DIGEST}))?$`)

export interface ImageRef {
  name: string
  tag?: string
  digest?: string
}

/** Parses an image reference; returns an explanation instead when it is not valid. */
export function parseImageRef(image: string): ImageRef | string {
  if (image.length === 0) return 'must not be empty'
  if (image.trim() !== image) return 'must not have leading or trailing spaces'
  const m = REFERENCE.exec(image)
  if (!m) {
    if (/[A-Z]/.test(image.split(/[:@]/)[0].split('/').slice(-1)[0] ?? '')) {
      return `"${image}" is not a valid image reference: repository names must be lowercase`
    }
    return `"${image}" is not a valid image reference (expected [registry/]repository[:tag][@digest], e.g. "nginx:1.27" or "registry.k8s.io/pause:3.9")`
  }
  if (m[1].length > 255) return 'repository name must be no more than 255 characters'
  return {name: m[1], tag: m[2], digest: m[3]}
}

/** Kubernetes' default: Always for ":latest" or no tag (unless pinned by digest), IfNotPresent otherwise. */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  const ref = parseImageRef(image)
  if (typeof ref === 'string') return 'IfNotPresent'
  if (ref.tag === 'latest') return 'Always'
  if (ref.tag === undefined && ref.digest === undefined) return 'Always'
  return 'IfNotPresent'
}
