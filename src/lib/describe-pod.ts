// `podrun describe pod`: a Pod (spec as in effect, status from the runtime) and its events, laid out
// as `kubectl describe pod` prints them. Values from Secrets are never printed: env that comes from
// a Secret shows where it comes from, as kubectl shows it.
import type {Container, ContainerStatus, Pod, Probe, Volume} from 'kubernetes-types/core/v1.js'
import type {DaemonEvent} from '../daemon/view.js'
import {seenAgo} from './duration.js'
import {renderTable} from './table.js'

const date = (iso: string | undefined): string => (iso ? new Date(iso).toUTCString().replace('GMT', '+0000') : '<unknown>')

/** Lines `key: value` with the values aligned in a column, indented. */
function block(rows: Array<[string, string]>, indent: number, width?: number): string[] {
  const w = width ?? Math.max(...rows.map(([k]) => k.length + 1)) + 1
  return rows.map(([k, v]) => `${' '.repeat(indent)}${`${k}:`.padEnd(w)}${v}`)
}

const mapText = (m: Record<string, string> | undefined, indent: number): string[] => {
  const entries = Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  if (entries.length === 0) return ['<none>']
  return entries.map(([k, v], i) => `${i === 0 ? '' : ' '.repeat(indent)}${k}=${v}`)
}

function probeText(p: Probe): string {
  const h = p.httpGet
    ? `http-get ${(p.httpGet.scheme ?? 'HTTP').toLowerCase()}://${p.httpGet.host ?? ''}:${p.httpGet.port}${p.httpGet.path ?? '/'}`
    : p.tcpSocket
      ? `tcp-socket ${p.tcpSocket.host ?? ''}:${p.tcpSocket.port}`
      : p.grpc
        ? `grpc <pod>:${p.grpc.port} ${p.grpc.service ?? ''}`.trimEnd()
        : `exec [${(p.exec?.command ?? []).join(' ')}]`
  return `${h} delay=${p.initialDelaySeconds ?? 0}s timeout=${p.timeoutSeconds ?? 1}s period=${p.periodSeconds ?? 10}s #success=${p.successThreshold ?? 1} #failure=${p.failureThreshold ?? 3}`
}

function stateLines(label: string, st: ContainerStatus['state'], indent: number): string[] {
  if (!st) return block([[label, '<none>']], indent, 16)
  if (st.running) return block([[label, 'Running'], ['  Started', date(st.running.startedAt)]], indent, 16)
  if (st.waiting) return block([[label, 'Waiting'], ['  Reason', st.waiting.reason ?? ''], ...(st.waiting.message ? ([['  Message', st.waiting.message]] as Array<[string, string]>) : [])], indent, 16)
  const t = st.terminated!
  return block(
    [
      [label, 'Terminated'],
      ['  Reason', t.reason ?? ''],
      ...(t.message ? ([['  Message', t.message]] as Array<[string, string]>) : []),
      ['  Exit Code', String(t.exitCode)],
      ['  Started', date(t.startedAt)],
      ['  Finished', date(t.finishedAt)],
    ],
    indent,
    16,
  )
}

function envLines(c: Container): string[] {
  const out: string[] = []
  for (const f of c.envFrom ?? []) {
    const ref = f.configMapRef ?? f.secretRef
    out.push(`      ${ref?.name}  ${f.configMapRef ? 'ConfigMap' : 'Secret'}  Optional: ${ref?.optional === true}${f.prefix ? `  Prefix: ${f.prefix}` : ''}`)
  }
  const env = c.env ?? []
  for (const e of env) {
    const v = e.valueFrom
    const text = !v
      ? (e.value ?? '')
      : v.secretKeyRef
        ? `<set to the key '${v.secretKeyRef.key}' in secret '${v.secretKeyRef.name}'>  Optional: ${v.secretKeyRef.optional === true}`
        : v.configMapKeyRef
          ? `<set to the key '${v.configMapKeyRef.key}' of config map '${v.configMapKeyRef.name}'>  Optional: ${v.configMapKeyRef.optional === true}`
          : v.fieldRef
            ? `(${v.fieldRef.apiVersion ?? 'v1'}:${v.fieldRef.fieldPath})`
            : `${v.resourceFieldRef?.resource} (${v.resourceFieldRef?.containerName ?? c.name})`
    out.push(`      ${e.name}:  ${text}`)
  }
  return out.length ? out : []
}

function containerLines(c: Container, st: ContainerStatus | undefined, volumes: Volume[]): string[] {
  const out = [`  ${c.name}:`]
  const ports = c.ports ?? []
  out.push(
    ...block(
      [
        ['Container ID', st?.containerID ?? ''],
        ['Image', c.image ?? ''],
        ['Image ID', st?.imageID ?? ''],
        [ports.length > 1 ? 'Ports' : 'Port', ports.length ? ports.map((p) => `${p.containerPort}/${p.protocol ?? 'TCP'}`).join(', ') : '<none>'],
        [ports.length > 1 ? 'Host Ports' : 'Host Port', ports.length ? ports.map((p) => `${p.hostPort ?? 0}/${p.protocol ?? 'TCP'}`).join(', ') : '<none>'],
      ],
      4,
      16,
    ),
  )
  if (c.command?.length) out.push('    Command:', ...c.command.map((x) => `      ${x}`))
  if (c.args?.length) out.push('    Args:', ...c.args.map((x) => `      ${x}`))
  out.push(...stateLines('State', st?.state, 4))
  if (st?.lastState && Object.keys(st.lastState).length) out.push(...stateLines('Last State', st.lastState, 4))
  out.push(...block([['Ready', st?.ready ? 'True' : 'False'], ['Restart Count', String(st?.restartCount ?? 0)]], 4, 16))
  for (const [label, r] of [['Limits', c.resources?.limits], ['Requests', c.resources?.requests]] as const) {
    if (r && Object.keys(r).length) out.push(`    ${label}:`, ...Object.entries(r).map(([k, v]) => `      ${`${k}:`.padEnd(8)}${v}`))
  }
  for (const [label, p] of [['Liveness', c.livenessProbe], ['Readiness', c.readinessProbe], ['Startup', c.startupProbe]] as const) {
    if (p) out.push(...block([[label, probeText(p)]], 4, 16))
  }
  const env = envLines(c)
  out.push(env.length ? '    Environment:' : '    Environment:    <none>', ...env)
  const mounts = c.volumeMounts ?? []
  out.push(mounts.length ? '    Mounts:' : '    Mounts:         <none>')
  for (const m of mounts) {
    const ro = m.readOnly || volumes.some((v) => v.name === m.name && (v.configMap || v.secret || v.downwardAPI || v.projected)) ? 'ro' : 'rw'
    out.push(`      ${m.mountPath} from ${m.name} (${ro}${m.subPath ? `,path="${m.subPath}"` : ''})`)
  }
  return out
}

