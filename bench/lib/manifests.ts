// The benchmark's pods: N single-container busybox pods (`sleep 3600`) with a zero grace period,
// so that delete measures the runtime work and not a SIGTERM wait (sleep as PID 1 ignores SIGTERM).
import fs from 'node:fs'
import path from 'node:path'

export interface PodSet {
  n: number
  image: string
  graceSeconds: number
  /** Label on every pod, e.g. {'podrun-bench': '1234'}: podman's pods are found by it. */
  labels: Record<string, string>
}

export const podName = (i: number, prefix = 'pod'): string => `${prefix}-${String(i).padStart(3, '0')}`

function pod(name: string, namespace: string | undefined, s: PodSet): string {
  const labels = Object.entries(s.labels)
    .map(([k, v]) => `\n    ${k}: ${JSON.stringify(v)}`)
    .join('')
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}${namespace ? `\n  namespace: ${namespace}` : ''}
  labels:${labels}
spec:
  terminationGracePeriodSeconds: ${s.graceSeconds}
  containers:
    - name: main
      image: ${s.image}
      imagePullPolicy: IfNotPresent
      command: ["sleep", "3600"]
`
}

/** One file per pod in `dir` (what `podrun apply -f DIR` reads). */
export function writePodDir(dir: string, namespace: string, s: PodSet): string {
  fs.rmSync(dir, {recursive: true, force: true})
  fs.mkdirSync(dir, {recursive: true})
  for (let i = 0; i < s.n; i++) fs.writeFileSync(path.join(dir, `${podName(i)}.yaml`), pod(podName(i), namespace, s))
  return dir
}

/** All pods in one multi-document file (what `podman kube play FILE` reads); podman has no namespaces. */
export function writePodFile(file: string, prefix: string, s: PodSet): string {
  fs.mkdirSync(path.dirname(file), {recursive: true})
  fs.writeFileSync(file, Array.from({length: s.n}, (_, i) => pod(podName(i, prefix), undefined, s)).join('---\n'))
  return file
}
