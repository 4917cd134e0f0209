# Stage "template": the disk image that service VMs are cloned from. Debian
# trixie with cloud-init and the QEMU guest agent, one disk, bootable by
# legacy BIOS (SeaBIOS, Proxmox's default) and by UEFI (OVMF), serial
# console. Output: a compressed qcow2 and a manifest, shipped on the ISO
# under /.tappaas/templates/ (see docs/iso.md).
#
# How the disk is made without partitioned loop devices (the build machines
# cannot scan partitions of a loop device, so grub-install has no disk to
# probe): mmdebstrap builds the root in a directory; sfdisk partitions a
# sparse raw file (GPT: BIOS boot, EFI system, root); mkfs.ext4 -d writes
# the root file system straight into the file at the root partition's
# offset; the EFI system partition is a FAT image filled with mtools and
# copied in; GRUB's BIOS boot sector and core image (made by the new root's
# own grub-mkimage) are written the way grub-bios-setup writes them. These
# are the steps grub-install takes, done by hand, with no loop device, no
# mount and no privilege beyond the chroot that mmdebstrap needs anyway.
# shellcheck shell=bash

TEMPLATE_NAME=debian-cloud
# Virtual size: small, since Proxmox resizes the disk of a clone and
# cloud-init (growpart, resize2fs) grows the root to fill it at first boot.
TEMPLATE_DISK_MIB=4096
# Layout in MiB: BIOS boot partition 1-4, EFI system partition 4-128, root
# from 128 to 1 MiB before the end (the backup GPT). The root is last so
# that growpart can grow it into the space a resize adds.
TEMPLATE_ESP_START_MIB=4
TEMPLATE_ROOT_START_MIB=128

template_key() {
    local overlay=()
    [[ -d $REPO_DIR/overlays/template ]] && overlay=("$REPO_DIR/overlays/template")
    inputs_hash "str:suite=$SUITE" "str:disk=$TEMPLATE_DISK_MIB" "$IMAGE_DIR/packages/template.list" \
        "$IMAGE_DIR/lib/template.sh" "$IMAGE_DIR/lib/common.sh" "${overlay[@]}"
}

