# shellcheck shell=bash
# Builds the harness's OCI images with umoci from a rootfs folder. Sourced by scripts/runtime.sh,
# which provides log() and die().

# Bump when a recipe below changes: cached images live in a folder named after it.
# shellcheck disable=SC2034 # used by scripts/runtime.sh
PODRUN_IMAGE_RECIPE=v2
PODRUN_IMAGE_PATH_ENV='PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

# build_oci_layout LAYOUT TAG ROOTFS [umoci config flags...]
# Creates the OCI layout folder LAYOUT holding one image TAG whose single layer is ROOTFS.
# Works in a temporary folder beside LAYOUT and renames it into place at the end, so an
# interrupted build never leaves a half-made image behind.
build_oci_layout() {
  local layout=$1 tag=$2 rootfs=$3
  shift 3
  local tmp
  tmp=$(mktemp -d "${layout}.build.XXXXXX")
  umoci init --layout "$tmp/layout" >/dev/null
  umoci new --image "$tmp/layout:$tag" >/dev/null
  umoci unpack --image "$tmp/layout:$tag" "$tmp/bundle" >/dev/null
  cp -a "$rootfs/." "$tmp/bundle/rootfs/"
  umoci repack --image "$tmp/layout:$tag" "$tmp/bundle" >/dev/null
  if (($#)); then
    umoci config --image "$tmp/layout:$tag" "$@" >/dev/null
  fi
  umoci gc --layout "$tmp/layout" >/dev/null
  rm -rf "$layout"
  mv "$tmp/layout" "$layout"
  rm -rf "$tmp"
}

# build_pause_image LAYOUT TARBALL TAG: static catatonit as /pause, entrypoint `/pause -P`;
# TARBALL is the layout as an OCI archive, for `ctr images import`.
build_pause_image() {
  local layout=$1 tarball=$2 tag=$3
  local catatonit
  catatonit=$(command -v catatonit) || die "catatonit is not installed"
  local work
  work=$(mktemp -d "${layout}.rootfs.XXXXXX")
  mkdir -p "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev" "$work/rootfs/etc"
  cp "$catatonit" "$work/rootfs/pause"
  chmod 0755 "$work/rootfs/pause"
  chown -R 0:0 "$work/rootfs"
  build_oci_layout "$layout" "$tag" "$work/rootfs" \
    --config.entrypoint /pause --config.entrypoint -P \
    --config.env "$PODRUN_IMAGE_PATH_ENV" \
    --config.label org.opencontainers.image.title=podrun-pause
  rm -rf "$work"
  tar -C "$layout" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
}

# build_busybox_image LAYOUT TAG FILES: static busybox as /bin/busybox, one symlink per applet,
# default command `sh`, plus the files of the folder FILES (etc/passwd, etc/group). The tag
# `other` is the same files with another label: an image of its own (another id), for tests that
# need one no container uses.
build_busybox_image() {
  local layout=$1 tag=$2 files=$3
  local busybox=/bin/busybox
  [[ -x $busybox ]] || die "busybox-static is not installed ($busybox missing)"
  local work
  work=$(mktemp -d "${layout}.rootfs.XXXXXX")
  local r=$work/rootfs
  mkdir -p "$r/bin" "$r/etc" "$r/root" "$r/tmp" "$r/var/www" "$r/home" "$r/proc" "$r/sys" "$r/dev"
  chmod 1777 "$r/tmp"
  chmod 0700 "$r/root"
  cp "$busybox" "$r/bin/busybox"
  chmod 0755 "$r/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n $applet && $applet != busybox && ! -e $r/bin/$applet ]] || continue
    ln -s busybox "$r/bin/$applet"
  done < <("$busybox" --list)
  # The applets the tests rely on: fail early if this busybox lacks one.
  for applet in sh httpd nc sleep wget cat echo ls ps env id hostname true false date; do
    [[ -L $r/bin/$applet ]] || die "busybox at $busybox has no '$applet' applet"
  done
  cp -a "$files/." "$r/"
  chown -R 0:0 "$r"
  build_oci_layout "$layout" "$tag" "$r" \
    --config.cmd sh \
    --config.env "$PODRUN_IMAGE_PATH_ENV" \
    --config.workingdir / \
    --config.label org.opencontainers.image.title=podrun-busybox
  umoci config --image "$layout:$tag" --tag other --config.label org.opencontainers.image.version=other >/dev/null
  rm -rf "$work"
}
