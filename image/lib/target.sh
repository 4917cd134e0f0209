# Stage "target": the squashfs of the system that the installer puts on the
# node's boot pool.
#   test: derived from the base tarball (ZFS module already built), plus
#         GRUB, zfs-initramfs, ifupdown2, ssh, chrony: a bootable ZFS-root
#         Debian without Proxmox.
#   pve:  Debian trixie + Proxmox VE (image/lib/target-pve.sh; kept apart so
#         that its changes do not invalidate the cached test target).
# shellcheck shell=bash

target_key() { # FLAVOUR BASE_TAR
    local overlay=()
    [[ -d $REPO_DIR/overlays/target ]] && overlay=("$REPO_DIR/overlays/target")
    [[ -d $REPO_DIR/overlays/target-$1 ]] && overlay+=("$REPO_DIR/overlays/target-$1")
    if [[ $1 == test ]]; then
        inputs_hash "str:flavour=test" "str:base=$(basename "$2")" \
            "$IMAGE_DIR/packages/target-test.list" "$IMAGE_DIR/lib/target.sh" \
            "$IMAGE_DIR/lib/common.sh" "${overlay[@]}"
    else
        inputs_hash "str:flavour=pve" "str:suite=$SUITE" "str:repo=$PVE_REPO_URI" "str:key=$PVE_KEYRING_SHA256" \
            "$IMAGE_DIR/packages/target-pve.list" "$IMAGE_DIR/lib/target.sh" "$IMAGE_DIR/lib/target-pve.sh" \
            "$IMAGE_DIR/lib/common.sh" "${overlay[@]}"
    fi
}

build_target() { # FLAVOUR BASE_TAR -> sets TARGET_SQFS to the squashfs path
    local flavour=$1 base=$2 key out
    key=$(target_key "$flavour" "$base")
    out="$CACHE_DIR/target-$flavour-$SUITE-$key.squashfs"
    if [[ -f $out ]]; then
        log "target: cached $(basename "$out")"
        TARGET_SQFS=$out
        return
    fi
    log "target: building $(basename "$out")"
    local root="$WORK_DIR/target-root"
    if [[ $flavour == test ]]; then
        target_test_root "$base" "$root"
    else
        target_pve_root "$root"
    fi
    # Files common to every flavour (e.g. a marker of where it came from).
    if [[ -d $REPO_DIR/overlays/target ]]; then
        cp -a --no-preserve=ownership "$REPO_DIR/overlays/target/." "$root/"
    fi
    # Files of one flavour only (e.g. what the test flavour needs to stand
    # in for a Proxmox package).
    if [[ -d $REPO_DIR/overlays/target-$flavour ]]; then
        cp -a --no-preserve=ownership "$REPO_DIR/overlays/target-$flavour/." "$root/"
    fi
    squash_root "$root" "$WORK_DIR/target.squashfs"
    rm -rf --one-file-system "$root"
    cache_commit "$WORK_DIR/target.squashfs" "$out"
    log "target: $(du -m "$out" | cut -f1) MiB"
    TARGET_SQFS=$out
}

target_test_root() { # BASE_TAR ROOT
    local base=$1 root=$2
    unpack_root "$base" "$root"
    CHROOT_ROOT=$root
    chroot_prepare "$root"
    in_root "$root" apt-get update -qq >&2
    # systemd-timesyncd would fight chrony over the clock.
    # shellcheck disable=SC2046
    in_root "$root" apt-get install -y -qq --no-install-recommends \
        $(pkg_words "$IMAGE_DIR/packages/target-test.list") systemd-timesyncd- >&2
    in_root "$root" modinfo -k "$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)" \
        -F version zfs >/dev/null || die "target: zfs module missing"
    clean_root "$root"
    chroot_release "$root"
}
