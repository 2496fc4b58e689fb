// Pods as kubectl users name them on the command line: NAME, or pod/NAME (pods/, po/ too).

const PREFIX = /^(?:pods?|po)\//

/** The name in NAME or pod/NAME. */
export const podName = (arg: string): string => arg.replace(PREFIX, '')

/** The name in pod/NAME, or undefined when the argument has no pod/ prefix. */
export const prefixedPodName = (arg: string): string | undefined => (PREFIX.test(arg) ? podName(arg) || undefined : undefined)
