// What a standalone node cannot do: the Pod fields podrun ignores with a warning (scheduling and
// other control-plane matters that make no difference on one machine), and those it rejects because
// running the pod without them would be wrong. The README's table is rendered from this data
// (renderStandaloneTable), so the documentation and the behaviour cannot drift apart.
import {findPaths as pattern, isRecord} from './field-path.js'
import type {FieldPath} from './types.js'

export type StandaloneAction = 'ignore' | 'reject'

export interface StandaloneRule {
  /** The field(s) as shown in the README. */
  field: string
  /** When the rule applies, if not always (shown next to the field). */
  only?: string
  action: StandaloneAction
  /** Why; ends the diagnostic message. */
  reason: string
  /** The concrete paths in a Pod that this rule applies to. */
  find: (pod: Record<string, unknown>) => FieldPath[]
}

const CONTAINER_LISTS = ['containers', 'initContainers'] as const


function anyOf(...finders: Array<(pod: Record<string, unknown>) => FieldPath[]>): (pod: Record<string, unknown>) => FieldPath[] {
  return (pod) => finders.flatMap((f) => f(pod))
}

function inContainers(rest: string, when?: (value: unknown) => boolean): (pod: Record<string, unknown>) => FieldPath[] {
  return pattern(`spec.{${CONTAINER_LISTS.join(',')}}[*].${rest}`, when)
}

/** Resource names a standalone node provides: cpu, memory, ephemeral storage, huge pages. */
export function isNodeResource(name: string): boolean {
  return name === 'cpu' || name === 'memory' || name === 'ephemeral-storage' || name.startsWith('hugepages-')
}

const allResources = inContainers('resources.{limits,requests}.*')
const allAnnotations = pattern('metadata.annotations.*')
const generateName = pattern('metadata.generateName')
const extendedResources = (pod: Record<string, unknown>): FieldPath[] =>
  allResources(pod).filter((p) => typeof p[p.length - 1] === 'string' && !isNodeResource(String(p[p.length - 1])))

const CLUSTER_VOLUMES = [
  'awsElasticBlockStore', 'azureDisk', 'azureFile', 'cephfs', 'cinder', 'csi', 'fc', 'flexVolume', 'flocker',
  'gcePersistentDisk', 'gitRepo', 'glusterfs', 'iscsi', 'nfs', 'photonPersistentDisk', 'portworxVolume', 'quobyte',
  'rbd', 'scaleIO', 'storageos', 'vsphereVolume',
]

const SERVER_SET_METADATA = [
  'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds',
  'managedFields', 'selfLink',
]

const NO_SCHEDULER = 'podrun runs every pod on this machine; there is no scheduler'

