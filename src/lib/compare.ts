// Names are ordered as the Kubernetes API lists them: by code unit, the same on every machine,
// whatever its locale.

/** -1, 0, 1 as a sorts before, with, after b. */
export function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
