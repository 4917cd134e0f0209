# Stage "live": the installer's live system, derived from the base tarball.
# Produces a cache directory with filesystem.squashfs, vmlinuz and
# initrd.img. The installer binary and build-info are NOT in it: they go
# into a small second squashfs at ISO assembly (live-boot stacks every
# *.squashfs in /live), so a change of the Rust code does not rebuild this.
# shellcheck shell=bash

live_key() { # BASE_TAR
    inputs_hash "str:base=$(basename "$1")" "$IMAGE_DIR/packages/live.list" \
        "$IMAGE_DIR/lib/live.sh" "$IMAGE_DIR/lib/common.sh" "$REPO_DIR/overlays/live"
}

build_live() { # BASE_TAR -> sets LIVE_DIR to the cache directory
    local base=$1 key out
    key=$(live_key "$base")
    out="$CACHE_DIR/live-$SUITE-$key"
    if [[ -f $out/filesystem.squashfs ]]; then
        log "live: cached $(basename "$out")"
        LIVE_DIR=$out
        return
    fi
    log "live: building $(basename "$out")"
    local root="$WORK_DIR/live-root" stage="$WORK_DIR/live-out"
    mkdir -p "$stage"
    unpack_root "$base" "$root"
    CHROOT_ROOT=$root
    chroot_prepare "$root"

    in_root "$root" apt-get update -qq >&2
    # shellcheck disable=SC2046
    in_root "$root" apt-get install -y -qq --no-install-recommends \
        $(pkg_words "$IMAGE_DIR/packages/live.list") >&2

    # Keep the ZFS module that DKMS built for the shipped kernel, but not the
    # compilers and headers that built it (hundreds of MiB). Removing
    # zfs-dkms also removes its modules, so they are set aside and put back.
    local kver
    kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
    [[ -d $root/lib/modules/$kver/updates/dkms ]] || die "live: no DKMS modules for kernel $kver in the base"
    cp -a "$root/lib/modules/$kver/updates" "$WORK_DIR/zfs-modules"
    local headers
    headers=$({ in_root "$root" dpkg-query -W -f='${Package} ${Status}\n' 'linux-headers-*' 'linux-kbuild-*' || true; } \
        | awk '$NF == "installed" {print $1}' | paste -sd' ' -)
    # shellcheck disable=SC2086
    in_root "$root" apt-get purge -y -qq zfs-dkms dkms $headers >&2
    # The compiler and friends came in with the headers but are marked as
    # installed by hand (mmdebstrap), so autoremove alone keeps them.
    local tooling
    tooling=$({ in_root "$root" dpkg-query -W -f='${Package} ${Status}\n' \
        'gcc-[0-9]*' 'cpp-[0-9]*' 'g++*' make 'binutils*' 'libbinutils*' 'libc6-dev*' \
        'libgcc-*-dev*' 'libstdc++-*-dev*' 'linux-libc-dev*' 'libc-dev-bin' 'libcrypt-dev*' \
        'rpcsvc-proto' 'libctf*' 'libgprofng*' 'libsframe*' 'libasan*' 'libtsan*' \
        'liblsan*' 'libubsan*' 'libhwasan*' 'libitm*' 'libquadmath*' 'libcc1-*' || true; } \
        | awk '$NF == "installed" && $1 !~ /-base(:|$)/ {print $1}' | paste -sd' ' -)
    # shellcheck disable=SC2086
    [[ -z $tooling ]] || in_root "$root" apt-get purge -y -qq $tooling >&2
    in_root "$root" apt-get autoremove --purge -y -qq >&2
    if in_root "$root" sh -c 'command -v gcc || command -v cc || command -v make' >/dev/null; then
        log "live: warning: a compiler or make is still installed in the live root"
    fi
    rm -rf "$root/lib/modules/$kver/updates"
    cp -a "$WORK_DIR/zfs-modules" "$root/lib/modules/$kver/updates"
    in_root "$root" depmod -a "$kver"
    in_root "$root" modinfo -k "$kver" -F version zfs >/dev/null || die "live: zfs module missing after cleanup"

    # Project files: systemd units, the launcher, the console generator.
    cp -a --no-preserve=ownership "$REPO_DIR/overlays/live/." "$root/"
    echo tappaas-installer >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n127.0.1.1\ttappaas-installer\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # DHCP on every wired NIC (needed for tappaas.answer=http...); booting
    # must not wait for it, the launcher waits only when it needs the net.
    in_root "$root" systemctl enable systemd-networkd.service systemd-resolved.service >&2
    in_root "$root" systemctl mask systemd-networkd-wait-online.service >&2
    # Boot straight to the installer: under emulation, loading the ZFS
    # module at boot (and the udev-settle it pulls in) costs ~10 s, and the
    # live system has no pools to import or mount. The installer loads the
    # module itself (modprobe zfs) when it creates pools. Periodic jobs have
    # no place on a live system either.
    in_root "$root" systemctl mask zfs-load-module.service zfs-import-cache.service \
        zfs-import-scan.service zfs-mount.service zfs-share.service zfs-zed.service \
        zfs-volume-wait.service systemd-udev-settle.service ldconfig.service \
        systemd-journal-catalog-update.service e2scrub_reap.service e2scrub_all.timer \
        apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer fstrim.timer >&2
    # Root shell for debugging on tty2 (drop-in in the overlay).
    in_root "$root" systemctl enable getty@tty2.service >&2
    in_root "$root" update-initramfs -u -k "$kver" >&2
    clean_root "$root"
    chroot_release "$root"
    ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
    # Root has no password; the live system never offers a password login.
    sed -i 's/^root:[^:]*:/root:*:/' "$root/etc/shadow"

    cp "$root/boot/vmlinuz-$kver" "$stage/vmlinuz"
    cp "$root/boot/initrd.img-$kver" "$stage/initrd.img"
    echo "$kver" >"$stage/kernel-version"
    squash_root "$root" "$stage/filesystem.squashfs" -wildcards -e 'boot/vmlinuz*' 'boot/initrd.img*'
    rm -rf --one-file-system "$root"
    rm -rf "$out"
    mv "$stage" "$out"
    log "live: $(du -m "$out/filesystem.squashfs" | cut -f1) MiB squashfs, kernel $kver"
    LIVE_DIR=$out
}
