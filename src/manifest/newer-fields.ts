// Fields that Kubernetes added after the version podrun's schemas are pinned to. They are unknown to
// the schema like any typo, but the message can say what they are and when they came.
// Keyed by "<Definition>.<field>" as in src/gen/schema/fields.ts.

export interface NewerField {
  /** The Kubernetes minor version that introduced the field (as alpha or later). */
  since: string
  feature: string
}

export const NEWER_FIELDS: Readonly<Record<string, NewerField>> = {
  'PodSpec.resources': {since: '1.32', feature: 'pod-level resources'},
  'PodSecurityContext.supplementalGroupsPolicy': {since: '1.31', feature: 'supplemental groups policy'},
  'Volume.image': {since: '1.31', feature: 'image volumes'},
  'Lifecycle.stopSignal': {since: '1.33', feature: 'container stop signals'},
  'Container.restartPolicyRules': {since: '1.34', feature: 'container restart rules'},
  'EnvVarSource.fileKeyRef': {since: '1.34', feature: 'environment variables from files'},
  'VolumeProjection.podCertificate': {since: '1.34', feature: 'pod certificate projection'},
}
