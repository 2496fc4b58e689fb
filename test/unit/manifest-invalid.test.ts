// A table of invalid manifests: each case is a set of files and the errors podrun must report, at
// the line, with the path, and with (a part of) the message a person needs. The files are written to
// a temporary folder and loaded through the same entry point `podrun validate` uses.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import path from 'node:path'
import {loadDesiredState} from '../../src/manifest/index.js'
import type {Limits} from '../../src/manifest/types.js'

interface Expected {
  /** Defaults to the case's first file. */
  file?: string
  /** 0 for problems of a whole file. */
  line: number
  path: string
  message: string
}

interface Case {
  name: string
  files: Record<string, string | Buffer>
  errors: Expected[]
  limits?: Partial<Limits>
}

const lines = (...l: string[]): string => l.join('\n') + '\n'

/** A valid pod, for cases that break one thing; `extra` lines go at the end of the container. */
const pod = (...containerExtra: string[]): string =>
  lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'spec:', '  containers:', '  - name: web', '    image: nginx:1.27', ...containerExtra)

const billionLaughs = (): string => {
  const out = ['apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: lol}', 'data:', '  a: &a "lol"']
  let prev = 'a'
  for (let i = 0; i < 9; i++) {
    const name = String.fromCharCode(98 + i)
    out.push(`  ${name}: &${name} [${Array(10).fill('*' + prev).join(', ')}]`)
    prev = name
  }
  return out.join('\n') + '\n'
}

