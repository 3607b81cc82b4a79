#!/bin/sh
# Installs the system packages the C++ library (cpp/) and its tests build with:
#   sh scripts/install-system-packages.sh             # cmake, g++, nlohmann-json, stb, cpp-httplib, GNU time (tests read a child's peak memory with it)
#   sh scripts/install-system-packages.sh --aarch64   # also the aarch64 (Jetson) cross toolchain and qemu
# Safe to rerun: apt-get install is a no-op for packages already present. On a system without
# apt-get it installs nothing and says what to install instead (exit 0, so a setup script can
# call it unconditionally); the C++ tests then fail naming this script if something is missing.
set -eu

PACKAGES="cmake make g++ pkg-config nlohmann-json3-dev libstb-dev libcpp-httplib-dev time"
# --aarch64: g++-aarch64-linux-gnu, libc6-dev-arm64-cross, qemu-user-static for the aarch64 (Jetson)
# cross build and its tests under emulation (cpp/cmake/toolchains/aarch64-linux-gnu.cmake,
# tests/jetson/, which run this script with --aarch64 when they find the tools missing as root).
for arg in "$@"; do
    case "$arg" in
        --aarch64) PACKAGES="$PACKAGES g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static" ;;
        *) echo "install-system-packages: unknown argument $arg (usage: sh scripts/install-system-packages.sh [--aarch64])" >&2
           exit 2 ;;
    esac
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-packages: no apt-get (not Debian/Ubuntu): install the equivalents of $PACKAGES yourself" >&2
    exit 0
fi

# CI runs as root; a developer's machine goes through sudo.
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "install-system-packages: not root and no sudo: run as root: apt-get install $PACKAGES" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086  # the package list is meant to split into words
$SUDO apt-get install -y -qq --no-install-recommends $PACKAGES
