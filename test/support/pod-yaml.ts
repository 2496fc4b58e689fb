// One Pod manifest as YAML text, for the end-to-end tests and benchmarks: one container `main`
// running a shell command.
export interface PodYamlOptions {
  namespace: string
  image: string
  /** What `sh -c` runs (default: sleep for an hour). */
  cmd?: string
  restartPolicy?: string
  terminationGracePeriodSeconds?: number
  /** A container port 8080 published on 127.0.0.1:hostPort. */
  hostPort?: number
  hostNetwork?: boolean
  runtimeClassName?: string
}

export function podYaml(name: string, o: PodYamlOptions): string {
  return `apiVersion: v1
kind: Pod
metadata:
  name: ${name}
  namespace: ${o.namespace}
spec:
  restartPolicy: ${o.restartPolicy ?? 'Always'}
  terminationGracePeriodSeconds: ${o.terminationGracePeriodSeconds ?? 1}
${o.hostNetwork ? '  hostNetwork: true\n' : ''}${o.runtimeClassName ? `  runtimeClassName: ${o.runtimeClassName}\n` : ''}  containers:
    - name: main
      image: ${o.image}
      command: ["sh", "-c", ${JSON.stringify(o.cmd ?? 'exec sleep 3600')}]
${o.hostPort ? `      ports:\n        - {containerPort: 8080, hostPort: ${o.hostPort}, hostIP: 127.0.0.1}\n` : ''}`
}
