# The pve flavour's target image: Debian trixie + Proxmox VE, following
# Proxmox's "install Proxmox VE on Debian 13" steps. Proxmox's kernel carries
# ZFS, so this flavour needs no DKMS and does not use the base tarball.
# shellcheck shell=bash

# Proxmox's apt repository and archive key for Proxmox VE 9 (Debian 13).
# The SHA-256 sum is the one Proxmox publishes next to its install-on-Debian
# instructions; a key that does not match is never used.
PVE_REPO_URI_DEFAULT=http://download.proxmox.com/debian/pve
PVE_KEYRING_URLS_DEFAULT=(
    https://enterprise.proxmox.com/debian/proxmox-archive-keyring-trixie.gpg
    http://download.proxmox.com/debian/proxmox-archive-keyring-trixie.gpg
)
PVE_KEYRING_SHA256_DEFAULT=136673be77aba35dcce385b28737689ad64fd785a797e57897589aed08db6e45
PVE_COMPONENT=pve-no-subscription
PVE_KEYRING_PATH=/usr/share/keyrings/proxmox-archive-keyring.gpg
# A local mirror of Proxmox's repository (or a test double of it, see
# image/tests/pve-fake-repo) can stand in for it; all three go together,
# since another keyring needs its own checksum.
PVE_REPO_URI=${TAPPAAS_PVE_REPO_URI:-$PVE_REPO_URI_DEFAULT}
if [[ -n ${TAPPAAS_PVE_KEYRING_URL:-} ]]; then
    PVE_KEYRING_URLS=("$TAPPAAS_PVE_KEYRING_URL")
    PVE_KEYRING_SHA256=${TAPPAAS_PVE_KEYRING_SHA256:?TAPPAAS_PVE_KEYRING_URL needs TAPPAAS_PVE_KEYRING_SHA256}
else
    PVE_KEYRING_URLS=("${PVE_KEYRING_URLS_DEFAULT[@]}")
    PVE_KEYRING_SHA256=$PVE_KEYRING_SHA256_DEFAULT
fi

# Fetch and check the Proxmox keyring; also proves the repository host is
# reachable before any slow step. Fails with a clear message otherwise.
pve_fetch_keyring() { # OUT
    local out=$1 url ok=0
    for url in "${PVE_KEYRING_URLS[@]}"; do
        log "pve: fetching $url"
        if curl -fsSL --connect-timeout 10 --max-time 60 -o "$out" "$url"; then
            ok=1
            break
        fi
    done
    [[ $ok -eq 1 ]] || die "the pve flavour needs Proxmox's repository, which is not reachable from this machine (tried: ${PVE_KEYRING_URLS[*]}). Build --flavour test here, or build pve on a machine with Internet access."
    local sum
    sum=$(sha256sum "$out" | cut -c1-64)
    [[ $sum == "$PVE_KEYRING_SHA256" ]] \
        || die "Proxmox keyring checksum mismatch: got $sum, expected $PVE_KEYRING_SHA256 (refusing to trust it)"
    # The repository itself must answer too (the key host may differ).
    curl -fsS --connect-timeout 10 --max-time 60 -o /dev/null "$PVE_REPO_URI/dists/$SUITE/Release" \
        || die "Proxmox repository $PVE_REPO_URI is not reachable from this machine"
    log "pve: keyring verified (sha256 $sum), repository reachable"
}

target_pve_root() { # ROOT
    local root=$1 hooks="$WORK_DIR/pve-hooks"
    mkdir -p "$hooks"
    [[ -f $WORK_DIR/proxmox-archive-keyring.gpg ]] || pve_fetch_keyring "$WORK_DIR/proxmox-archive-keyring.gpg"
    cp "$WORK_DIR/proxmox-archive-keyring.gpg" "$hooks/proxmox-archive-keyring.gpg"
    cat >"$hooks/pve.sources" <<EOF
Types: deb
URIs: $PVE_REPO_URI
Suites: $SUITE
Components: $PVE_COMPONENT
Signed-By: $PVE_KEYRING_PATH
EOF
    # Proxmox's steps, run inside the new root, where the Signed-By path of
    # the source resolves (mmdebstrap's own apt runs outside the chroot and
    # would look for the keyring on the build host): the kernel first, then
    # the Proxmox VE packages, then Debian's kernel and os-prober removed.
    cat >"$hooks/pve-install" <<'EOF'
#!/bin/sh
set -eu
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y proxmox-default-kernel
# postfix asks how to deliver mail: local only until the node is configured.
printf '%s\n' 'postfix postfix/main_mailer_type select Local only' \
    'postfix postfix/mailname string tappaas.invalid' | debconf-set-selections
apt-get install -y proxmox-ve postfix open-iscsi chrony
# ZFS snapshots (the answer's [backup]), after proxmox-ve: its dependency
# zfsutils-linux must be Proxmox's, matching Proxmox's kernel, not Debian's.
apt-get install -y sanoid
old=$(dpkg-query -W -f='${Package} ${Status}\n' 'linux-image-[0-9]*' 2>/dev/null \
    | awk '$NF == "installed" {print $1}')
# shellcheck disable=SC2086
apt-get remove -y linux-image-amd64 $old os-prober
dpkg-query -W -f='${Status}\n' proxmox-ve | grep -q 'install ok installed'
EOF
    chmod 755 "$hooks/pve-install"
    local tmp="$WORK_DIR/pve.tar.zst"
    mmdebstrap --mode=root --variant=apt --components=main,contrib \
        --include="$(pkg_list "$IMAGE_DIR/packages/target-pve.list")" \
        --customize-hook="mkdir -p \"\$1/usr/share/keyrings\" \"\$1/etc/apt/sources.list.d\"" \
        --customize-hook="cp '$hooks/proxmox-archive-keyring.gpg' \"\$1$PVE_KEYRING_PATH\"" \
        --customize-hook="cp '$hooks/pve.sources' \"\$1/etc/apt/sources.list.d/pve.sources\"" \
        --customize-hook="cp '$hooks/pve-install' \"\$1/tmp/pve-install\"" \
        --customize-hook='chroot "$1" /tmp/pve-install' \
        --customize-hook='rm -f "$1/tmp/pve-install"' \
        "$SUITE" "$tmp" </dev/null >&2 \
        || die "mmdebstrap of the pve target failed (see the messages above)"
    unpack_root "$tmp" "$root"
    rm -f "$tmp"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    : >"$root/etc/machine-id"
}
