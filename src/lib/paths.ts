// Where podrun keeps files on the host. No state lives here: pod volumes and logs only.
import path from 'node:path'

/** Pod folders (volumes): $PODRUN_ROOT/pods, default /var/lib/podrun/pods. */
export function podRoot(): string {
  return path.join(process.env.PODRUN_ROOT ?? '/var/lib/podrun', 'pods')
}

/** Pod log folders in the kubelet layout: $PODRUN_LOG_ROOT, default /var/log/pods (where log shippers look). */
export function logRoot(): string {
  return process.env.PODRUN_LOG_ROOT ?? '/var/log/pods'
}

/**
 * The kubelet's links to each container's log, `<pod>_<namespace>_<container>-<id>.log`:
 * $PODRUN_CONTAINER_LOG_ROOT, default the `containers` folder beside the log root (/var/log/containers).
 */
export function containerLogLinkRoot(): string {
  return process.env.PODRUN_CONTAINER_LOG_ROOT ?? path.join(path.dirname(logRoot()), 'containers')
}

/** Where `seccompProfile.localhostProfile` files are found (the kubelet's seccomp root): $PODRUN_SECCOMP_ROOT, default $PODRUN_ROOT/seccomp. */
export function seccompRoot(): string {
  return process.env.PODRUN_SECCOMP_ROOT ?? path.join(process.env.PODRUN_ROOT ?? '/var/lib/podrun', 'seccomp')
}

/** podrun's cgroup subtree (cgroupfs): $PODRUN_CGROUP_ROOT, default /podrun. */
export function cgroupRoot(): string {
  return process.env.PODRUN_CGROUP_ROOT ?? '/podrun'
}

/**
 * `root/part/...` where each part must be one plain path component. Parts may come from data read
 * back from the runtime (labels, annotations), which anyone with the runtime's socket can write:
 * a `..` or a `/` there must not steer a recursive removal outside podrun's folders.
 */
export function joinInside(root: string, ...parts: string[]): string {
  for (const p of parts) {
    if (p === '' || p === '.' || p === '..' || p.includes('/') || p.includes('\0')) {
      throw new Error(`refusing a path component ${JSON.stringify(p)} under ${root}: not a plain name`)
    }
  }
  return path.join(root, ...parts)
}
