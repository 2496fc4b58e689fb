// The name and value formats Kubernetes' API validation enforces (k8s.io/apimachinery
// pkg/util/validation), as functions returning a message, or undefined when the value is fine.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/
/** Kubernetes 1.30 (before relaxed env var names in 1.32+). */
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/
const CONFIG_MAP_KEY = /^[-._a-zA-Z0-9]+$/

export function dns1123Label(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  if (value.length > 63) return `must be no more than 63 characters (it has ${value.length})`
  if (!DNS1123_LABEL.test(value)) {
    return 'must be a DNS-1123 label: lowercase letters, digits and "-", starting and ending with a letter or digit (e.g. "my-name")'
  }
  return undefined
}

export function dns1123Subdomain(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  if (value.length > 253) return `must be no more than 253 characters (it has ${value.length})`
  if (!DNS1123_SUBDOMAIN.test(value)) {
    return 'must be a DNS-1123 subdomain: lowercase letters, digits, "-" and ".", starting and ending with a letter or digit (e.g. "example.com")'
  }
  return undefined
}

/** Label and annotation keys: an optional DNS subdomain prefix and "/", then a name of at most 63 characters. */
export function qualifiedName(value: string): string | undefined {
  const parts = value.split('/')
  let name = value
  if (parts.length > 2) return 'must be a name with an optional DNS subdomain prefix and "/" (e.g. "example.com/my-name")'
  if (parts.length === 2) {
    const prefixProblem = dns1123Subdomain(parts[0])
    if (prefixProblem) return `prefix "${parts[0]}" ${prefixProblem}`
    name = parts[1]
  }
  if (name.length === 0) return 'name part must not be empty'
  if (name.length > 63) return `name part must be no more than 63 characters (it has ${name.length})`
  if (!QUALIFIED_NAME_PART.test(name)) {
    return 'name part must consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit'
  }
  return undefined
}

export function labelValue(value: string): string | undefined {
  if (value.length > 63) return `must be no more than 63 characters (it has ${value.length})`
  if (!LABEL_VALUE.test(value)) return 'must be empty or consist of letters, digits, "-", "_" or ".", starting and ending with a letter or digit'
  return undefined
}

export function ianaServiceName(value: string): string | undefined {
  if (value.length > 15) return `must be no more than 15 characters (it has ${value.length})`
  if (!IANA_SVC_NAME.test(value)) return 'must contain only lowercase letters, digits and "-", starting and ending with a letter or digit'
  if (value.includes('--')) return 'must not contain consecutive hyphens'
  if (!/[a-z]/.test(value)) return 'must contain at least one letter'
  return undefined
}

export function envVarName(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  if (!ENV_VAR_NAME.test(value)) {
    return 'must consist of letters, digits, "_", "-" or ".", and must not start with a digit (e.g. "MY_VAR")'
  }
  return undefined
}

export function configMapKey(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  if (value.length > 253) return `must be no more than 253 characters (it has ${value.length})`
  if (!CONFIG_MAP_KEY.test(value)) return 'must consist of letters, digits, "-", "_" or "." (e.g. "key.name")'
  if (value === '.' || value === '..') return `must not be "${value}"`
  if (value.startsWith('..')) return 'must not start with ".."'
  return undefined
}

/** A relative file path inside a volume: not absolute, no ".." element. */
export function relativePath(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty'
  if (value.startsWith('/')) return 'must be a relative path (it starts with "/")'
  if (value.split('/').includes('..')) return 'must not contain ".." (it would point outside the volume)'
  return undefined
}

/** A path that must not step back out of where it is placed. */
export function noBacksteps(value: string): string | undefined {
  if (value.split('/').includes('..')) return 'must not contain ".."'
  return undefined
}

export function ipAddress(value: string): boolean {
  const v4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/
  if (v4.test(value)) return true
  if (!/^[0-9a-fA-F:.]+$/.test(value) || !value.includes(':')) return false
  const halves = value.split('::')
  if (halves.length > 2) return false
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'))
  const all = [...groups(halves[0]), ...(halves.length === 2 ? groups(halves[1]) : [])]
  let count = 0
  for (const [i, g] of all.entries()) {
    if (i === all.length - 1 && g.includes('.')) {
      if (!v4.test(g)) return false
      count += 2
    } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) count += 1
    else return false
  }
  return halves.length === 2 ? count < 8 : count === 8
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({length: b.length + 1}, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]
    prev[0] = i
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1))
      diag = up
    }
  }
  return prev[b.length]
}

/** The candidate closest to `word` (case-insensitive matches first), if it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase()
  const exactCase = candidates.find((c) => c.toLowerCase() === lower)
  if (exactCase) return exactCase
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase())
    if (d < bestDistance) {
      best = c
      bestDistance = d
    }
  }
  const allowed = Math.max(1, Math.floor(word.length / 4))
  return bestDistance <= allowed ? best : undefined
}
