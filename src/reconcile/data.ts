// The ConfigMap and Secret data that pods of a manifest set reference, as one lookup function
// (decoded to text) for env, envFrom and volumes.
import type {DesiredConfigMap, DesiredSecret} from '../manifest/types.js'
import type {DataLookup} from './container-config.js'
import {objectKey} from '../model/desired.js'

export function dataLookup(configMaps: DesiredConfigMap[], secrets: DesiredSecret[]): DataLookup {
  const cms = new Map(configMaps.map((c) => [c.key, c]))
  const secs = new Map(secrets.map((s) => [s.key, s]))
  const b64 = (o: Record<string, string>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
  return (kind, namespace, name) => {
    const key = objectKey(namespace, name)
    if (kind === 'ConfigMap') {
      const c = cms.get(key)
      return c ? {...b64(c.binaryData), ...c.data} : undefined
    }
    const s = secs.get(key)
    return s ? b64(s.data) : undefined
  }
}
