// Printing objects for machines: JSON (2-space indent) or YAML, always to stdout.
import yaml from 'js-yaml'

export type OutputFormat = 'json' | 'yaml'

export function printObject(obj: unknown, format: OutputFormat): void {
  const text = format === 'json' ? JSON.stringify(obj, null, 2) + '\n' : yaml.dump(obj, {noRefs: true, lineWidth: -1, sortKeys: false})
  process.stdout.write(text)
}
