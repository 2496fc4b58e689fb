// The CRI types podrun works with, re-exported from the generated bindings so the rest of the code
// never imports src/gen/ directly.
//
// Message types are re-exported as types only (free to import). The enums are values: importing
// them loads the generated module and with it @grpc/grpc-js, so keep them out of code that
// `podrun --help` loads.
export type {
  AuthConfig,
  Capability,
  Container,
  ContainerAttributes,
  ContainerConfig,
  ContainerEventResponse,
  ContainerFilter,
  ContainerMetadata,
  ContainerStats,
  ContainerStatsFilter,
  ContainerStatus,
  ContainerStatusResponse,
  CpuUsage,
  DNSConfig,
  DeepPartial,
  Device,
  FilesystemUsage,
  Image,
  ImageFilter,
  ImageFsInfoResponse,
  ImageSpec,
  ImageStatusResponse,
  Int64Value,
  KeyValue,
  LinuxContainerConfig,
  LinuxContainerResources,
  LinuxContainerSecurityContext,
  LinuxPodSandboxConfig,
  LinuxSandboxSecurityContext,
  MemoryUsage,
  Mount,
  NamespaceOption,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxFilter,
  PodSandboxMetadata,
  PodSandboxNetworkStatus,
  PodSandboxStatus,
  PodSandboxStatusResponse,
  PortMapping,
  RuntimeCondition,
  RuntimeStatus,
  SecurityProfile,
  StatusResponse,
  VersionResponse,
} from '../gen/runtime/v1/api.js'

export {
  ContainerEventType,
  ContainerState,
  MountPropagation,
  NamespaceMode,
  PodSandboxState,
  Protocol,
  SecurityProfile_ProfileType,
  Signal,
} from '../gen/runtime/v1/api.js'

/** The condition types every CRI runtime reports in Status. */
export const RUNTIME_READY = 'RuntimeReady'
export const NETWORK_READY = 'NetworkReady'