function volumeLines(v: Volume): string[] {
  const rows: Array<[string, string]> = []
  if (v.emptyDir) rows.push(['Type', 'EmptyDir (a temporary directory that shares a pod\'s lifetime)'], ['Medium', v.emptyDir.medium ?? ''], ['SizeLimit', String(v.emptyDir.sizeLimit ?? '<unset>')])
  else if (v.hostPath) rows.push(['Type', 'HostPath (bare host directory volume)'], ['Path', v.hostPath.path], ['HostPathType', v.hostPath.type ?? ''])
  else if (v.configMap) rows.push(['Type', 'ConfigMap (a volume populated by a ConfigMap)'], ['Name', v.configMap.name ?? ''], ['Optional', String(v.configMap.optional === true)])
  else if (v.secret) rows.push(['Type', 'Secret (a volume populated by a Secret)'], ['SecretName', v.secret.secretName ?? ''], ['Optional', String(v.secret.optional === true)])
  else if (v.downwardAPI) rows.push(['Type', 'DownwardAPI (a volume populated by information about the pod)'], ['Items', (v.downwardAPI.items ?? []).map((i) => `${i.fieldRef?.fieldPath ?? i.resourceFieldRef?.resource} -> ${i.path}`).join(', ')])
  else if (v.projected) rows.push(['Type', 'Projected (a volume that contains injected data from multiple sources)'])
  return [`  ${v.name}:`, ...block(rows, 4)]
}

function eventLines(events: DaemonEvent[] | undefined, now: number): string[] {
  if (!events) return ['Events:  <unknown: no podrun daemon answers; events are recorded by `podrun daemon`>']
  if (events.length === 0) return ['Events:  <none>']
  const rows = events.map((e) => {
    return [e.type, e.reason, seenAgo(e.time, e.firstTime ?? e.time, e.count ?? 1, now), 'podrun', e.message]
  })
  const head = ['Type', 'Reason', 'Age', 'From', 'Message']
  return ['Events:', ...renderTable(head, [head.map((h) => '-'.repeat(h.length)), ...rows], {gap: '  ', indent: '  '}).trimEnd().split('\n')]
}

/** The text of `describe pod`. `events` undefined: no daemon to ask. */
export function describePod(p: Pod, events: DaemonEvent[] | undefined, now = Date.now()): string {
  const st = p.status ?? {}
  const spec = p.spec ?? {containers: []}
  const statusOf = (list: ContainerStatus[] | undefined, name: string) => list?.find((s) => s.name === name)
  const out: string[] = [
    ...block(
      [
        ['Name', p.metadata?.name ?? ''],
        ['Namespace', p.metadata?.namespace ?? 'default'],
        ['Priority', '0'],
        ['Node', `${spec.nodeName ?? '<none>'}/${st.hostIP ?? ''}`],
        ['Start Time', date(st.startTime)],
      ],
      0,
      18,
    ),
    `${'Labels:'.padEnd(18)}${mapText(p.metadata?.labels, 18).join('\n')}`,
    `${'Annotations:'.padEnd(18)}${mapText(Object.fromEntries(Object.entries(p.metadata?.annotations ?? {}).filter(([k]) => !k.startsWith('podrun.io/pod'))), 18).join('\n')}`,
    ...block([['Status', st.reason ?? st.phase ?? 'Unknown'], ...(st.message ? ([['Message', st.message]] as Array<[string, string]>) : []), ['IP', st.podIP ?? '']], 0, 18),
    'IPs:',
    ...(st.podIPs?.length ? st.podIPs.map((i) => `  IP:  ${i.ip}`) : ['  <none>']),
  ]
  if (spec.initContainers?.length) {
    out.push('Init Containers:')
    for (const c of spec.initContainers) out.push(...containerLines(c, statusOf(st.initContainerStatuses, c.name), spec.volumes ?? []))
  }
  out.push('Containers:')
  for (const c of spec.containers) out.push(...containerLines(c, statusOf(st.containerStatuses, c.name), spec.volumes ?? []))
  out.push('Conditions:', '  Type                        Status', ...(st.conditions ?? []).map((c) => `  ${c.type.padEnd(28)}${c.status}`))
  out.push((spec.volumes ?? []).length ? 'Volumes:' : 'Volumes:          <none>', ...(spec.volumes ?? []).flatMap(volumeLines))
  out.push(...block([['QoS Class', st.qosClass ?? ''], ['Node-Selectors', '<none>'], ['Tolerations', '<none>']], 0, 18))
  out.push(...eventLines(events, now))
  return out.join('\n') + '\n'
}
