# Stage "base": Debian trixie with the Debian kernel and the ZFS module
# built by DKMS. Both the live system and the "test" target are derived from
# this one tarball, so the slow DKMS build (about 5 minutes) runs once per
# change of image/packages/base.list or of this file.
# shellcheck shell=bash

base_key() {
    inputs_hash "str:suite=$SUITE" "$IMAGE_DIR/packages/base.list" "$IMAGE_DIR/lib/base.sh"
}

# Sets BASE_TAR to the cached base tarball, building it when missing.
# (Stages set globals rather than print: a stage run in a subshell could not
# undo its mounts from the EXIT trap.)
build_base() {
    local key out
    key=$(base_key)
    out="$CACHE_DIR/base-$SUITE-$key.tar.zst"
    if [[ -f $out ]]; then
        log "base: cached $(basename "$out")"
        BASE_TAR=$out
        return
    fi
    log "base: building $(basename "$out") with mmdebstrap (DKMS build of ZFS: ~5 min)"
    local tmp="$CACHE_DIR/tmp-base-$$.tar.zst"
    # No mirror argument: mmdebstrap's default Debian mirror, which also adds
    # the -updates and -security suites for a stable release.
    mmdebstrap --mode=root --variant=apt --components=main,contrib \
        --include="$(pkg_list "$IMAGE_DIR/packages/base.list")" \
        --customize-hook='ls "$1"/lib/modules/*/updates/dkms/zfs.ko* >/dev/null || { echo "ZFS module was not built by DKMS" >&2; exit 1; }' \
        "$SUITE" "$tmp" </dev/null >&2 \
        || { rm -f "$tmp"; die "mmdebstrap of the base failed (see the messages above)"; }
    cache_commit "$tmp" "$out"
    BASE_TAR=$out
}