const CASES: Case[] = [
  // Type errors.
  {
    name: 'a containerPort written as a quoted string',
    files: {'pod.yaml': pod('    ports:', '    - containerPort: "80"')},
    errors: [{line: 10, path: 'spec.containers[0].ports[0].containerPort', message: 'expected an integer, got a string ("80"); remove the quotes'}],
  },
  {
    name: 'an env value written as a number',
    files: {'pod.yaml': pod('    env:', '    - name: PORT', '      value: 8080')},
    errors: [{line: 11, path: 'spec.containers[0].env[0].value', message: 'expected a string, got an integer (8080); quote it in YAML: "8080"'}],
  },
  {
    name: 'an env value `yes` (a YAML 1.1 boolean, as kubectl reads it)',
    files: {'pod.yaml': pod('    env:', '    - name: DEBUG', '      value: yes')},
    errors: [{line: 11, path: 'spec.containers[0].env[0].value', message: 'got a boolean (true); quote it in YAML: "yes"'}],
  },
  {
    name: 'containers written as a mapping instead of a list',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'spec:', '  containers:', '    name: web', '    image: nginx')},
    errors: [{line: 7, path: 'spec.containers', message: 'expected a list, got a mapping; list items start with "- "'}],
  },
  {
    name: 'command written as a string',
    files: {'pod.yaml': pod('    command: sleep 10')},
    errors: [{line: 9, path: 'spec.containers[0].command', message: 'expected a list, got a string ("sleep 10")'}],
  },
  {
    name: 'a label value written as a number',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', '  labels:', '    version: 2', 'spec:', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 6, path: 'metadata.labels.version', message: 'quote it in YAML: "2"'}],
  },
  // Typos and unknown fields.
  {
    name: 'a typo in a container field',
    files: {'pod.yaml': pod('    imagePullPolcy: Always')},
    errors: [{line: 9, path: 'spec.containers[0].imagePullPolcy', message: 'unknown field "imagePullPolcy"; did you mean "imagePullPolicy"?'}],
  },
  {
    name: 'a wrong-case field name',
    files: {'pod.yaml': pod('    livenessProbe:', '      httpget: {port: 80}')},
    errors: [{line: 10, path: 'spec.containers[0].livenessProbe.httpget', message: 'did you mean "httpGet"?'}],
  },
  {
    name: 'a typo at the top level leaves spec missing',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', 'specs:', '  containers: [{name: web, image: nginx}]')},
    errors: [
      {line: 1, path: 'spec', message: 'missing required field "spec"'},
      {line: 5, path: 'specs', message: 'unknown field "specs"; did you mean "spec"?'},
    ],
  },
  {
    name: 'an unknown field far from any known one lists the allowed fields',
    files: {'pod.yaml': pod('    volumeMounts:', '    - name: data', '      mountPath: /data', '      writable: true')},
    errors: [
      {line: 12, path: 'spec.containers[0].volumeMounts[0].writable', message: 'fields allowed here: mountPath, mountPropagation, name, readOnly, recursiveReadOnly, subPath, subPathExpr'},
      {line: 10, path: 'spec.containers[0].volumeMounts[0].name', message: 'no volume named "data"'},
    ],
  },
  {
    name: 'a field of a newer Kubernetes names the pinned version',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  resources:', '    limits: {cpu: "1"}', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 5, path: 'spec.resources', message: 'is not in the Kubernetes 1.30 API that podrun validates against (pod-level resources came in Kubernetes 1.32)'}],
  },
  // Missing required fields.
  {
    name: 'a container without a name',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - image: nginx')},
    errors: [{line: 6, path: 'spec.containers[0].name', message: 'missing required field "name"'}],
  },
  {
    name: 'a container without an image',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - name: web')},
    errors: [{line: 6, path: 'spec.containers[0].image', message: 'missing required field "image"'}],
  },
  {
    name: 'a pod without a name',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  labels: {app: web}', 'spec:', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 3, path: 'metadata.name', message: 'missing metadata.name'}],
  },
  {
    name: 'generateName instead of a name',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  generateName: web-', 'spec:', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 3, path: 'metadata.name', message: 'podrun needs a fixed name (generateName would need an API server'}],
  },
  {
    name: 'a document without kind',
    files: {'pod.yaml': lines('# a pod', 'apiVersion: v1', 'metadata: {name: web}')},
    errors: [{line: 2, path: '', message: 'missing "kind"'}],
  },
  {
    name: 'a document without apiVersion',
    files: {'pod.yaml': lines('kind: Pod', 'metadata: {name: web}', 'spec: {containers: [{name: web, image: nginx}]}')},
    errors: [{line: 1, path: '', message: 'missing "apiVersion": a Pod is apiVersion "v1"'}],
  },
  {
    name: 'a port without containerPort',
    files: {'pod.yaml': pod('    ports:', '    - name: http')},
    errors: [{line: 10, path: 'spec.containers[0].ports[0].containerPort', message: 'missing required field "containerPort"'}],
  },
  {
    name: 'a pod with no containers',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: []')},
    errors: [{line: 5, path: 'spec.containers', message: 'a pod needs at least one container'}],
  },
  // Bad names.
  {
    name: 'a pod name with capitals',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: WebServer', 'spec: {containers: [{name: web, image: nginx}]}')},
    errors: [{line: 4, path: 'metadata.name', message: 'Pod name "WebServer" must be a DNS-1123 label'}],
  },
  {
    name: 'a container name with an underscore',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - name: web_server', '    image: nginx')},
    errors: [{line: 6, path: 'spec.containers[0].name', message: 'container name "web_server" must be a DNS-1123 label'}],
  },
  {
    name: 'a namespace with a dot',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', '  namespace: team.a', 'spec: {containers: [{name: web, image: nginx}]}')},
    errors: [{line: 5, path: 'metadata.namespace', message: 'namespace "team.a" must be a DNS-1123 label'}],
  },
  {
    name: 'a port name longer than 15 characters',
    files: {'pod.yaml': pod('    ports:', '    - containerPort: 80', '      name: http-web-frontend')},
    errors: [{line: 11, path: 'spec.containers[0].ports[0].name', message: 'must be no more than 15 characters'}],
  },
  {
    name: 'an environment variable name starting with a digit',
    files: {'pod.yaml': pod('    env:', '    - name: 1PORT', '      value: "80"')},
    errors: [{line: 10, path: 'spec.containers[0].env[0].name', message: 'environment variable name "1PORT" must consist of'}],
  },
  {
    name: 'a label key with two slashes',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', '  labels:', '    a/b/c: x', 'spec: {containers: [{name: web, image: nginx}]}')},
    errors: [{line: 6, path: 'metadata.labels["a/b/c"]', message: 'label key "a/b/c"'}],
  },
  // Duplicate containers.
  {
    name: 'two containers with the same name',
    files: {'pod.yaml': pod('  - name: web', '    image: busybox')},
    errors: [{line: 9, path: 'spec.containers[1].name', message: 'container name "web" is already used by containers[0]'}],
  },
  {
    name: 'an init container and an app container with the same name',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  initContainers:', '  - {name: web, image: busybox}', '  containers:', '  - {name: web, image: nginx}')},
    errors: [{line: 8, path: 'spec.containers[0].name', message: 'is already used by initContainers[0]; names must be unique across initContainers and containers'}],
  },
  // Volumes and mounts.
  {
    name: 'a mount of a volume that is not declared',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - name: web', '    image: nginx', '    volumeMounts:', '    - name: cache-vol', '      mountPath: /cache', '  volumes:', '  - name: cache', '    emptyDir: {}')},
    errors: [{line: 9, path: 'spec.containers[0].volumeMounts[0].name', message: 'no volume named "cache-vol" in spec.volumes (declared: cache)'}],
  },
  {
    name: 'two volumes with the same name',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - {name: data, emptyDir: {}}', '  - name: data', '    emptyDir: {}')},
    errors: [{line: 8, path: 'spec.volumes[1].name', message: 'volume name "data" is already used by spec.volumes[0]'}],
  },
  {
    name: 'a volume with two sources',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: data', '    emptyDir: {}', '    hostPath: {path: /srv}')},
    errors: [{line: 9, path: 'spec.volumes[0].hostPath', message: 'a volume has exactly one source, found emptyDir and hostPath'}],
  },
  {
    name: 'a subPath that climbs out of the volume',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - name: web', '    image: nginx', '    volumeMounts:', '    - name: data', '      mountPath: /data', '      subPath: ../../etc', '  volumes: [{name: data, emptyDir: {}}]')},
    errors: [{line: 11, path: 'spec.containers[0].volumeMounts[0].subPath', message: 'subPath "../../etc" must not contain ".."'}],
  },
  // Quantities.
  {
    name: 'memory written with a "Gb" suffix',
    files: {'pod.yaml': pod('    resources:', '      limits:', '        memory: 12Gb')},
    errors: [{line: 11, path: 'spec.containers[0].resources.limits.memory', message: '"12Gb" is not a valid quantity'}],
  },
  {
    name: 'a negative cpu request',
    files: {'pod.yaml': pod('    resources:', '      requests:', '        cpu: "-1"')},
    errors: [{line: 11, path: 'spec.containers[0].resources.requests.cpu', message: 'must not be negative'}],
  },
  {
    name: 'a request above its limit (in different units)',
    files: {'pod.yaml': pod('    resources:', '      requests: {memory: 1Gi}', '      limits: {memory: 512Mi}')},
    errors: [{line: 10, path: 'spec.containers[0].resources.requests.memory', message: 'request 1Gi is more than the limit 512Mi'}],
  },
  // Enums.
  {
    name: 'restartPolicy in the wrong case',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  restartPolicy: always', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 5, path: 'spec.restartPolicy', message: '"always" is not valid: must be one of "Always", "OnFailure", "Never"; did you mean "Always"?'}],
  },
  {
    name: 'an imagePullPolicy that does not exist',
    files: {'pod.yaml': pod('    imagePullPolicy: Sometimes')},
    errors: [{line: 9, path: 'spec.containers[0].imagePullPolicy', message: 'must be one of "Always", "IfNotPresent", "Never"'}],
  },
  {
    name: 'a lowercase protocol',
    files: {'pod.yaml': pod('    ports:', '    - containerPort: 53', '      protocol: udp')},
    errors: [{line: 11, path: 'spec.containers[0].ports[0].protocol', message: 'did you mean "UDP"?'}],
  },
  {
    name: 'dnsPolicy None without nameservers',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  dnsPolicy: None', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 5, path: 'spec.dnsPolicy', message: 'dnsPolicy None needs spec.dnsConfig with at least one nameserver'}],
  },
  // Ports.
  {
    name: 'a containerPort out of range',
    files: {'pod.yaml': pod('    ports:', '    - containerPort: 70000')},
    errors: [{line: 10, path: 'spec.containers[0].ports[0].containerPort', message: 'containerPort must be between 1 and 65535, got 70000'}],
  },
  {
    name: 'the same hostPort in two containers',
    files: {'pod.yaml': pod('    ports: [{containerPort: 80, hostPort: 8080}]', '  - name: api', '    image: nginx', '    ports:', '    - {containerPort: 81, hostPort: 8080}')},
    errors: [{line: 13, path: 'spec.containers[1].ports[0].hostPort', message: 'hostPort 8080/TCP is already used by containers[0].ports.0'}],
  },
  {
    name: 'hostPort differing from containerPort with hostNetwork',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  hostNetwork: true', '  containers:', '  - name: web', '    image: nginx', '    ports:', '    - containerPort: 80', '      hostPort: 8080')},
    errors: [{line: 11, path: 'spec.containers[0].ports[0].hostPort', message: 'with hostNetwork, hostPort must equal containerPort (80)'}],
  },
  // Probes and hooks.
  {
    name: 'a probe with two handlers',
    files: {'pod.yaml': pod('    livenessProbe:', '      httpGet: {port: 80}', '      tcpSocket: {port: 80}')},
    errors: [{line: 11, path: 'spec.containers[0].livenessProbe.tcpSocket', message: 'a probe has one handler: only one may be set, found httpGet and tcpSocket'}],
  },
  {
    name: 'a probe on a port name the container does not have',
    files: {'pod.yaml': pod('    ports: [{name: http, containerPort: 80}]', '    readinessProbe:', '      httpGet: {port: web}')},
    errors: [{line: 11, path: 'spec.containers[0].readinessProbe.httpGet.port', message: 'no port named "web" in this container\'s ports (named ports: http)'}],
  },
  {
    name: 'a liveness probe on a plain init container',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  initContainers:', '  - name: setup', '    image: busybox', '    livenessProbe: {exec: {command: [cat, /tmp/ready]}}', '  containers: [{name: web, image: nginx}]')},
    errors: [{line: 8, path: 'spec.initContainers[0].livenessProbe', message: 'init containers cannot have a livenessProbe'}],
  },
  {
    name: 'restartPolicy on an app container',
    files: {'pod.yaml': pod('    restartPolicy: Always')},
    errors: [{line: 9, path: 'spec.containers[0].restartPolicy', message: 'restartPolicy may only be set on init containers'}],
  },
  // Paths in configMap and secret items.
  {
    name: 'a configMap item path with ".."',
    files: {
      'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: conf', '    configMap:', '      name: conf', '      items:', '      - key: app.conf', '        path: ../../etc/passwd'),
      'conf.yaml': lines('apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: conf}', 'data: {app.conf: x}'),
    },
    errors: [{line: 12, path: 'spec.volumes[0].configMap.items[0].path', message: 'path "../../etc/passwd" must not contain ".." (it would point outside the volume)'}],
  },
  {
    name: 'a secret item path that is absolute',
    files: {
      'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: creds', '    secret:', '      secretName: creds', '      items: [{key: token, path: /etc/token}]'),
      'creds.yaml': lines('apiVersion: v1', 'kind: Secret', 'metadata: {name: creds}', 'stringData: {token: x}'),
    },
    errors: [{line: 10, path: 'spec.volumes[0].secret.items[0].path', message: 'must be a relative path'}],
  },
  {
    name: 'a file mode written in decimal digits that read as 644',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: info', '    downwardAPI:', '      defaultMode: 644', '      items: [{path: name, fieldRef: {fieldPath: metadata.name}}]')},
    errors: [{line: 9, path: 'spec.volumes[0].downwardAPI.defaultMode', message: 'got 644 (write octal modes with a leading 0'}],
  },
  // References.
  {
    name: 'a ConfigMap that is not in the set',
    files: {'pod.yaml': pod('    envFrom:', '    - configMapRef: {name: settings}')},
    errors: [{line: 10, path: 'spec.containers[0].envFrom[0].configMapRef.name', message: 'ConfigMap default/settings is not among the manifests given'}],
  },
  {
    name: 'a Secret key that the Secret does not have',
    files: {
      'pod.yaml': pod('    env:', '    - name: PASSWORD', '      valueFrom:', '        secretKeyRef: {name: db, key: pasword}'),
      'secret.yaml': lines('apiVersion: v1', 'kind: Secret', 'metadata: {name: db}', 'data:', '  password: cGFzcw=='),
    },
    errors: [{line: 12, path: 'spec.containers[0].env[0].valueFrom.secretKeyRef.key', message: 'Secret default/db has no key "pasword" (its keys: password)'}],
  },
  {
    name: 'a ConfigMap in another namespace does not count',
    files: {
      'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web, namespace: shop}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: conf', '    configMap: {name: conf}'),
      'conf.yaml': lines('apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: conf}', 'data: {a: b}'),
    },
    errors: [{line: 8, path: 'spec.volumes[0].configMap.name', message: 'ConfigMap shop/conf is not among the manifests given'}],
  },
  {
    name: 'a pod using a ConfigMap that has errors',
    files: {
      'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: conf', '    configMap: {name: conf}'),
      'conf.yaml': lines('apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: conf}', 'data:', '  bad key: x'),
    },
    errors: [
      {line: 8, path: 'spec.volumes[0].configMap.name', message: 'ConfigMap default/conf has errors (conf.yaml:3:18), so this pod cannot use it'},
      {file: 'conf.yaml', line: 5, path: 'data["bad key"]', message: 'key "bad key" must consist of'},
    ],
  },
  // Duplicates across files.
  {
    name: 'the same pod in two files',
    files: {'a.yaml': pod(), 'b.yaml': lines('# the same name again', ...pod().trimEnd().split('\n'))},
    errors: [
      {file: 'a.yaml', line: 4, path: 'metadata.name', message: 'Pod default/web is defined more than once: also at b.yaml:5:9'},
      {file: 'b.yaml', line: 5, path: 'metadata.name', message: 'Pod default/web is defined more than once: also at a.yaml:4:9'},
    ],
  },
  {
    name: 'the same ConfigMap twice in one file',
    files: {'cm.yaml': lines('apiVersion: v1', 'kind: ConfigMap', 'metadata: {name: conf}', '---', 'apiVersion: v1', 'kind: ConfigMap', 'metadata:', '  name: conf')},
    errors: [
      {line: 3, path: 'metadata.name', message: 'ConfigMap default/conf is defined more than once: also at cm.yaml:8:9'},
      {line: 8, path: 'metadata.name', message: 'ConfigMap default/conf is defined more than once: also at cm.yaml:3:18'},
    ],
  },
  // What a standalone node cannot do.
  {
    name: 'a persistentVolumeClaim volume',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: data', '    persistentVolumeClaim:', '      claimName: data')},
    errors: [{line: 8, path: 'spec.volumes[0].persistentVolumeClaim', message: 'not supported on a standalone node: a PersistentVolumeClaim needs a control plane'}],
  },
  {
    name: 'a service account token projection',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  volumes:', '  - name: token', '    projected:', '      sources:', '      - serviceAccountToken: {path: token}')},
    errors: [{line: 10, path: 'spec.volumes[0].projected.sources[0].serviceAccountToken', message: 'service account tokens are issued by the API server'}],
  },
  // Images and kinds.
  {
    name: 'an image reference with capitals',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers:', '  - name: web', '    image: MyRegistry/Web:1.0')},
    errors: [{line: 7, path: 'spec.containers[0].image', message: 'is not a valid image reference'}],
  },
  {
    name: 'a Deployment',
    files: {'deploy.yaml': lines('apiVersion: apps/v1', 'kind: Deployment', 'metadata: {name: web}')},
    errors: [{line: 2, path: 'kind', message: 'kind "Deployment" (apps/v1) is not supported: podrun runs Pods'}],
  },
  {
    name: 'a Pod with apiVersion apps/v1',
    files: {'pod.yaml': lines('apiVersion: apps/v1', 'kind: Pod', 'metadata: {name: web}')},
    errors: [{line: 1, path: 'apiVersion', message: 'apiVersion "apps/v1" is not valid for kind Pod: use "v1"'}],
  },
  {
    name: 'a List with an item that is not an object',
    files: {'list.yaml': lines('apiVersion: v1', 'kind: List', 'items:', '- apiVersion: v1', '  kind: Pod', '  metadata: {name: web}', '  spec: {containers: [{name: web, image: nginx, imagePullPolicy: always}]}', '- just a string')},
    errors: [
      {line: 7, path: 'items[0].spec.containers[0].imagePullPolicy', message: 'did you mean "Always"?'},
      {line: 8, path: 'items[1]', message: 'a List item must be a Kubernetes object'},
    ],
  },
  {
    name: 'Secret data that is not base64',
    files: {'secret.yaml': lines('apiVersion: v1', 'kind: Secret', 'metadata: {name: db}', 'data:', '  password: hunter2!')},
    errors: [{line: 5, path: 'data.password', message: 'Secret data values must be base64 (use stringData for plain text)'}],
  },
  // YAML syntax.
  {
    name: 'bad indentation',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '  name: web', ' labels: {}')},
    errors: [{line: 5, path: '', message: 'YAML syntax error'}],
  },
  {
    name: 'a tab in the indentation',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata:', '\tname: web')},
    errors: [{line: 4, path: '', message: 'indent with spaces, not tabs'}],
  },
  {
    name: 'a key given twice',
    files: {'pod.yaml': lines('apiVersion: v1', 'kind: Pod', 'metadata: {name: web}', 'spec:', '  containers: [{name: web, image: nginx}]', '  containers: []')},
    errors: [{line: 6, path: '', message: 'YAML syntax error: duplicated mapping key'}],
  },
  {
    name: 'an unterminated flow mapping (KYAML style)',
    files: {'pod.yaml': lines('{', '  apiVersion: "v1",', '  kind: "Pod",', '  metadata: {name: "web",', '}')},
    errors: [{line: 6, path: '', message: 'YAML syntax error'}],
  },
  {
    name: 'a document that is a string',
    files: {'pod.yaml': lines('---', 'hello world')},
    errors: [{line: 2, path: '', message: 'a document must be a Kubernetes object (a mapping with apiVersion, kind, metadata), got a string'}],
  },
  // Oversized and hostile files.
  {
    name: 'a file over the size limit',
    files: {'big.yaml': pod('    args:', ...Array.from({length: 100}, (_, i) => `    - "argument number ${i}"`))},
    limits: {maxFileBytes: 2048},
    errors: [{line: 0, path: '', message: 'file is too large'}],
  },
  {
    name: 'too many documents in one file',
    files: {'many.yaml': Array.from({length: 7}, (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c${i}}\n`).join('---\n')},
    limits: {maxDocumentsPerFile: 5},
    errors: [{line: 20, path: '', message: 'too many YAML documents in one file (limit 5)'}],
  },
  {
    name: 'a YAML "billion laughs"',
    files: {'lol.yaml': billionLaughs()},
    errors: [{line: 1, path: '', message: 'document expands to more than 100000 nodes'}],
  },
  {
    name: 'an alias that contains itself',
    files: {'loop.yaml': lines('apiVersion: v1', 'kind: ConfigMap', 'metadata: &m {name: x, labels: *m}')},
    errors: [{line: 1, path: '', message: 'a YAML alias refers to a node that contains it'}],
  },
  {
    name: 'nesting deeper than the limit',
    files: {'deep.yaml': 'a: ' + '['.repeat(200) + ']'.repeat(200) + '\n'},
    errors: [{line: 1, path: '', message: 'nesting exceeded maxDepth (64)'}],
  },
  {
    name: 'a binary file',
    files: {'image.yaml': Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d])},
    errors: [{line: 3, path: '', message: 'binary file (it contains NUL bytes)'}],
  },
  {
    name: 'a file that is not UTF-8',
    files: {'latin1.yaml': Buffer.concat([Buffer.from('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf'), Buffer.from([0xe9]), Buffer.from('}\n')])},
    errors: [{line: 3, path: '', message: 'file is not valid UTF-8 (byte 0xe9); save it as UTF-8'}],
  },
  {
    name: 'a UTF-16 file',
    files: {'utf16.yaml': Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('apiVersion: v1\n', 'utf16le')])},
    errors: [{line: 1, path: '', message: 'file is UTF-16 encoded'}],
  },
]

async function run(c: Case) {
  const dir = mkdtempSync(path.join(tmpdir(), 'podrun-invalid-'))
  const cwd = process.cwd()
  try {
    for (const [name, content] of Object.entries(c.files)) writeFileSync(path.join(dir, name), content)
    process.chdir(dir)
    return await loadDesiredState(Object.keys(c.files), {limits: c.limits})
  } finally {
    process.chdir(cwd)
    rmSync(dir, {recursive: true, force: true})
  }
}

test('the table has at least 40 invalid cases', () => {
  assert.ok(CASES.length >= 40, `${CASES.length} cases`)
})

for (const c of CASES) {
  test(`invalid: ${c.name}`, async () => {
    const state = await run(c)
    const errors = state.diagnostics.filter((d) => d.severity === 'error')
    const show = errors.map((e) => `${e.file}:${e.line}:${e.col}: ${e.path}: ${e.message}`).join('\n')
    const firstFile = Object.keys(c.files)[0]
    for (const want of c.errors) {
      const file = want.file ?? firstFile
      const hit = errors.find((e) => e.file === file && e.line === want.line && e.path === want.path && e.message.includes(want.message))
      assert.ok(hit, `expected ${file}:${want.line}: ${want.path}: …${want.message}…\ngot:\n${show}`)
    }
    assert.equal(errors.length, c.errors.length, `exactly the expected errors, got:\n${show}`)
    assert.equal(state.pods.length, 0, 'no pod of an invalid set is in the desired state')
  })
}
