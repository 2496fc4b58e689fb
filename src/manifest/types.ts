// The shapes shared by the manifest modules: diagnostics, limits, loaded documents and objects, and
// the desired state that loadDesiredState() returns.
import type {DesiredPod, SourceRef} from '../model/desired.js'
import type {PodSecurityPolicy} from './pod-security.js'
import type {RemoteOptions} from './remote.js'

export type Severity = 'error' | 'warning'

/** One problem found in the manifests, pointing at the place a person has to edit. */
export interface Diagnostic {
  severity: Severity
  /** File path as given by the user (or "<stdin>"). */
  file: string
  /** 1-based line and column; 0 when the problem concerns the whole file (e.g. it cannot be read). */
  line: number
  col: number
  /** Dotted path of the field inside the YAML document, e.g. `spec.containers[0].image`; "" for none. */
  path: string
  message: string
  /** The object the problem belongs to, e.g. "Pod default/web"; absent for file-level problems. */
  object?: string
  /** "unsigned": the content has no valid signature by one of --verify-key (refused whole). */
  code?: 'unsigned'
}

/** Bounds on hostile or accidental input; each is a clear error past its value. */
export interface Limits {
  /** Bytes per file (and for stdin). */
  maxFileBytes: number
  /** YAML documents per file. */
  maxDocumentsPerFile: number
  /** Nodes per document after YAML aliases are expanded (stops "billion laughs"). */
  maxNodesPerDocument: number
  /** Nesting depth of collections. */
  maxDepth: number
  /** Files per run (directories can be large). */
  maxFiles: number
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFileBytes: 4 * 1024 * 1024,
  maxDocumentsPerFile: 1000,
  maxNodesPerDocument: 100_000,
  maxDepth: 64,
  maxFiles: 10_000,
})

/** A path inside a document: keys and list indexes. */
export type FieldPath = ReadonlyArray<string | number>

export interface Position {
  /** 1-based. */
  line: number
  col: number
}

/** Where each node of one YAML document starts: by JSON pointer of its path. */
export interface NodePositions {
  /** Start of the node's value. */
  value: Map<string, Position>
  /** Start of the mapping key that leads to the node (absent for list items and the root). */
  key: Map<string, Position>
}

/** One parsed YAML document of one file. */
export interface SourceDocument {
  file: string
  /** 0-based index of the document in its file. */
  doc: number
  value: unknown
  positions: NodePositions
  /** Where the document's content starts (known without working out `positions`). */
  start: Position
  /** The whole text of the file (shared, not copied), to quote what was written. */
  text: string
}

/** A Kubernetes object found in a document (the document itself, or an item of a `List`). */
export interface ManifestObject {
  kind: string
  apiVersion: string
  name: string
  namespace: string
  /** The object as parsed (a JSON-like value: null mapping values dropped, aliases expanded). */
  value: Record<string, unknown>
  source: SourceDocument
  /** Where the object sits inside its document: [] for the document itself, ["items", 3] in a List. */
  base: FieldPath
  origin: SourceRef
}

export interface DesiredConfigMap {
  key: string
  name: string
  namespace: string
  data: Record<string, string>
  /** base64, as in the manifest. */
  binaryData: Record<string, string>
  immutable: boolean
  /** Hash of the content (data and binaryData), so a consumer can tell that it changed. */
  hash: string
  origin: SourceRef
}

export interface DesiredSecret {
  key: string
  name: string
  namespace: string
  type: string
  /** base64 values; `stringData` merged in (it wins over `data`, as in Kubernetes). */
  data: Record<string, string>
  immutable: boolean
  hash: string
  origin: SourceRef
}

export interface DesiredState {
  /** Pods without errors (their referenced ConfigMaps and Secrets included). */
  pods: DesiredPod[]
  configMaps: DesiredConfigMap[]
  secrets: DesiredSecret[]
  diagnostics: Diagnostic[]
  /** The files that were read, as displayed in diagnostics, in reading order. */
  files: string[]
  /** Every object found, valid or not ("Pod default/web"), by file: what an error in a file affects. */
  objects: Array<{file: string; kind: string; key: string; valid: boolean}>
}

export interface LoadOptions {
  /** Descend into subdirectories of directories given with -f. */
  recursive?: boolean
  /** What "-" reads; defaults to process.stdin. */
  stdin?: NodeJS.ReadableStream
  /** The `source` label value of a pod coming from `file`; defaults to the file's absolute path. */
  source?: (file: string) => string
  /** Override limits (tests use small ones). */
  limits?: Partial<Limits>
  /** Pod Security Standards to hold pods to (pod-security.ts); none: no check. */
  podSecurity?: PodSecurityPolicy
  /** How URLs are read, and the keys a source must be signed by (remote.ts). */
  remote?: RemoteOptions
}
