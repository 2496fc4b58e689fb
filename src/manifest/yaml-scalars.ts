// How plain (unquoted) YAML scalars become values: as kubectl reads them, not as YAML 1.2 would.
//
// kubectl turns YAML into JSON with sigs.k8s.io/yaml, which uses go-yaml v2, which follows YAML 1.1:
//   - `0644` is octal (420): the usual way to write `defaultMode` and item `mode`s;
//   - `yes`, `no`, `on`, `off`, `y`, `n` (in their capitalisations) are booleans, so `value: yes`
//     is rejected for a string field, as kubectl rejects it;
//   - `0x1F`, `0o17`, `0b101` and `1_000` are integers.
// js-yaml's YAML 1.2 core schema reads `0644` as 644 and `yes` as a string, which would make podrun
// accept and run manifests differently from Kubernetes. Timestamps are left as strings (the API
// has no timestamp field a pod manifest sets), and merge keys (`<<: *base`) are supported.
import yaml from 'js-yaml'

const jsYamlTypes = (yaml as unknown as {types: Record<string, yaml.Type>}).types

const TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'])
const FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'])

const bool11 = new yaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && (TRUE.has(data) || FALSE.has(data)),
  construct: (data: string) => TRUE.has(data),
  predicate: (v: object) => typeof v === 'boolean',
  represent: (v: object) => String(v),
})

/** Go's strconv.ParseInt(s, 0, 64) after removing underscores, as go-yaml v2 does. */
const INT = /^[-+]?(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]+|[1-9][0-9]*|0)$/

const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && INT.test(data.replace(/_/g, '')),
  construct: (data: string) => {
    let s = data.replace(/_/g, '')
    let sign = 1
    if (s[0] === '-' || s[0] === '+') {
      if (s[0] === '-') sign = -1
      s = s.slice(1)
    }
    let n: number
    if (/^0[xX]/.test(s)) n = parseInt(s.slice(2), 16)
    else if (/^0[oO]/.test(s)) n = parseInt(s.slice(2), 8)
    else if (/^0[bB]/.test(s)) n = parseInt(s.slice(2), 2)
    else if (s.length > 1 && s[0] === '0') n = parseInt(s.slice(1), 8)
    else n = parseInt(s, 10)
    return sign * n
  },
  predicate: (v: object) => typeof v === 'number' && Number.isInteger(v),
  represent: (v: object) => String(v),
})

/** The schema podrun parses manifests with. */
export const KUBECTL_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [jsYamlTypes.null, bool11, int11, jsYamlTypes.float, jsYamlTypes.merge],
})
