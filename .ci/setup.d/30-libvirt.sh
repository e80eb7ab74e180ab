#!/usr/bin/env bash
# libvirt's C library and headers, so that pip can build libvirt-python (the local manager's tests run
# on libvirt's built-in test driver, test:///default: no daemon needed). Idempotent and quiet.
set -euo pipefail
missing=()
for package in libvirt-dev pkg-config gcc; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$package")
    fi
done
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
pkg-config --modversion libvirt
