// Field-level differences between the spec a pod or container was created from (stored in an
// annotation on it) and the spec now desired: what `podrun diff` prints, e.g.
// `containers[web].image: busybox:1.0 -> busybox:1.1`.

export interface FieldChange {
  path: string
  from: string
  to: string
  /** True when the change is pod-level (needs a new sandbox). */
  sandbox: boolean
}

const MAX_VALUE = 80

function show(v: unknown): string {
  if (v === undefined) return '<none>'
  const s = typeof v === 'string' ? v : JSON.stringify(v)
  return s.length > MAX_VALUE ? `${s.slice(0, MAX_VALUE - 1)}…` : s
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function named(v: unknown): v is {name: string}[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => isObj(x) && typeof x.name === 'string')
}

function walk(a: unknown, b: unknown, path: string, out: FieldChange[], sandbox: boolean): void {
  if (JSON.stringify(a) === JSON.stringify(b)) return
  if (isObj(a) && isObj(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) walk(a[k], b[k], `${path}.${k}`, out, sandbox)
    return
  }
  if (named(a) && named(b)) {
    const am = new Map(a.map((x) => [x.name, x]))
    const bm = new Map(b.map((x) => [x.name, x]))
    for (const k of [...new Set([...am.keys(), ...bm.keys()])]) walk(am.get(k), bm.get(k), `${path}[${k}]`, out, sandbox)
    return
  }
  out.push({path, from: show(a), to: show(b), sandbox})
}

/**
 * Differences between an old and a new spec. For a whole Pod, container lists are left out: they
 * are compared per container, and what remains is pod-level (sandbox) config.
 */
export function diffSpecs(oldSpec: unknown, newSpec: unknown, prefix: string): FieldChange[] {
  const out: FieldChange[] = []
  if (prefix === 'pod') {
    const strip = (p: unknown): unknown => {
      if (!isObj(p) || !isObj(p.spec)) return p
      // Container ports (host ports) are pod-level: they become the sandbox's port mappings.
      const ports = (list: unknown) =>
        Array.isArray(list) ? list.filter(isObj).map((c) => ({name: c.name, ports: c.ports})) : undefined
      const {containers, initContainers, ...spec} = p.spec
      return {spec: {...spec, containers: ports(containers), initContainers: ports(initContainers)}}
    }
    if (oldSpec === undefined) return out
    walk(strip(oldSpec), strip(newSpec), 'pod', out, true)
    return out.map((c) => ({...c, path: c.path.replace(/^pod\.spec\./, '')}))
  }
  if (oldSpec === undefined) return out
  walk(oldSpec, newSpec, prefix, out, false)
  return out
}