# Sets TEMPLATE_DIR to a cache directory with $TEMPLATE_NAME.qcow2 and
# $TEMPLATE_NAME.manifest, building them when missing.
build_template() {
    local key out
    key=$(template_key)
    out="$CACHE_DIR/template-$SUITE-$key"
    if [[ -f $out/$TEMPLATE_NAME.qcow2 && -f $out/$TEMPLATE_NAME.manifest ]]; then
        log "template: cached $(basename "$out")"
        TEMPLATE_DIR=$out
        return
    fi
    for t in sfdisk mkfs.ext4 mkfs.vfat mcopy qemu-img; do
        command -v "$t" >/dev/null || die "template: $t not found: run scripts/setup-host first"
    done
    log "template: building $(basename "$out")"
    local started root="$WORK_DIR/template-root" stage="$WORK_DIR/template-out" grub="$WORK_DIR/template-grub"
    started=$(date +%s)
    mkdir -p "$stage" "$grub"
    # The file systems' ids are fixed here: GRUB and fstab name them.
    local root_uuid esp_id
    root_uuid=$(cat /proc/sys/kernel/random/uuid)
    esp_id=$(od -An -N4 -tx4 /dev/urandom | tr -d ' ' | tr 'a-f' 'A-F')
    # No mirror argument: mmdebstrap's default Debian mirror, which also adds
    # the -updates and -security suites for a stable release.
    mmdebstrap --mode=root --variant=apt --components=main \
        --include="$(pkg_list "$IMAGE_DIR/packages/template.list")" \
        "$SUITE" "$root" </dev/null >&2 \
        || die "mmdebstrap of the template failed (see the messages above)"
    CHROOT_ROOT=$root
    chroot_prepare "$root"
    if [[ -d $REPO_DIR/overlays/template ]]; then
        cp -a --no-preserve=ownership "$REPO_DIR/overlays/template/." "$root/"
    fi
    local kver
    kver=$(find "$root/lib/modules" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
    [[ -n $kver && -f $root/boot/vmlinuz-$kver ]] || die "template: no kernel in the root"
    template_configure "$root" "$kver" "$root_uuid" "$esp_id"
    template_grub_images "$root" "$grub" "$root_uuid"
    template_manifest_packages "$root" >"$stage/packages"
    clean_root "$root"
    # cloud-init makes them on first boot, unique per VM.
    rm -f "$root"/etc/ssh/ssh_host_*
    chroot_release "$root"
    ln -sfn ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
    # Root has no password (cloud-init's default user gets the SSH keys).
    sed -i 's/^root:[^:]*:/root:*:/' "$root/etc/shadow"
    # What must be unique per VM is made at its first boot, not shipped.
    [[ -f $root/etc/machine-id && ! -s $root/etc/machine-id ]] \
        || die "template: /etc/machine-id must exist and be empty"
    if compgen -G "$root/etc/ssh/ssh_host_*" >/dev/null; then
        die "template: SSH host keys left in the image"
    fi

    local raw="$WORK_DIR/template.raw"
    template_disk "$root" "$grub" "$raw" "$root_uuid" "$esp_id"
    # The raw file is sparse; qemu-img skips the holes and compresses the rest.
    qemu-img convert -c -O qcow2 "$raw" "$stage/$TEMPLATE_NAME.qcow2" >&2 \
        || die "template: qemu-img convert failed"
    rm -f "$raw"
    rm -rf --one-file-system "$root"
    template_manifest "$stage" "$kver" "$root_uuid" "$esp_id" "$(( $(date +%s) - started ))" \
        >"$stage/$TEMPLATE_NAME.manifest"
    rm -f "$stage/packages"
    rm -rf "$out"
    mv "$stage" "$out"
    log "template: $(du -m "$out/$TEMPLATE_NAME.qcow2" | cut -f1) MiB qcow2, kernel $kver, $(( $(date +%s) - started )) s"
    TEMPLATE_DIR=$out
}

# Settings a cloud image needs that the packages do not make.
template_configure() { # ROOT KVER ROOT_UUID ESP_ID
    local root=$1 kver=$2 root_uuid=$3 esp_id=$4
    cat >"$root/etc/fstab" <<EOF
# The template's file systems, by id (image/lib/template.sh).
UUID=$root_uuid / ext4 rw,discard,errors=remount-ro 0 1
UUID=${esp_id:0:4}-${esp_id:4:4} /boot/efi vfat umask=0077 0 1
EOF
    mkdir -p "$root/boot/efi"
    echo localhost >"$root/etc/hostname"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
    # cloud-init writes the network config for systemd-networkd (see
    # overlays/template/etc/cloud/cloud.cfg.d/90-tappaas.cfg).
    in_root "$root" systemctl enable systemd-networkd.service systemd-resolved.service >&2
    # GRUB upgrades inside the VM re-install both boot loaders (the
    # grub-cloud-amd64 package does so only when this flag exists).
    : >"$root/etc/grub.d/enable_cloud"
    # The first GRUB menu, written here because grub-mkconfig cannot probe
    # a disk from this build root. It uses the kernel command line of
    # /etc/default/grub (and grub.d), so the menu that update-grub writes in
    # the VM on the first kernel upgrade boots the same way.
    local cmdline
    # shellcheck disable=SC2016
    cmdline=$(in_root "$root" sh -c '. /etc/default/grub; for f in /etc/default/grub.d/*.cfg; do [ -e "$f" ] && . "$f"; done; echo "$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"')
    mkdir -p "$root/boot/grub"
    cat >"$root/boot/grub/grub.cfg" <<EOF
# Written by the TAPPaaS template build; update-grub replaces it.
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
set timeout=1
set default=0
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root $root_uuid
menuentry 'Debian GNU/Linux' {
    linux /boot/vmlinuz-$kver root=UUID=$root_uuid ro $cmdline
    initrd /boot/initrd.img-$kver
}
EOF
    # GRUB's modules where the BIOS core image looks for them ($prefix).
    mkdir -p "$root/boot/grub/i386-pc"
    cp "$root"/usr/lib/grub/i386-pc/*.mod "$root"/usr/lib/grub/i386-pc/*.lst "$root/boot/grub/i386-pc/"
}

# GRUB's boot images, made with the new root's own GRUB: the BIOS core
# image (it finds the root file system by id and reads its modules and
# grub.cfg from /boot/grub there) and, for UEFI, shim and Debian's signed
# GRUB (which reads EFI/debian/grub.cfg on the EFI partition; that file
# points it at the root's /boot/grub/grub.cfg).
template_grub_images() { # ROOT OUTDIR ROOT_UUID
    local root=$1 out=$2 root_uuid=$3
    # shellcheck disable=SC2016 # GRUB variables, not the shell's
    printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\n' "$root_uuid" >"$root/tmp/early.cfg"
    in_root "$root" grub-mkimage -O i386-pc -o /tmp/core.img -c /tmp/early.cfg -p /boot/grub \
        biosdisk part_gpt ext2 search_fs_uuid >&2 || die "template: grub-mkimage (i386-pc) failed"
    cp "$root/tmp/core.img" "$root/usr/lib/grub/i386-pc/boot.img" "$out/"
    # shellcheck disable=SC2016
    printf 'search.fs_uuid %s root\nset prefix=($root)/boot/grub\nconfigfile $prefix/grub.cfg\n' \
        "$root_uuid" >"$out/grub.cfg"
    local f
    for f in usr/lib/shim/shimx64.efi.signed usr/lib/shim/mmx64.efi.signed \
        usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed; do
        [[ -f $root/$f ]] || die "template: $f missing in the root (shim-signed, grub-efi-amd64-signed)"
        cp "$root/$f" "$out/"
    done
}

# Partitions a sparse raw file and fills it: BIOS boot, EFI system and root
# partitions, then GRUB's BIOS boot code.
template_disk() { # ROOT GRUBDIR RAW ROOT_UUID ESP_ID
    local root=$1 grub=$2 raw=$3 root_uuid=$4 esp_id=$5
    local esp_mib=$((TEMPLATE_ROOT_START_MIB - TEMPLATE_ESP_START_MIB))
    local root_mib=$((TEMPLATE_DISK_MIB - TEMPLATE_ROOT_START_MIB - 1))
    rm -f "$raw"
    truncate -s "${TEMPLATE_DISK_MIB}M" "$raw"
    # GPT type codes: BIOS boot, EFI system, Linux file system.
    sfdisk -q --no-reread --no-tell-kernel "$raw" >&2 <<EOF || die "template: sfdisk failed"
label: gpt
start=1MiB, size=$((TEMPLATE_ESP_START_MIB - 1))MiB, type=21686148-6449-6E6F-744E-656564454649, name="bios"
start=${TEMPLATE_ESP_START_MIB}MiB, size=${esp_mib}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="esp"
start=${TEMPLATE_ROOT_START_MIB}MiB, size=${root_mib}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF
    # The root file system, written at its partition's offset, with
    # mke2fs's default ext4 features (trixie's GRUB 2.12 reads them).
    mkfs.ext4 -q -F -L root -U "$root_uuid" -b 4096 -d "$root" \
        -E "offset=$((TEMPLATE_ROOT_START_MIB << 20))" "$raw" "$((root_mib * 256))" >&2 \
        || die "template: mkfs.ext4 -d failed"
    # The EFI system partition: shim as the removable-media loader (no boot
    # entry needed), Debian's signed GRUB next to it.
    local esp="$WORK_DIR/template-esp.img"
    rm -f "$esp"
    mkfs.vfat -F 32 -n EFI -i "$esp_id" -C "$esp" $((esp_mib * 1024)) >/dev/null \
        || die "template: mkfs.vfat failed"
    mmd -i "$esp" ::/EFI ::/EFI/BOOT ::/EFI/debian
    mcopy -i "$esp" "$grub/shimx64.efi.signed" ::/EFI/BOOT/BOOTX64.EFI
    mcopy -i "$esp" "$grub/grubx64.efi.signed" ::/EFI/BOOT/grubx64.efi
    mcopy -i "$esp" "$grub/mmx64.efi.signed" ::/EFI/BOOT/mmx64.efi
    mcopy -i "$esp" "$grub/shimx64.efi.signed" ::/EFI/debian/shimx64.efi
    mcopy -i "$esp" "$grub/grubx64.efi.signed" ::/EFI/debian/grubx64.efi
    mcopy -i "$esp" "$grub/mmx64.efi.signed" ::/EFI/debian/mmx64.efi
    mcopy -i "$esp" "$grub/grub.cfg" ::/EFI/debian/grub.cfg
    mcopy -i "$esp" "$grub/grub.cfg" ::/EFI/BOOT/grub.cfg
    dd if="$esp" of="$raw" bs=1M seek="$TEMPLATE_ESP_START_MIB" conv=notrunc,sparse status=none \
        || die "template: writing the EFI partition failed"
    rm -f "$esp"
    template_bios_boot "$raw" "$grub/boot.img" "$grub/core.img"
}

# Little-endian bytes of VALUE, COUNT bytes long, as printf escapes.
le_bytes() { # VALUE COUNT
    local v=$1 n=$2 i out=
    for ((i = 0; i < n; i++)); do
        out+=$(printf '\\x%02x' $(((v >> (8 * i)) & 255)))
    done
    printf '%s' "$out"
}
put_bytes() { # FILE OFFSET ESCAPES
    # shellcheck disable=SC2059 # the escapes are the format
    printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# GRUB's BIOS boot code on the disk: what grub-bios-setup does for a GPT
# disk with a BIOS boot partition (without its optional Reed-Solomon
# codes). grub-bios-setup itself cannot be used: it insists on finding the
# device that holds its input directory, which a build in a directory (or a
# container) does not have. Checked byte for byte against grub-bios-setup
# --no-rs-codes (docs/iso.md). Offsets from GRUB's i386/pc/boot.h.
template_bios_boot() { # RAW BOOT_IMG CORE_IMG
    local raw=$1 mbr="$WORK_DIR/template-mbr.bin" core="$WORK_DIR/template-core.bin"
    local first=$((1 << 11)) size sectors room
    size=$(stat -c %s "$3")
    sectors=$(((size + 511) / 512))
    room=$(((TEMPLATE_ESP_START_MIB - 1) << 11))
    ((sectors <= room)) || die "template: GRUB's core image ($sectors sectors) does not fit the BIOS boot partition"
    # boot.img goes into the MBR, keeping the disk's BIOS parameter block
    # area (0x03-0x59) and its signature and partition table (0x1b8-0x1fd).
    cp "$2" "$mbr"
    dd if="$raw" of="$mbr" bs=1 skip=3 seek=3 count=$((0x5a - 3)) conv=notrunc status=none
    dd if="$raw" of="$mbr" bs=1 skip=$((0x1b8)) seek=$((0x1b8)) count=$((0x1fe - 0x1b8)) conv=notrunc status=none
    put_bytes "$mbr" $((0x5c)) "$(le_bytes "$first" 8)" # where core.img starts
    put_bytes "$mbr" $((0x64)) '\xff'                    # boot drive: the one the BIOS says
    put_bytes "$mbr" $((0x66)) '\x90\x90'                # a hard disk: no floppy check (two NOPs)
    # core.img's first sector loads the rest: one block list entry at the
    # end of that sector (start, sectors, load segment 0x820), and before
    # it the all-zero terminator.
    cp "$3" "$core"
    truncate -s $((sectors * 512)) "$core"
    put_bytes "$core" 488 "$(le_bytes 0 12)"
    put_bytes "$core" 500 "$(le_bytes $((first + 1)) 8)$(le_bytes $((sectors - 1)) 2)$(le_bytes $((0x820)) 2)"
    dd if="$core" of="$raw" bs=512 seek="$first" conv=notrunc status=none
    dd if="$mbr" of="$raw" bs=512 count=1 conv=notrunc status=none
    rm -f "$mbr" "$core"
}

# Versions of every package in the image, "name version" per line.
template_manifest_packages() { # ROOT
    # shellcheck disable=SC2016
    in_root "$1" dpkg-query -W -f='${Package} ${Version}\n'
}

template_manifest() { # STAGE KVER ROOT_UUID ESP_ID SECONDS
    local stage=$1 kver=$2 root_uuid=$3 esp_id=$4 secs=$5 q="$1/$TEMPLATE_NAME.qcow2"
    local date_epoch
    date_epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
    version_of() { awk -v p="$1" '$1 == p {print $2}' "$stage/packages"; }
    echo "# The TAPPaaS service VM template (image/lib/template.sh)."
    echo "NAME=$TEMPLATE_NAME"
    echo "FORMAT=qcow2"
    echo "SHA256=$(sha256sum "$q" | cut -c1-64)"
    echo "SIZE=$(stat -c %s "$q")"
    echo "VIRTUAL_SIZE=$((TEMPLATE_DISK_MIB << 20))"
    echo "BUILD_DATE=$(date -u -d "@$date_epoch" +%Y-%m-%dT%H:%M:%SZ)"
    echo "BUILD_SECONDS=$secs"
    echo "DEBIAN_SUITE=$SUITE"
    echo "KERNEL=$kver"
    echo "CLOUD_INIT_VERSION=$(version_of cloud-init)"
    echo "QEMU_GUEST_AGENT_VERSION=$(version_of qemu-guest-agent)"
    echo "GRUB_VERSION=$(version_of grub-pc-bin)"
    echo "BOOT=bios,uefi"
    echo "CONSOLE=ttyS0"
    echo "ROOT_FS_UUID=$root_uuid"
    echo "ESP_FS_ID=${esp_id:0:4}-${esp_id:4:4}"
    echo "ROOT_PARTITION=3"
    echo "DEFAULT_USER=debian"
    echo "PACKAGES=$(wc -l <"$stage/packages")"
}
