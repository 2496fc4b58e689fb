// A namespace given on the command line is checked as the API server checks one (a DNS-1123
// label), so a typo is an error rather than an empty answer.
import {dns1123Label} from '../manifest/k8s-names.js'
import {PodrunError} from './errors.js'

export function checkNamespace(ns: string): void {
  const why = dns1123Label(ns)
  if (why) throw new PodrunError(`invalid namespace "${ns}": ${why}`, {reason: 'Usage'})
}