export const STANDALONE_RULES: readonly StandaloneRule[] = [
  // Ignored, with a warning.
  {field: 'spec.nodeName', action: 'ignore', reason: NO_SCHEDULER, find: pattern('spec.nodeName')},
  {field: 'spec.nodeSelector', action: 'ignore', reason: NO_SCHEDULER, find: pattern('spec.nodeSelector')},
  {field: 'spec.affinity', action: 'ignore', reason: NO_SCHEDULER, find: pattern('spec.affinity')},
  {field: 'spec.tolerations', action: 'ignore', reason: 'no node taints to tolerate: there is no scheduler', find: pattern('spec.tolerations')},
  {field: 'spec.topologySpreadConstraints', action: 'ignore', reason: NO_SCHEDULER, find: pattern('spec.topologySpreadConstraints')},
  {
    field: 'spec.schedulingGates',
    action: 'ignore',
    reason: 'there is no scheduler to hold the pod back: podrun starts it without waiting for the gates to be removed',
    find: pattern('spec.schedulingGates'),
  },
  {
    field: 'spec.schedulerName',
    only: 'other than default-scheduler',
    action: 'ignore',
    reason: NO_SCHEDULER,
    find: pattern('spec.schedulerName', (v) => v !== 'default-scheduler'),
  },
  {
    field: 'spec.priority, spec.priorityClassName, spec.preemptionPolicy',
    action: 'ignore',
    reason: 'no scheduler, so no preemption by priority',
    find: pattern('spec.{priority,priorityClassName,preemptionPolicy}'),
  },
  {field: 'spec.overhead', action: 'ignore', reason: 'pod overhead is set by RuntimeClass admission in a cluster', find: pattern('spec.overhead')},
  {
    field: 'spec.readinessGates',
    action: 'ignore',
    reason: 'no controller sets those conditions; readiness comes from the containers alone',
    find: pattern('spec.readinessGates'),
  },
  {
    field: 'spec.serviceAccountName, spec.serviceAccount',
    action: 'ignore',
    reason: 'there is no API server, so no service accounts (and no token is mounted)',
    find: pattern('spec.{serviceAccountName,serviceAccount}'),
  },
  {
    field: 'spec.automountServiceAccountToken',
    only: 'when true',
    action: 'ignore',
    reason: 'there is no API server to issue a token',
    find: pattern('spec.automountServiceAccountToken', (v) => v === true),
  },
  {
    field: 'spec.enableServiceLinks',
    only: 'when true',
    action: 'ignore',
    reason: 'there are no Services, so no service environment variables',
    find: pattern('spec.enableServiceLinks', (v) => v === true),
  },
  {
    field: 'spec.securityContext.windowsOptions, spec.{containers,initContainers}[*].securityContext.windowsOptions',
    action: 'ignore',
    reason: 'podrun runs Linux containers (Kubernetes ignores these on Linux too)',
    find: anyOf(pattern('spec.securityContext.windowsOptions'), inContainers('securityContext.windowsOptions')),
  },
  {
    field: 'metadata.annotations["seccomp.security.alpha.kubernetes.io/pod"], metadata.annotations["container.seccomp.security.alpha.kubernetes.io/*"]',
    action: 'ignore',
    reason: 'the deprecated seccomp annotations are not honoured (the kubelet stopped honouring them for static pods in Kubernetes 1.25); set securityContext.seccompProfile',
    find: (pod) =>
      allAnnotations(pod).filter((p) => {
        const key = String(p[p.length - 1])
        return key === 'seccomp.security.alpha.kubernetes.io/pod' || key.startsWith('container.seccomp.security.alpha.kubernetes.io/')
      }),
  },
  {
    field: 'metadata.generateName',
    only: 'when metadata.name is set',
    action: 'ignore',
    reason: 'metadata.name is used (without a name, generateName is an error: podrun needs a fixed name)',
    find: (pod) => (isRecord(pod.metadata) && typeof pod.metadata.name === 'string' ? generateName(pod) : []),
  },
  {
    field: 'metadata.ownerReferences, metadata.finalizers',
    action: 'ignore',
    reason: 'there are no controllers and no garbage collector',
    find: pattern('metadata.{ownerReferences,finalizers}'),
  },
  {
    field: `metadata.{${SERVER_SET_METADATA.join(', ')}}`,
    action: 'ignore',
    reason: 'these are set by the API server',
    find: pattern(`metadata.{${SERVER_SET_METADATA.join(',')}}`),
  },
  {field: 'status', action: 'ignore', reason: 'podrun reports status; it does not read it from manifests', find: pattern('status')},
  {
    field: 'spec.{containers,initContainers}[*].resizePolicy',
    action: 'ignore',
    reason: 'podrun replaces a container whose resources change; it does not resize in place (Kubernetes 1.30 needs an alpha feature gate for it too)',
    find: inContainers('resizePolicy'),
  },
  {
    field: 'spec.{containers,initContainers}[*].resources.{limits,requests}.ephemeral-storage',
    action: 'ignore',
    reason: 'not enforced: podrun has no eviction manager (the container is not evicted when it writes more)',
    find: inContainers('resources.{limits,requests}.ephemeral-storage'),
  },
  {
    field: 'spec.volumes[*].emptyDir.sizeLimit',
    only: 'on disk, without medium: Memory',
    action: 'ignore',
    reason: 'not enforced on disk: podrun has no eviction manager (with medium: Memory the volume is a tmpfs of that size)',
    find: (pod) => pattern('spec.volumes[*].emptyDir')(pod).flatMap((p) => {
      const dir = p.reduce<unknown>((o, k) => (isRecord(o) || Array.isArray(o) ? (o as Record<string | number, unknown>)[k] : undefined), pod)
      return isRecord(dir) && dir.sizeLimit !== undefined && dir.medium !== 'Memory' ? [[...p, 'sizeLimit']] : []
    }),
  },

  // Rejected, with an error.
  {
    field: 'spec.volumes[*].persistentVolumeClaim',
    action: 'reject',
    reason: 'a PersistentVolumeClaim needs a control plane to bind it to a volume; use a hostPath (or emptyDir) volume',
    find: pattern('spec.volumes[*].persistentVolumeClaim'),
  },
  {
    field: 'spec.volumes[*].ephemeral',
    action: 'reject',
    reason: 'a generic ephemeral volume is a PersistentVolumeClaim made by the control plane; use emptyDir',
    find: pattern('spec.volumes[*].ephemeral'),
  },
  {
    field: `spec.volumes[*].{${CLUSTER_VOLUMES.join(', ')}}`,
    action: 'reject',
    reason: 'this volume type needs a volume plugin or CSI driver that podrun does not have; mount the storage on the host and use a hostPath volume',
    find: pattern(`spec.volumes[*].{${CLUSTER_VOLUMES.join(',')}}`),
  },
  {
    field: 'spec.volumes[*].projected.sources[*].serviceAccountToken',
    action: 'reject',
    reason: 'service account tokens are issued by the API server, which a standalone node does not have',
    find: pattern('spec.volumes[*].projected.sources[*].serviceAccountToken'),
  },
  {
    field: 'spec.volumes[*].projected.sources[*].clusterTrustBundle',
    action: 'reject',
    reason: 'ClusterTrustBundle objects live in the API server, which a standalone node does not have',
    find: pattern('spec.volumes[*].projected.sources[*].clusterTrustBundle'),
  },
  {
    field: 'spec.resourceClaims, spec.{containers,initContainers}[*].resources.claims',
    action: 'reject',
    reason: 'dynamic resource allocation needs the control plane',
    find: anyOf(pattern('spec.resourceClaims'), inContainers('resources.claims')),
  },
  {
    field: 'spec.{containers,initContainers}[*].resources.{limits,requests}',
    only: 'extended resources: anything but cpu, memory, ephemeral-storage, hugepages-*',
    action: 'reject',
    reason: 'no device plugin provides it on a standalone node',
    find: extendedResources,
  },
  {
    field: 'spec.{containers,initContainers}[*].volumeDevices',
    action: 'reject',
    reason: 'a volumeDevice is the raw block device of a block-mode PersistentVolumeClaim, which needs a control plane; mount the device with a hostPath volume of type BlockDevice',
    find: inContainers('volumeDevices'),
  },
  {
    field: 'spec.hostUsers',
    only: 'when false',
    action: 'reject',
    reason: 'user namespaces need ID ranges that podrun does not allocate yet: the pod would run in the host\'s user namespace',
    find: pattern('spec.hostUsers', (v) => v === false),
  },
  {
    field: 'spec.volumes[*].emptyDir.medium',
    only: 'HugePages',
    action: 'reject',
    reason: 'hugepage-backed emptyDir volumes are not supported yet; use medium: Memory',
    find: pattern('spec.volumes[*].emptyDir.medium', (v) => typeof v === 'string' && v.startsWith('HugePages')),
  },
  {
    field: 'spec.ephemeralContainers',
    action: 'reject',
    reason: 'ephemeral containers are added to a running pod through the API, never in a manifest (the API server refuses them at creation too)',
    find: pattern('spec.ephemeralContainers'),
  },
  {
    field: 'spec.os.name',
    only: 'other than linux',
    action: 'reject',
    reason: 'podrun runs Linux containers',
    find: pattern('spec.os.name', (v) => v !== 'linux'),
  },
]

export interface StandaloneFinding {
  path: FieldPath
  action: StandaloneAction
  message: string
}

/** The ignored and rejected fields present in a Pod. */
export function standaloneFindings(pod: Record<string, unknown>): StandaloneFinding[] {
  const out: StandaloneFinding[] = []
  for (const rule of STANDALONE_RULES) {
    for (const path of rule.find(pod)) {
      out.push({
        path,
        action: rule.action,
        message: rule.action === 'ignore' ? `ignored on a standalone node: ${rule.reason}` : `not supported on a standalone node: ${rule.reason}`,
      })
    }
  }
  return out
}

/** The README table (markdown) of what podrun ignores and rejects. */
export function renderStandaloneTable(): string {
  const rows = STANDALONE_RULES.map(
    (r) =>
      `| \`${r.field}\`${r.only ? ` (${r.only})` : ''} | ${r.action === 'ignore' ? 'ignored, with a warning' : 'rejected, with an error'} | ${r.reason} |`,
  )
  return ['| Pod field | podrun | why |', '|---|---|---|', ...rows].join('\n') + '\n'
}
