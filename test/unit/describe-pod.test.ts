// describe pod as kubectl prints it: a crash-looping container's last exit code, its probes,
// env without secret values, mounts, conditions, volumes and counted events.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {Pod} from 'kubernetes-types/core/v1.js'
import {describePod} from '../../src/lib/describe-pod.js'

const NOW = Date.parse('2026-12-03T12:10:00Z')
const pod: Pod = {
  metadata: {name: 'crashy', namespace: 'edge', labels: {app: 'crashy', tier: 'x'}},
  spec: {
    nodeName: 'node-a',
    containers: [
      {
        name: 'main',
        image: 'busybox:1.36',
        command: ['sh', '-c', 'exit 3'],
        ports: [{containerPort: 8080, hostPort: 18080, protocol: 'TCP'}],
        resources: {limits: {memory: '64Mi'}},
        livenessProbe: {httpGet: {path: '/healthz', port: 8080}, periodSeconds: 5},
        env: [{name: 'PLAIN', value: 'shown'}, {name: 'TOKEN', valueFrom: {secretKeyRef: {name: 'creds', key: 'token'}}}],
        volumeMounts: [{name: 'cfg', mountPath: '/cfg'}],
      },
    ],
    volumes: [{name: 'cfg', configMap: {name: 'settings'}}],
  },
  status: {
    phase: 'Running',
    podIP: '10.233.0.9',
    podIPs: [{ip: '10.233.0.9'}],
    hostIP: '192.0.2.1',
    startTime: '2026-12-03T12:00:00Z',
    qosClass: 'Burstable',
    conditions: [{type: 'Ready', status: 'False'}],
    containerStatuses: [
      {
        name: 'main',
        image: 'busybox:1.36',
        imageID: 'sha256:abc',
        containerID: 'containerd://c1',
        ready: false,
        restartCount: 4,
        state: {waiting: {reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container=main pod=crashy'}},
        lastState: {terminated: {exitCode: 3, reason: 'Error', startedAt: '2026-12-03T12:09:00Z', finishedAt: '2026-12-03T12:09:01Z'}},
      },
    ],
  },
}

test('a crash-looping pod: state, last state with its exit code, restarts, probes, env, mounts, volumes, events', () => {
  const text = describePod(pod, [
    {time: '2026-12-03T12:09:30Z', firstTime: '2026-12-03T12:00:05Z', count: 5, type: 'Warning', reason: 'BackOff', message: 'Back-off restarting failed container main'},
  ], NOW)
  for (const line of [
    /^Name:\s+crashy$/m,
    /^Namespace:\s+edge$/m,
    /^Node:\s+node-a\/192\.0\.2\.1$/m,
    /^Labels:\s+app=crashy\n\s+tier=x$/m,
    /^Status:\s+Running$/m,
    /^IP:\s+10\.233\.0\.9$/m,
    /^ {4}State:\s+Waiting\n {6}Reason:\s+CrashLoopBackOff$/m,
    /^ {4}Last State:\s+Terminated\n {6}Reason:\s+Error\n {6}Exit Code:\s+3$/m,
    /^ {4}Restart Count:\s+4$/m,
    /^ {4}Port:\s+8080\/TCP\n {4}Host Port:\s+18080\/TCP$/m,
    /^ {4}Liveness:\s+http-get http:\/\/:8080\/healthz delay=0s timeout=1s period=5s #success=1 #failure=3$/m,
    /^ {6}PLAIN:\s+shown$/m,
    /^ {6}TOKEN:\s+<set to the key 'token' in secret 'creds'>\s+Optional: false$/m,
    /^ {6}\/cfg from cfg \(ro\)$/m,
    /^ {4}Type:\s+ConfigMap \(a volume populated by a ConfigMap\)$/m,
    /^QoS Class:\s+Burstable$/m,
    /^ {2}Warning\s+BackOff\s+30s \(x5 over 9m55s\)\s+podrun\s+Back-off restarting failed container main$/m,
  ]) {
    assert.match(text, line)
  }
})

test('without a daemon, events are said to be unknown, not absent', () => {
  assert.match(describePod(pod, undefined, NOW), /^Events:\s+<unknown: no podrun daemon answers/m)
  assert.match(describePod(pod, [], NOW), /^Events:\s+<none>$/m)
})
