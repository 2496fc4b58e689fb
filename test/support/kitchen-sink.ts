// One manifest set that sets every Pod field podrun accepts without a warning (each field of each
// API definition reachable from Pod, at least once): test/unit/pod-fields.test.ts checks it covers
// them all and that the executor turns it into runtime config; the end-to-end tests apply it to the
// real containerd. A field added to the schema, or one that validation starts accepting, fails the
// coverage check until it is set here and handled.

export interface SinkOptions {
  namespace: string
  image: string
  /** A host folder for the hostPath volume (made if missing). */
  hostDir: string
  /** A free port on 127.0.0.1 for the host port. */
  hostPort: number
  /** The registry the pull secret names. */
  registry: string
  /** AppArmor profile type for the app container (Localhost needs a host with AppArmor). */
  appArmor?: 'Localhost' | 'Unconfined'
}

export function kitchenSink(o: SinkOptions): string {
  const armor = (o.appArmor ?? 'Localhost') === 'Localhost' ? '{type: Localhost, localhostProfile: podrun-sink}' : '{type: Unconfined}'
  const auth = Buffer.from('sink:pass').toString('base64')
  return `apiVersion: v1
kind: ConfigMap
metadata: {name: sink-cfg, namespace: ${o.namespace}}
data: {level: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: sink-secret, namespace: ${o.namespace}}
stringData: {token: s3cret}
---
apiVersion: v1
kind: Secret
metadata: {name: sink-regcred, namespace: ${o.namespace}}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{"auths": {"${o.registry}": {"auth": "${auth}"}}}'
---
apiVersion: v1
kind: Pod
metadata:
  name: sink
  namespace: ${o.namespace}
  labels: {app: sink, tier: test}
  annotations: {example.com/note: every field}
spec:
  activeDeadlineSeconds: 86400
  automountServiceAccountToken: false
  enableServiceLinks: false
  dnsPolicy: None
  dnsConfig:
    nameservers: [127.0.0.1]
    searches: [sink.example.test]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostAliases: [{ip: 10.9.9.9, hostnames: [sink.local, sink-alias]}]
  hostIPC: false
  hostNetwork: false
  hostPID: false
  hostUsers: true
  hostname: sink-host
  subdomain: sinks
  setHostnameAsFQDN: false
  shareProcessNamespace: true
  imagePullSecrets: [{name: sink-regcred}]
  os: {name: linux}
  restartPolicy: Always
  runtimeClassName: runc
  terminationGracePeriodSeconds: 2
  securityContext:
    appArmorProfile: {type: Unconfined}
    fsGroup: 2000
    fsGroupChangePolicy: OnRootMismatch
    runAsGroup: 3000
    runAsNonRoot: true
    runAsUser: 1000
    seLinuxOptions: {level: "s0:c1,c2"}
    seccompProfile: {type: RuntimeDefault}
    supplementalGroups: [4000]
    sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "0"}]
  initContainers:
    - name: setup
      image: ${o.image}
      command: [sh, -c, "echo prepared > /data/sub/ready"]
      volumeMounts: [{name: data, mountPath: /data/sub, subPath: sub}]
    - name: side
      image: ${o.image}
      restartPolicy: Always
      command: [sh, -c, "exec sleep 86400"]
      lifecycle:
        postStart: {sleep: {seconds: 1}}
        preStop:
          httpGet: {host: 127.0.0.1, path: /bye, port: 8080, scheme: HTTP, httpHeaders: [{name: X-Podrun, value: sink}]}
      readinessProbe: {grpc: {port: 9090, service: sink}, periodSeconds: 30}
      volumeMounts:
        - {name: sec, mountPath: /sec}
        - {name: dapi, mountPath: /dapi}
        - {name: proj, mountPath: /proj}
  containers:
    - name: app
      image: ${o.image}
      imagePullPolicy: IfNotPresent
      command: [sh, -c]
      args: ["mkdir -p /tmp/www && echo ok > /tmp/www/index.html && httpd -p 8080 -h /tmp/www && exec sleep 86400"]
      workingDir: /tmp
      env:
        - {name: PLAIN, value: plain}
        - {name: POD_NAME, valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.name}}}
        - {name: LEVEL, valueFrom: {configMapKeyRef: {name: sink-cfg, key: level, optional: false}}}
        - {name: TOKEN, valueFrom: {secretKeyRef: {name: sink-secret, key: token, optional: false}}}
        - {name: MEM_MI, valueFrom: {resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}}
      envFrom:
        - {configMapRef: {name: sink-cfg, optional: false}, prefix: CM_}
        - {secretRef: {name: sink-secret, optional: true}, prefix: SEC_}
      ports: [{name: http, containerPort: 8080, protocol: TCP, hostIP: 127.0.0.1, hostPort: ${o.hostPort}}]
      resources:
        limits: {cpu: 500m, memory: 64Mi}
        requests: {cpu: 100m, memory: 32Mi}
      lifecycle:
        postStart: {exec: {command: [sh, -c, "echo started > /tmp/poststart"]}}
        preStop: {tcpSocket: {host: 127.0.0.1, port: 8080}}
      livenessProbe: {exec: {command: ["true"]}, initialDelaySeconds: 1, periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1, terminationGracePeriodSeconds: 2}
      readinessProbe: {httpGet: {path: /, port: http, scheme: HTTP, httpHeaders: [{name: X-Probe, value: sink}]}, periodSeconds: 10}
      startupProbe: {tcpSocket: {port: 8080}, periodSeconds: 2, failureThreshold: 30}
      securityContext:
        allowPrivilegeEscalation: false
        appArmorProfile: ${armor}
        capabilities: {add: [NET_BIND_SERVICE], drop: [ALL]}
        privileged: false
        procMount: Default
        readOnlyRootFilesystem: true
        runAsGroup: 3000
        runAsNonRoot: true
        runAsUser: 1000
        seLinuxOptions: {user: system_u, role: system_r, type: container_t, level: "s0:c1,c2"}
        seccompProfile: {type: Localhost, localhostProfile: podrun-sink.json}
      stdin: false
      stdinOnce: false
      tty: false
      terminationMessagePath: /dev/termination-log
      terminationMessagePolicy: FallbackToLogsOnError
      volumeMounts:
        - {name: tmp, mountPath: /tmp}
        - {name: cfg, mountPath: /cfg, readOnly: true, recursiveReadOnly: IfPossible}
        - {name: data, mountPath: /data/sub, subPath: sub}
        - {name: data, mountPath: /data/mine, subPathExpr: $(POD_NAME)}
        - {name: host, mountPath: /host, readOnly: true, mountPropagation: HostToContainer}
  volumes:
    - {name: tmp, emptyDir: {medium: Memory, sizeLimit: 16Mi}}
    - {name: data, emptyDir: {}}
    - {name: cfg, configMap: {name: sink-cfg, defaultMode: 0444, optional: false, items: [{key: level, path: level, mode: 0440}]}}
    - {name: sec, secret: {secretName: sink-secret, defaultMode: 0400, optional: false, items: [{key: token, path: token, mode: 0400}]}}
    - name: dapi
      downwardAPI:
        defaultMode: 0444
        items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}, mode: 0444}
          - {path: mem, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
    - name: proj
      projected:
        defaultMode: 0444
        sources:
          - {configMap: {name: sink-cfg, optional: false, items: [{key: level, path: cm-level}]}}
          - {secret: {name: sink-secret, optional: false, items: [{key: token, path: s-token}]}}
          - {downwardAPI: {items: [{path: name, fieldRef: {fieldPath: metadata.name}}]}}
    - {name: host, hostPath: {path: ${o.hostDir}, type: DirectoryOrCreate}}
`
}

/** An allow-all seccomp profile, for the Localhost profile the sink names. */
export const SINK_SECCOMP_PROFILE = JSON.stringify({defaultAction: 'SCMP_ACT_ALLOW'})
