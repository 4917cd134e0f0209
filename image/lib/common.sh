# Helpers shared by the image build stages. Sourced by image/build-iso, not
# run on its own.
# shellcheck shell=bash

log() { printf '[build-iso %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'build-iso: error: %s\n' "$*" >&2; exit 1; }

# Package list files: one name per line, '#' comments and blank lines
# ignored. Prints the names separated by commas (mmdebstrap --include).
pkg_list() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$@" | awk 'NF' | paste -sd, -
}
pkg_words() {
    sed -e 's/#.*//' -e 's/[[:space:]]//g' "$@" | awk 'NF'
}

# Hash of a set of inputs: each argument is a file, a directory (all files
# below it, with their relative paths and modes) or a literal "str:TEXT".
# Stable across checkouts: only contents and relative names go in.
inputs_hash() {
    local a
    for a in "$@"; do
        case "$a" in
            str:*) printf 'S %s\n' "${a#str:}" ;;
            *)
                if [[ -d $a ]]; then
                    (cd "$a" && find . -type f -o -type l | LC_ALL=C sort | while read -r f; do
                        if [[ -L $f ]]; then
                            printf 'L %s %s\n' "$f" "$(readlink "$f")"
                        else
                            printf 'F %s %s %s\n' "$f" "$(stat -c %a "$f")" "$(sha256sum <"$f" | cut -c1-64)"
                        fi
                    done)
                elif [[ -f $a ]]; then
                    printf 'F %s %s\n' "$(basename "$a")" "$(sha256sum <"$a" | cut -c1-64)"
                else
                    die "hash input missing: $a"
                fi
                ;;
        esac
    done | sha256sum | cut -c1-16
}

# Mounts needed to run apt/dpkg inside an unpacked root. Tracked so that the
# EXIT trap can undo them even when a stage fails half-way.
CHROOT_MOUNTS=()
chroot_prepare() { # ROOT
    local r=$1
    mount -t proc proc "$r/proc";          CHROOT_MOUNTS+=("$r/proc")
    mount -t sysfs sysfs "$r/sys";         CHROOT_MOUNTS+=("$r/sys")
    mount --bind /dev "$r/dev";            CHROOT_MOUNTS+=("$r/dev")
    mount --bind /dev/pts "$r/dev/pts";    CHROOT_MOUNTS+=("$r/dev/pts")
    mount -t tmpfs tmpfs "$r/run";         CHROOT_MOUNTS+=("$r/run")
    mount -t tmpfs tmpfs "$r/tmp";         CHROOT_MOUNTS+=("$r/tmp")
    # Name resolution for apt during the build only; the image keeps its own.
    if [[ -e $r/etc/resolv.conf || -L $r/etc/resolv.conf ]]; then
        mv "$r/etc/resolv.conf" "$r/etc/resolv.conf.tappaas-build"
    fi
    cp -L /etc/resolv.conf "$r/etc/resolv.conf"
    # Never start services inside the build root.
    printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
    chmod 755 "$r/usr/sbin/policy-rc.d"
}
chroot_release() { # ROOT
    local r=$1 i
    for ((i = ${#CHROOT_MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${CHROOT_MOUNTS[i]}" 2>/dev/null || umount -l "${CHROOT_MOUNTS[i]}" || true
    done
    CHROOT_MOUNTS=()
    unmount_under "$r"
    rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/resolv.conf"
    if [[ -e $r/etc/resolv.conf.tappaas-build || -L $r/etc/resolv.conf.tappaas-build ]]; then
        mv "$r/etc/resolv.conf.tappaas-build" "$r/etc/resolv.conf"
    fi
}
in_root() { # ROOT CMD...
    local r=$1; shift
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"
}

# Unmount everything mounted at or below DIR (deepest first). A safety net:
# deleting a build root with /dev or /proc still bound into it would delete
# the host's files.
unmount_under() { # DIR
    local dir mp
    dir=$(realpath -m "$1")
    awk '{print $2}' /proc/self/mounts | sed 's/\\040/ /g' | LC_ALL=C sort -r | while read -r mp; do
        if [[ $mp == "$dir" || $mp == "$dir"/* ]]; then
            umount "$mp" 2>/dev/null || umount -l "$mp" || true
        fi
    done
}

# Unpack a cached root tarball into a fresh directory.
unpack_root() { # TARBALL DIR
    unmount_under "$2"
    rm -rf --one-file-system "$2"
    mkdir -p "$2"
    tar --zstd -xpf "$1" -C "$2" --numeric-owner --xattrs --xattrs-include='*'
}

# Remove what only the build needed and what must be unique per machine.
clean_root() { # ROOT
    local r=$1
    in_root "$r" apt-get clean
    rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/*.bin "$r"/var/log/*.log \
        "$r"/var/log/apt/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old
    # An empty machine-id makes systemd generate one on first boot.
    : >"$r/etc/machine-id"
    rm -f "$r/var/lib/dbus/machine-id"
}

# Squash a root directory. zstd: fast to build and to read, and both the
# Debian kernel and squashfs-tools on the live system support it.
squash_root() { # ROOT OUT [extra mksquashfs args]
    local r=$1 out=$2; shift 2
    rm -f "$out.part"
    mksquashfs "$r" "$out.part" -noappend -comp zstd -Xcompression-level 15 \
        -no-progress -quiet "$@" >&2
    mv "$out.part" "$out"
}

# Put a file into the cache atomically (a build cut short leaves no
# half-written artefact that a later build would trust).
cache_commit() { # TMPFILE FINAL
    mv -f "$1" "$2"
}
