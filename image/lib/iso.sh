# Stage "iso": put the cached pieces and the installer binary together and
# write the hybrid ISO with grub-mkrescue. Fast: nothing here is cached.
# shellcheck shell=bash

ISO_LABEL=TAPPAAS_INSTALLER

build_installer() { # -> sets INSTALLER_BIN
    command -v cargo >/dev/null || die "cargo not found: install Rust or pass --installer FILE"
    log "installer: cargo build --release -p tappaas-installer"
    (cd "$REPO_DIR" && cargo build --release -p tappaas-installer >&2) \
        || die "cargo build of tappaas-installer failed"
    local dir
    dir=$(cd "$REPO_DIR" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    INSTALLER_BIN="${dir:-$REPO_DIR/target}/release/tappaas-installer"
}

# Hard link from the cache when possible (same file system), else copy.
place() { # SRC DEST
    ln -f "$1" "$2" 2>/dev/null || cp "$1" "$2"
}

# OPNsense's nano image is a whole disk (MBR or GPT with a UFS partition),
# raw: refuse what cannot be one, e.g. the still-compressed download.
check_opnsense_image() { # FILE
    [[ -f $1 ]] || die "--opnsense-image: $1 is not a file"
    case "$1" in
        *.bz2|*.xz|*.gz|*.zst) die "--opnsense-image: $1 is compressed: decompress it first (e.g. bunzip2 -k)" ;;
    esac
    local size magic
    size=$(stat -c %s "$1")
    (( size >= 64 * 1024 * 1024 )) || die "--opnsense-image: $1 is only $size bytes: not a nano disk image"
    magic=$(od -An -tx1 -j510 -N2 "$1" | tr -d ' \n')
    [[ $magic == 55aa ]] || die "--opnsense-image: $1 has no boot sector signature: not a raw disk image (the nano image is)"
}

assemble_iso() { # LIVE_DIR TARGET_SQFS INSTALLER_BIN OUT [TEMPLATE_DIR] [OPNSENSE_IMAGE]
    local live=$1 target=$2 bin=$3 out=$4 template=${5:-} opnsense=${6:-}
    local stage="$WORK_DIR/iso" layer="$WORK_DIR/layer"
    local target_name="target-$FLAVOUR.squashfs"
    rm -rf "$stage" "$layer"
    mkdir -p "$stage/live" "$stage/.tappaas" "$stage/boot/grub" \
        "$layer/usr/bin" "$layer/usr/share/tappaas"

    place "$live/vmlinuz" "$stage/live/vmlinuz"
    place "$live/initrd.img" "$stage/live/initrd.img"
    place "$live/filesystem.squashfs" "$stage/live/filesystem.squashfs"
    place "$target" "$stage/.tappaas/$target_name"
    cp "$IMAGE_DIR/grub/grub.cfg" "$stage/boot/grub/grub.cfg"
    # The service VM template and its manifest (image/lib/template.sh); a
    # cached image that no longer matches its manifest is not shipped.
    local template_sum=
    if [[ -n $template ]]; then
        template_sum=$(sha256sum "$template/$TEMPLATE_NAME.qcow2" | cut -c1-64)
        grep -qx "SHA256=$template_sum" "$template/$TEMPLATE_NAME.manifest" \
            || die "the cached template $template/$TEMPLATE_NAME.qcow2 does not match its manifest's SHA256: delete $template and build again"
        mkdir -p "$stage/.tappaas/templates"
        place "$template/$TEMPLATE_NAME.qcow2" "$stage/.tappaas/templates/$TEMPLATE_NAME.qcow2"
        cp "$template/$TEMPLATE_NAME.manifest" "$stage/.tappaas/templates/$TEMPLATE_NAME.manifest"
    fi

    if [[ -n $opnsense ]]; then
        mkdir -p "$stage/.tappaas/firewall"
        place "$opnsense" "$stage/.tappaas/firewall/opnsense.img"
    fi

    local date_epoch commit
    date_epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
    commit=$(git -C "$REPO_DIR" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
    {
        echo "FLAVOUR=$FLAVOUR"
        echo "DEBIAN_SUITE=$SUITE"
        echo "BUILD_DATE=$(date -u -d "@$date_epoch" +%Y-%m-%dT%H:%M:%SZ)"
        echo "TARGET_IMAGE=/.tappaas/$target_name"
        echo "TARGET_IMAGE_SHA256=$(sha256sum "$target" | cut -c1-64)"
        echo "LIVE_KERNEL=$(cat "$live/kernel-version")"
        if [[ -n $template ]]; then
            echo "TEMPLATE_IMAGE=/.tappaas/templates/$TEMPLATE_NAME.qcow2"
            echo "TEMPLATE_IMAGE_SHA256=$template_sum"
            echo "TEMPLATE_MANIFEST=/.tappaas/templates/$TEMPLATE_NAME.manifest"
        fi
        if [[ -n $opnsense ]]; then
            echo "FIREWALL_IMAGE=/.tappaas/firewall/opnsense.img"
            echo "FIREWALL_IMAGE_SHA256=$(sha256sum "$opnsense" | cut -c1-64)"
        fi
        echo "GIT_COMMIT=$commit"
        echo "ISO_LABEL=$ISO_LABEL"
    } >"$stage/.tappaas/build-info"
    log "build-info:"; sed 's/^/    /' "$stage/.tappaas/build-info" >&2

    # The late layer: a small squashfs that live-boot stacks on top of
    # filesystem.squashfs (it mounts every /live/*.squashfs, sorted by name).
    install -m 755 "$bin" "$layer/usr/bin/tappaas-installer"
    install -m 644 "$stage/.tappaas/build-info" "$layer/usr/share/tappaas/build-info"
    mksquashfs "$layer" "$stage/live/zz-tappaas.squashfs" -noappend -comp zstd \
        -all-root -no-progress -quiet >&2

    rm -f "$out.part"
    # Hybrid image: El Torito (BIOS and UEFI) for CDs and an MBR/GPT with an
    # EFI system partition for USB sticks.
    grub-mkrescue -o "$out.part" "$stage" -- -volid "$ISO_LABEL" >"$WORK_DIR/grub-mkrescue.log" 2>&1 \
        || { cat "$WORK_DIR/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }
    local label
    label=$(xorriso -indev "$out.part" -pvd_info 2>/dev/null | sed -n 's/^Volume Id *: *//p')
    [[ $label == "$ISO_LABEL" ]] || die "ISO volume label is '$label', expected $ISO_LABEL"
    mv -f "$out.part" "$out"
    rm -rf "$stage" "$layer"
}
