#!/usr/bin/env bash
# podrun's real-runtime harness: a private containerd (CRI v1) with a CNI bridge, a pause image,
# and a local image registry serving a busybox test image, all kept in one state folder.
#
#   bash scripts/runtime.sh up           start (or reuse) everything; prints the environment last
#   bash scripts/runtime.sh down         remove all pods through the CRI, stop everything
#   bash scripts/runtime.sh down --purge the same, then delete the state folder
#   bash scripts/runtime.sh status       what runs; exit 0 when containerd and registry are up
#   bash scripts/runtime.sh env          `export KEY=value` lines: eval "$(bash scripts/runtime.sh env)"
#   bash scripts/runtime.sh restart-containerd [SECONDS]
#                                        stop containerd (pods keep running), wait SECONDS (0), start it
#   bash scripts/runtime.sh power-cut    what a power cut does to the runtime: containerd, its shims
#                                        and every container killed at once, its state folder (the
#                                        /run part, lost at boot) emptied; then containerd starts as
#                                        at boot, its pods' sandboxes NOTREADY, containers EXITED
#
# Settings: PODRUN_STATE_DIR (default <project>/.state/runtime), PODRUN_REGISTRY_PORT (5055).
# Progress goes to stderr; only the KEY=value lines go to stdout.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
PROJECT_ROOT=$(cd "$SCRIPT_DIR/.." && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/images.sh
source "$SCRIPT_DIR/lib/images.sh"

STATE_DIR=$(realpath -m "${PODRUN_STATE_DIR:-$PROJECT_ROOT/.state/runtime}")
REGISTRY_PORT=${PODRUN_REGISTRY_PORT:-5055}
REGISTRY_HOST=127.0.0.1:$REGISTRY_PORT
# A port where tests put a registry that asks for credentials (imagePullSecrets); containerd is
# told it speaks plain HTTP. Nothing listens there unless a test does.
AUTH_REGISTRY_HOST=127.0.0.1:$((REGISTRY_PORT + 1))

SOCK=$STATE_DIR/containerd.sock
ENDPOINT=unix://$SOCK
CONTAINERD_PID_FILE=$STATE_DIR/containerd.pid
CONTAINERD_LOG=$STATE_DIR/containerd.log
REGISTRY_PID_FILE=$STATE_DIR/registry.pid
REGISTRY_LOG=$STATE_DIR/registry.log
CONFIG_DIR=$STATE_DIR/config
CONTAINERD_CONFIG=$CONFIG_DIR/containerd.toml
REGISTRY_CONFIG=$CONFIG_DIR/registry.yml
SKOPEO_POLICY=$CONFIG_DIR/policy.json
CERTS_DIR=$CONFIG_DIR/certs.d
CNI_CONF_DIR=$STATE_DIR/cni/net.d
CONTAINERD_ROOT=$STATE_DIR/containerd/root
CONTAINERD_STATE=$STATE_DIR/containerd/state
RUNC_ROOT=$STATE_DIR/runc
REGISTRY_DATA=$STATE_DIR/registry
IMAGES_DIR=$STATE_DIR/images/$PODRUN_IMAGE_RECIPE

CNI_BIN_DIR=/usr/lib/cni
CNI_NETWORK=podrun-dev
CNI_BRIDGE=podrun0
CNI_SUBNET=10.233.0.0/24
CNI_IFNAME=eth0 # the interface name containerd's CRI plugin gives pods
HOST_LOCAL_DIR=/var/lib/cni/networks/$CNI_NETWORK
CRI_NAMESPACE=k8s.io

PAUSE_REPO=podrun.local/pause
PAUSE_TAG=1
PAUSE_REF=$PAUSE_REPO:$PAUSE_TAG
BUSYBOX_TAG=1.35
TEST_IMAGE=$REGISTRY_HOST/podrun/busybox:$BUSYBOX_TAG
TEST_IMAGE_V2=$REGISTRY_HOST/podrun/busybox:v2
TEST_IMAGE_OTHER=$REGISTRY_HOST/podrun/busybox:other

APT_PACKAGES=(containerd runc containernetworking-plugins busybox-static catatonit umoci skopeo
  docker-registry iptables iproute2 mount openssl openssh-client)

log() { printf 'runtime: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# processes: always identified by pid file + /proc/PID/cmdline, never by name

pid_alive() { # PID: running and not a zombie
  local stat
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  { read -r stat </proc/"$1"/stat; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# proc_is PID PROGRAM NEEDLE: PID runs PROGRAM (basename of argv[0]) with NEEDLE among its args.
proc_is() {
  local pid=$1 prog=$2 needle=$3 arg
  local -a argv
  pid_alive "$pid" || return 1
  { mapfile -d '' -t argv </proc/"$pid"/cmdline; } 2>/dev/null || return 1
  ((${#argv[@]})) || return 1
  [[ ${argv[0]##*/} == "$prog" ]] || return 1
  for arg in "${argv[@]:1}"; do
    [[ $arg == "$needle" ]] && return 0
  done
  return 1
}

read_pid_file() { # FILE: prints the pid it holds, if any
  local pid=
  if [[ -f $1 ]]; then
    read -r pid <"$1" 2>/dev/null || true
  fi
  [[ $pid =~ ^[0-9]+$ ]] && printf '%s\n' "$pid"
  return 0
}

# find_proc PROG NEEDLE: a process running PROG with the argument NEEDLE (this state folder's
# config file), for when its pid file was lost.
find_proc() {
  local f pid
  for f in $(grep -lsaF -- "$2" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    if proc_is "$pid" "$1" "$2"; then
      printf '%s\n' "$pid"
      return 0
    fi
  done
  return 0
}

# daemon_pid PIDFILE PROG CONFIG: the pid of this state folder's PROG, if it runs.
daemon_pid() {
  local pid
  pid=$(read_pid_file "$1")
  if [[ -n $pid ]] && proc_is "$pid" "$2" "$3"; then
    printf '%s\n' "$pid"
    return 0
  fi
  pid=$(find_proc "$2" "$3")
  if [[ -n $pid ]]; then
    printf '%s\n' "$pid" >"$1"
    printf '%s\n' "$pid"
  fi
  return 0
}

containerd_pid() { daemon_pid "$CONTAINERD_PID_FILE" containerd "$CONTAINERD_CONFIG"; }
registry_pid() { daemon_pid "$REGISTRY_PID_FILE" docker-registry "$REGISTRY_CONFIG"; }

# stop_pid NAME PID PROG NEEDLE [GRACE]: SIGTERM, wait up to GRACE seconds (10), then SIGKILL.
stop_pid() {
  local name=$1 pid=$2 prog=$3 needle=$4 grace=${5:-10} i
  proc_is "$pid" "$prog" "$needle" || return 0
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.1
  done
  if proc_is "$pid" "$prog" "$needle"; then
    log "$name (pid $pid) did not stop within $grace s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      pid_alive "$pid" || return 0
      sleep 0.1
    done
    die "$name (pid $pid) survived SIGKILL"
  fi
}

# Shims of this containerd: containerd-shim-runc-v2 -namespace NS -id ID -address $SOCK
shim_pids() {
  local f pid
  local -a argv
  for f in $(grep -lsaF -- "$SOCK" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    { mapfile -d '' -t argv <"$f"; } 2>/dev/null || continue
    ((${#argv[@]})) || continue
    [[ ${argv[0]##*/} == containerd-shim* ]] || continue
    proc_is "$pid" "${argv[0]##*/}" "$SOCK" && printf '%s\n' "$pid"
  done
  return 0
}

argv0_base() { # PID
  local -a argv
  { mapfile -d '' -t argv </proc/"$1"/cmdline; } 2>/dev/null || return 0
  ((${#argv[@]})) && printf '%s\n' "${argv[0]##*/}"
  return 0
}

shim_id_of() { # PID: the -id argument of a shim
  local -a argv
  local i
  { mapfile -d '' -t argv </proc/"$1"/cmdline; } 2>/dev/null || return 0
  for ((i = 1; i < ${#argv[@]} - 1; i++)); do
    [[ ${argv[i]} == -id ]] && printf '%s\n' "${argv[i + 1]}"
  done
  return 0
}

# Is any containerd shim (of any containerd on this machine) serving the task ID?
shim_alive_for_id() {
  local f pid
  for f in $(grep -lsaF -- "$1" /proc/[0-9]*/cmdline 2>/dev/null || true); do
    pid=${f#/proc/}
    pid=${pid%/cmdline}
    [[ $(shim_id_of "$pid") == "$1" ]] || continue
    local -a argv
    { mapfile -d '' -t argv <"$f"; } 2>/dev/null || continue
    [[ ${argv[0]##*/} == containerd-shim* ]] && pid_alive "$pid" && return 0
  done
  return 1
}

# ---------------------------------------------------------------------------------------------
# mounts, CNI leftovers

mounts_under_state() { # deepest first
  local line mp
  local -a mps=()
  while read -r line; do
    mp=$(cut -d' ' -f5 <<<"$line")
    mp=$(printf '%b' "$mp") # mountinfo escapes spaces etc. as \040
    if [[ $mp == "$STATE_DIR" || $mp == "$STATE_DIR"/* ]]; then
      mps+=("$mp")
    fi
  done < <(grep -F -- " $STATE_DIR" /proc/self/mountinfo || true)
  local i
  for ((i = ${#mps[@]} - 1; i >= 0; i--)); do
    printf '%s\n' "${mps[i]}"
  done
}

unmount_state() {
  local mp n=0
  while read -r mp; do
    [[ -n $mp ]] || continue
    umount "$mp" 2>/dev/null || umount -l "$mp" 2>/dev/null || log "warning: could not unmount $mp"
    n=$((n + 1))
  done < <(mounts_under_state)
  ((n == 0)) || log "unmounted $n leftover mount(s) under $STATE_DIR"
  # Network namespace files whose pod was not removed through the CRI: plain files once unmounted.
  local f
  for f in "$CONTAINERD_STATE/io.containerd.grpc.v1.cri/netns"/cni-*; do
    [[ -f $f ]] && ! mountpoint -q "$f" && rm -f "$f"
  done
  return 0
}

cni_plugin_conf() { # TYPE: the stdin config of one plugin of the podrun-dev conflist
  case $1 in
  bridge)
    printf '{"cniVersion":"0.4.0","name":"%s","type":"bridge","bridge":"%s","isGateway":true,"ipMasq":false,"hairpinMode":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"%s"}]],"routes":[{"dst":"0.0.0.0/0"}]}}' \
      "$CNI_NETWORK" "$CNI_BRIDGE" "$CNI_SUBNET"
    ;;
  portmap)
    # DEL only needs to know that mappings existed: the chain names come from network + id.
    printf '{"cniVersion":"0.4.0","name":"%s","type":"portmap","capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[{"hostPort":1,"containerPort":1,"protocol":"tcp"}]}}' \
      "$CNI_NETWORK"
    ;;
  esac
}

# cni_del ID: a CNI DEL of the podrun-dev conflist for a pod whose network namespace is gone:
# portmap removes its iptables chains, bridge + host-local release the IP reservation.
cni_del() {
  local id=$1 plugin
  for plugin in portmap bridge; do
    cni_plugin_conf "$plugin" |
      CNI_COMMAND=DEL CNI_CONTAINERID=$id CNI_NETNS='' CNI_IFNAME=$CNI_IFNAME CNI_PATH=$CNI_BIN_DIR \
        "$CNI_BIN_DIR/$plugin" >/dev/null 2>&1 || log "warning: CNI DEL ($plugin) failed for pod $id"
  done
  # libcni's cached results of the pod (containerd also attaches a loopback network).
  rm -f "/var/lib/cni/results/$CNI_NETWORK-$id-$CNI_IFNAME" "/var/lib/cni/results/cni-loopback-$id-lo"
  # host-local keys reservations on id + ifname: drop any the DEL missed.
  local f first
  for f in "$HOST_LOCAL_DIR"/*; do
    [[ -f $f ]] || continue
    read -r first <"$f" 2>/dev/null || continue
    [[ ${first%$'\r'} == "$id" ]] && rm -f "$f"
  done
  return 0
}

known_sandbox_ids() { # sandboxes this state folder's containerd knows (even when it is down)
  local d
  for d in "$CONTAINERD_ROOT/io.containerd.grpc.v1.cri/sandboxes"/*/ \
    "$CONTAINERD_STATE/io.containerd.grpc.v1.cri/sandboxes"/*/; do
    [[ -d $d ]] || continue
    d=${d%/}
    printf '%s\n' "${d##*/}"
  done | sort -u
}

# Releases the network of pods that no longer exist: host-local reservations of podrun-dev whose
# pod has no live shim (owned by this state folder, or older than a minute so that a pod being
# created by another harness right now is left alone), and this state folder's sandboxes
# without a live shim. Only call while this state folder's containerd is not running.
release_leaked_networks() {
  local -A ids=()
  local f first id n=0
  if [[ -d $HOST_LOCAL_DIR ]]; then
    for f in "$HOST_LOCAL_DIR"/*; do
      [[ -f $f ]] || continue
      case ${f##*/} in lock | last_reserved_ip*) continue ;; esac
      read -r first <"$f" 2>/dev/null || continue
      id=${first%$'\r'}
      [[ $id =~ ^[0-9a-f]{64}$ ]] || continue
      if [[ -e $CONTAINERD_ROOT/io.containerd.grpc.v1.cri/sandboxes/$id ]] ||
        [[ -n $(find "$f" -maxdepth 0 -mmin +1 2>/dev/null) ]]; then
        ids[$id]=1
      fi
    done
  fi
  while read -r id; do
    [[ -n $id ]] && ids[$id]=1
  done < <(known_sandbox_ids)
  for id in "${!ids[@]}"; do
    shim_alive_for_id "$id" && continue
    cni_del "$id"
    n=$((n + 1))
  done
  ((n == 0)) || log "released the network of $n pod(s) that no longer run"
}

# Leftovers of a killed containerd whose shims are gone too: their mounts and networks.
clean_after_dead_containerd() {
  rm -f "$SOCK" "$SOCK.ttrpc"
  if [[ -n $(shim_pids) ]]; then
    log "shims of an earlier containerd still run: containerd will adopt their pods"
  else
    unmount_state
    remove_stale_shim_sockets
  fi
  release_leaked_networks
}

# Stops what containerd left running: containers (via runc's state in this folder) and shims.
kill_leftover_tasks() {
  local ns_root id pid
  for ns_root in "$RUNC_ROOT"/*/; do
    [[ -d $ns_root ]] || continue
    for id in $(runc --root "$ns_root" list -q 2>/dev/null || true); do
      log "removing leftover container $id"
      runc --root "$ns_root" delete -f "$id" >/dev/null 2>&1 || log "warning: runc delete -f $id failed"
    done
  done
  for pid in $(shim_pids); do
    # Its containers are gone by now; a shim does not exit on SIGTERM, so wait only briefly.
    stop_pid "shim of $(shim_id_of "$pid")" "$pid" "$(argv0_base "$pid")" "$SOCK" 1
  done
  remove_stale_shim_sockets
}

# A killed shim leaves its socket behind: /run/containerd/s/sha256(<address>/<namespace>/<id>).
# Call only when no shim of this containerd runs.
remove_stale_shim_sockets() {
  local d ns id
  for d in "$CONTAINERD_STATE/io.containerd.runtime.v2.task"/*/*/; do
    [[ -d $d ]] || continue
    d=${d%/}
    id=${d##*/}
    ns=${d%/*}
    ns=${ns##*/}
    rm -f "/run/containerd/s/$(printf '%s' "$SOCK/$ns/$id" | sha256sum | cut -d' ' -f1)"
  done
}

# ---------------------------------------------------------------------------------------------
# configuration files

write_if_changed() { # FILE CONTENT: returns 0 when the file changed
  local file=$1 content=$2
  if [[ -f $file ]] && [[ $(<"$file") == "$content" ]]; then
    return 1
  fi
  mkdir -p "$(dirname "$file")"
  printf '%s\n' "$content" >"$file.tmp"
  mv "$file.tmp" "$file"
  return 0
}

containerd_config() {
  cat <<EOF
# Written by scripts/runtime.sh: a private containerd for podrun's tests.
version = 2
root = "$CONTAINERD_ROOT"
state = "$CONTAINERD_STATE"
oom_score = 0
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$SOCK"

[ttrpc]
  address = "$SOCK.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$STATE_DIR/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_REF"
  # Required here: without CAP_SYS_RESOURCE runc cannot lower oom_score_adj below its parent's,
  # and every RunPodSandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  # Network namespaces under this state folder, not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  systemd_cgroup = false

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$RUNC_ROOT"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN_DIR"
    conf_dir = "$CNI_CONF_DIR"
    max_conf_num = 1

  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "$CERTS_DIR"
EOF
}

cni_conflist() {
  cat <<EOF
{
  "cniVersion": "0.4.0",
  "name": "$CNI_NETWORK",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$CNI_SUBNET" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    {
      "type": "portmap",
      "capabilities": { "portMappings": true }
    }
  ]
}
EOF
}

# containerd's hosts.toml for a local registry (HOST:PORT): plain HTTP, pull + resolve.
registry_hosts_toml() {
  cat <<EOF
server = "http://$1"

[host."http://$1"]
  capabilities = ["pull", "resolve"]
EOF
}

registry_config() {
  cat <<EOF
# Written by scripts/runtime.sh: a local image registry on loopback only.
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_DATA
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REGISTRY_HOST
  secret: podrun-local-test-registry
  headers:
    X-Content-Type-Options: [nosniff]
health:
  storagedriver:
    enabled: false
EOF
}

write_configs() {
  local changed=0
  write_if_changed "$CONTAINERD_CONFIG" "$(containerd_config)" && changed=1
  write_if_changed "$CNI_CONF_DIR/10-$CNI_NETWORK.conflist" "$(cni_conflist)" || true
  write_if_changed "$CERTS_DIR/$REGISTRY_HOST/hosts.toml" "$(registry_hosts_toml "$REGISTRY_HOST")" || true
  write_if_changed "$CERTS_DIR/$AUTH_REGISTRY_HOST/hosts.toml" "$(registry_hosts_toml "$AUTH_REGISTRY_HOST")" || true
  if write_if_changed "$REGISTRY_CONFIG" "$(registry_config)" && [[ -n $(registry_pid) ]]; then
    log "registry config changed: restarting the registry"
    stop_pid registry "$(registry_pid)" docker-registry "$REGISTRY_CONFIG"
  fi
  write_if_changed "$SKOPEO_POLICY" '{"default":[{"type":"insecureAcceptAnything"}]}' || true
  if ((changed)) && [[ -n $(containerd_pid) ]]; then
    log "warning: containerd's config changed while it runs: run 'down' then 'up' to apply it"
  fi
}

# ---------------------------------------------------------------------------------------------
# up

ensure_packages() {
  local -a missing=()
  local pkg status
  for pkg in "${APT_PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  command -v apt-get >/dev/null || die "missing packages (${missing[*]}) and no apt-get to install them"
  log "installing ${missing[*]}"
  local out
  out=$(mktemp)
  if ! { apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } >"$out" 2>&1; then
    tail -n 30 "$out" >&2
    rm -f "$out"
    die "apt-get install ${missing[*]} failed"
  fi
  rm -f "$out"
}

ensure_images() {
  mkdir -p "$IMAGES_DIR"
  if [[ ! -f $IMAGES_DIR/pause.tar || ! -f $IMAGES_DIR/pause/index.json ]]; then
    log "building the pause image ($PAUSE_REF)"
    build_pause_image "$IMAGES_DIR/pause" "$IMAGES_DIR/pause.tar" "$PAUSE_TAG"
  fi
  if [[ ! -f $IMAGES_DIR/busybox/index.json ]]; then
    log "building the busybox test image"
    build_busybox_image "$IMAGES_DIR/busybox" "$BUSYBOX_TAG" "$SCRIPT_DIR/images/busybox"
  fi
}

ctr_() { ctr --address "$SOCK" --connect-timeout 2s --timeout 60s "$@"; }

containerd_answers() { ctr --address "$SOCK" --connect-timeout 1s --timeout 5s version >/dev/null 2>&1; }

fail_with_log() { # NAME LOG MESSAGE
  if [[ -f $2 ]]; then
    log "last lines of $2:"
    tail -n 25 "$2" | sed 's/^/  | /' >&2
  fi
  die "$3"
}

start_containerd() {
  local pid
  pid=$(containerd_pid)
  if [[ -n $pid ]]; then
    containerd_answers && return 0
    log "containerd (pid $pid) runs but does not answer on $SOCK yet: waiting"
  else
    rm -f "$CONTAINERD_PID_FILE"
    # Pods of an earlier, killed containerd whose processes are gone too: removed through the
    # CRI once containerd runs (their network and mounts are released before it starts).
    local id
    DEAD_SANDBOXES=()
    while read -r id; do
      [[ -n $id ]] && ! shim_alive_for_id "$id" && DEAD_SANDBOXES+=("$id")
    done < <(known_sandbox_ids)
    clean_after_dead_containerd
    mkdir -p "$CONTAINERD_ROOT" "$CONTAINERD_STATE" "$RUNC_ROOT" "$STATE_DIR/opt"
    log "starting containerd ($(containerd --version | awk '{print $3}')), log: $CONTAINERD_LOG"
    printf '\n=== %s containerd start ===\n' "$(date -u +%FT%TZ)" >>"$CONTAINERD_LOG"
    setsid containerd --config "$CONTAINERD_CONFIG" </dev/null >>"$CONTAINERD_LOG" 2>&1 9>&- &
    pid=$!
    printf '%s\n' "$pid" >"$CONTAINERD_PID_FILE"
  fi
  local i
  for ((i = 0; i < 300; i++)); do # 30 s at most
    containerd_answers && return 0
    pid_alive "$pid" || fail_with_log containerd "$CONTAINERD_LOG" "containerd exited during start-up"
    sleep 0.1
  done
  fail_with_log containerd "$CONTAINERD_LOG" "containerd did not answer on $SOCK within 30 s"
}

DEAD_SANDBOXES=()

remove_dead_sandboxes() {
  ((${#DEAD_SANDBOXES[@]})) || return 0
  command -v node >/dev/null || return 0
  log "removing ${#DEAD_SANDBOXES[@]} pod sandbox(es) that an earlier, killed run left dead"
  node "$SCRIPT_DIR/cri-cleanup.mjs" "$ENDPOINT" --only "${DEAD_SANDBOXES[@]}" >&2 ||
    log "warning: could not remove them"
  DEAD_SANDBOXES=()
}

ensure_pause_image() {
  if ctr_ -n "$CRI_NAMESPACE" images ls -q 2>/dev/null | grep -qxF -- "$PAUSE_REF"; then
    return 0
  fi
  log "importing $PAUSE_REF into containerd's $CRI_NAMESPACE namespace"
  ctr_ -n "$CRI_NAMESPACE" images import --base-name "$PAUSE_REPO" "$IMAGES_DIR/pause.tar" >/dev/null ||
    fail_with_log containerd "$CONTAINERD_LOG" "ctr images import of the pause image failed"
  # A containerd that has just started can take a moment before the import shows in its listing.
  local i
  for i in $(seq 1 50); do
    ctr_ -n "$CRI_NAMESPACE" images ls -q 2>/dev/null | grep -qxF -- "$PAUSE_REF" && return 0
    sleep 0.1
  done
  die "the pause image was imported but $PAUSE_REF is not listed"
}

# http_status METHOD PATH: the HTTP status the registry answers, with bash's /dev/tcp only.
http_status() {
  local line
  # shellcheck disable=SC2016 # expanded by the inner bash
  line=$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/127.0.0.1/$0" || exit 1
    printf "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.index.v1+json\r\n\r\n" "$1" "$2" >&3
    IFS= read -r line <&3 && printf "%s" "$line"' "$REGISTRY_PORT" "$1" "$2" 2>/dev/null) || return 1
  line=${line#* }
  printf '%s\n' "${line%% *}"
}

registry_answers() { [[ $(http_status GET /v2/ || true) == 200 ]]; }

start_registry() {
  local pid
  pid=$(registry_pid)
  if [[ -n $pid ]]; then
    registry_answers && return 0
    log "registry (pid $pid) does not answer on $REGISTRY_HOST: restarting it"
    stop_pid registry "$pid" docker-registry "$REGISTRY_CONFIG"
  fi
  rm -f "$REGISTRY_PID_FILE"
  if http_status GET /v2/ >/dev/null; then
    die "port $REGISTRY_PORT on 127.0.0.1 is used by another program: set PODRUN_REGISTRY_PORT"
  fi
  mkdir -p "$REGISTRY_DATA"
  log "starting the image registry on $REGISTRY_HOST, log: $REGISTRY_LOG"
  printf '\n=== %s registry start ===\n' "$(date -u +%FT%TZ)" >>"$REGISTRY_LOG"
  setsid docker-registry serve "$REGISTRY_CONFIG" </dev/null >>"$REGISTRY_LOG" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$REGISTRY_PID_FILE"
  local i
  for ((i = 0; i < 200; i++)); do # 20 s at most
    registry_answers && return 0
    pid_alive "$pid" || fail_with_log registry "$REGISTRY_LOG" "the registry exited during start-up"
    sleep 0.1
  done
  fail_with_log registry "$REGISTRY_LOG" "the registry did not answer on $REGISTRY_HOST within 20 s"
}

ensure_test_images() {
  local ref tag from
  for ref in "$TEST_IMAGE" "$TEST_IMAGE_V2" "$TEST_IMAGE_OTHER"; do
    tag=${ref##*:}
    [[ $(http_status HEAD "/v2/podrun/busybox/manifests/$tag" || true) == 200 ]] && continue
    from=$BUSYBOX_TAG
    [[ $tag == other ]] && from=other
    log "pushing $ref"
    skopeo --policy "$SKOPEO_POLICY" copy --quiet --dest-tls-verify=false \
      "oci:$IMAGES_DIR/busybox:$from" "docker://$ref" >&2 ||
      fail_with_log registry "$REGISTRY_LOG" "skopeo copy to $ref failed"
  done
}

print_env() { # PREFIX: "" for up, "export " for env
  local prefix=$1
  printf '%sCONTAINER_RUNTIME_ENDPOINT=%s\n' "$prefix" "$ENDPOINT"
  printf '%sPODRUN_REGISTRY=%s\n' "$prefix" "$REGISTRY_HOST"
  printf '%sPODRUN_AUTH_REGISTRY=%s\n' "$prefix" "$AUTH_REGISTRY_HOST"
  printf '%sPODRUN_TEST_IMAGE=%s\n' "$prefix" "$TEST_IMAGE"
  printf '%sPODRUN_TEST_IMAGE_V2=%s\n' "$prefix" "$TEST_IMAGE_V2"
  printf '%sPODRUN_TEST_IMAGE_OTHER=%s\n' "$prefix" "$TEST_IMAGE_OTHER"
  printf '%sPODRUN_PAUSE_IMAGE=%s\n' "$prefix" "$PAUSE_REF"
}

check_paths() {
  if [[ ! $REGISTRY_PORT =~ ^[0-9]+$ ]] || ((REGISTRY_PORT < 1 || REGISTRY_PORT > 65535)); then
    die "PODRUN_REGISTRY_PORT must be a port number, not '$REGISTRY_PORT'"
  fi
  # A unix socket path holds at most 107 bytes; the ttrpc socket adds 6.
  ((${#SOCK} + 6 <= 107)) || die "state folder path too long for a unix socket: $STATE_DIR (set PODRUN_STATE_DIR)"
}

lock_state() {
  mkdir -p "$STATE_DIR"
  exec 9>"$STATE_DIR/.lock"
  flock -w 300 9 || die "another scripts/runtime.sh holds $STATE_DIR/.lock"
}

cmd_up() {
  (($# == 0)) || usage
  check_paths
  [[ $(id -u) == 0 ]] || die "runs as root (containerd, CNI and mounts need it)"
  lock_state
  ensure_packages
  ensure_images
  write_configs
  start_containerd
  ensure_pause_image
  remove_dead_sandboxes
  start_registry
  ensure_test_images
  log "up: containerd pid $(containerd_pid), registry pid $(registry_pid)"
  print_env ""
}

# ---------------------------------------------------------------------------------------------
# down

cmd_down() {
  local purge=0
  case ${1-} in
  "") ;;
  --purge) purge=1 ;;
  *) usage ;;
  esac
  check_paths
  if [[ ! -d $STATE_DIR ]]; then
    log "nothing to do: $STATE_DIR does not exist"
    return 0
  fi
  lock_state
  local pid
  pid=$(containerd_pid)
  if [[ -z $pid && -f $CONTAINERD_CONFIG ]] && [[ -n $(known_sandbox_ids) || -n $(shim_pids) ]]; then
    # Pods are only removed cleanly through the CRI: start containerd for that.
    log "containerd is not running but has pods: starting it to remove them through the CRI"
    (start_containerd) || log "warning: could not start containerd: removing what is left directly"
    pid=$(containerd_pid)
  fi
  if [[ -n $pid ]] && containerd_answers; then
    log "removing every pod sandbox through the CRI"
    node "$SCRIPT_DIR/cri-cleanup.mjs" "$ENDPOINT" >&2 ||
      log "warning: cri-cleanup failed; falling back to killing what is left"
  fi
  [[ -n $pid ]] && stop_pid containerd "$pid" containerd "$CONTAINERD_CONFIG"
  pid=$(registry_pid)
  [[ -n $pid ]] && stop_pid registry "$pid" docker-registry "$REGISTRY_CONFIG"
  rm -f "$CONTAINERD_PID_FILE" "$REGISTRY_PID_FILE" "$SOCK" "$SOCK.ttrpc"
  kill_leftover_tasks
  release_leaked_networks
  unmount_state
  if ((purge)); then
    [[ -z $(mounts_under_state) ]] || die "mounts remain under $STATE_DIR: not deleting it"
    log "deleting $STATE_DIR"
    exec 9>&-
    rm -rf --one-file-system "$STATE_DIR"
  fi
  log "down"
}

# ---------------------------------------------------------------------------------------------

cmd_status() {
  local cpid rpid rc=0 shims
  cpid=$(containerd_pid)
  rpid=$(registry_pid)
  if [[ -n $cpid ]] && containerd_answers; then
    echo "containerd: running (pid $cpid), endpoint $ENDPOINT"
  elif [[ -n $cpid ]]; then
    echo "containerd: pid $cpid exists but does not answer on $SOCK"
    rc=1
  else
    echo "containerd: not running (state $STATE_DIR)"
    rc=1
  fi
  if [[ -n $rpid ]] && registry_answers; then
    echo "registry: running (pid $rpid), $REGISTRY_HOST"
  elif [[ -n $rpid ]]; then
    echo "registry: pid $rpid exists but does not answer on $REGISTRY_HOST"
    rc=1
  else
    echo "registry: not running"
    rc=1
  fi
  shims=$(shim_pids | wc -l)
  echo "shims: $shims"
  return "$rc"
}

# Stops this state folder's containerd by its pid (SIGTERM; its shims and pods keep running, as
# when a real host restarts containerd), optionally waits, and starts it again with the same
# config, waiting for its socket. For tests of what podrun does while the runtime is away.
cmd_restart_containerd() {
  local wait=${1:-0} pid
  (($# <= 1)) || usage
  [[ $wait =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "restart-containerd takes a number of seconds, not '$wait'"
  check_paths
  [[ $(id -u) == 0 ]] || die "runs as root (containerd, CNI and mounts need it)"
  lock_state
  pid=$(containerd_pid)
  [[ -n $pid ]] || die "containerd is not running (state $STATE_DIR): run 'up' first"
  stop_pid containerd "$pid" containerd "$CONTAINERD_CONFIG"
  rm -f "$CONTAINERD_PID_FILE"
  if [[ $wait != 0 ]]; then
    log "containerd stopped: starting it again in $wait s"
    sleep "$wait"
  fi
  start_containerd
  remove_dead_sandboxes
  log "containerd restarted: pid $(containerd_pid)"
}

# The init process of every container of this state folder's runc (pause containers included).
container_init_pids() {
  local ns_root id pid
  for ns_root in "$RUNC_ROOT"/*/; do
    [[ -d $ns_root ]] || continue
    for id in $(runc --root "$ns_root" list -q 2>/dev/null || true); do
      pid=$(runc --root "$ns_root" state "$id" 2>/dev/null | sed -n 's/^ *"pid": *\([0-9]*\),*$/\1/p')
      [[ -n $pid && $pid != 0 ]] && printf '%s\n' "$pid"
    done
  done
  return 0
}

cmd_power_cut() {
  (($# == 0)) || usage
  check_paths
  [[ $(id -u) == 0 ]] || die "runs as root (containerd, CNI and mounts need it)"
  lock_state
  local pid n=0
  pid=$(containerd_pid)
  [[ -n $pid ]] || die "containerd is not running (state $STATE_DIR): run 'up' first"
  local -a victims
  mapfile -t victims < <(container_init_pids; shim_pids)
  # All at once, with no warning: SIGKILL to containerd, its shims and the containers' PID 1s
  # (the kernel takes every other process of a container's PID namespace with its PID 1).
  proc_is "$pid" containerd "$CONTAINERD_CONFIG" && kill -KILL "$pid" 2>/dev/null
  for p in "${victims[@]}"; do
    [[ -n $p ]] && kill -KILL "$p" 2>/dev/null && n=$((n + 1))
  done
  local i
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for p in "$pid" "${victims[@]}"; do
      [[ -n $p ]] && pid_alive "$p" && alive=1
    done
    ((alive)) || break
    sleep 0.1
  done
  log "power cut: killed containerd (pid $pid) and $n shim and container process(es)"
  # What a boot does not bring back: the runtime's /run state (task state, mounts, network
  # namespaces, runc's container state). containerd's root folder (its metadata) survives.
  remove_stale_shim_sockets
  unmount_state
  rm -rf --one-file-system "$CONTAINERD_STATE" "$RUNC_ROOT"
  rm -f "$CONTAINERD_PID_FILE" "$SOCK" "$SOCK.ttrpc"
  start_containerd
  # What the runtime remembers of its pods is for its client to handle: nothing is removed here.
  DEAD_SANDBOXES=()
  log "containerd started again after the power cut: pid $(containerd_pid)"
}

main() {
  local cmd=${1-}
  (($#)) && shift
  case $cmd in
  up) cmd_up "$@" ;;
  down) cmd_down "$@" ;;
  status) cmd_status "$@" ;;
  env) print_env "export " ;;
  restart-containerd) cmd_restart_containerd "$@" ;;
  power-cut) cmd_power_cut "$@" ;;
  *) usage ;;
  esac
}

main "$@"
