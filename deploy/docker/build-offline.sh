#!/usr/bin/env bash
# Builds the Sluice image with no registry and no network in the build: a Debian bookworm base made by debootstrap from
# Debian packages (minbase, plus the libraries .NET needs), the .NET SDK and runtime copied from this machine's dotnet
# install into two images made with `docker import`, then deploy/docker/Dockerfile with SDK_IMAGE and RUNTIME_IMAGE
# pointing at them. The SDK image also holds this machine's NuGet packages folder as its only package source (run
# `dotnet restore` here first), so the build stage runs with `--network none`.
#   deploy/docker/build-offline.sh [TAG]          # default tag sluice:offline; needs root (debootstrap) and a Docker daemon
# Environment: SLUICE_ROOTFS_CACHE (a folder that keeps the debootstrap tree between runs), DEBIAN_MIRROR, DOTNET_ROOT,
# NUGET_PACKAGES (default ~/.nuget/packages).
set -euo pipefail
tag=${1:-sluice:offline}
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=${SLUICE_ROOTFS_CACHE:-$work/rootfs}
dotnet_root=${DOTNET_ROOT:-$(dirname "$(readlink -f "$(command -v dotnet)")")}
[ -x "$dotnet_root/dotnet" ] || { echo "no dotnet at $dotnet_root (set DOTNET_ROOT)" >&2; exit 2; }

if [ ! -x "$rootfs/bin/bash" ]; then
  echo "== debootstrap bookworm (minbase) into $rootfs"
  if ! debootstrap --variant=minbase --include=ca-certificates,libicu72,libssl3,zlib1g bookworm "$rootfs" \
      "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$work/debootstrap.log" 2>&1; then
    tail -20 "$work/debootstrap.log" >&2
    rm -rf "$rootfs"
    exit 1
  fi
fi

packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}
[ -d "$packages" ] || { echo "no NuGet packages folder at $packages (run dotnet restore first)" >&2; exit 2; }
# the packages folder is a local feed: the only source; no vulnerability data offline, so no audit
mkdir -p "$work/overlay/root/.nuget/NuGet"
cat >"$work/overlay/root/.nuget/NuGet/NuGet.Config" <<'XML'
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="offline" value="/root/.nuget/packages" />
  </packageSources>
</configuration>
XML

# the base tree plus the dotnet install (all of it for the SDK image, the runtimes only for the runtime image)
env=(--change "ENV PATH=/usr/share/dotnet:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  --change "ENV DOTNET_ROOT=/usr/share/dotnet" --change "ENV DOTNET_CLI_TELEMETRY_OPTOUT=1" --change "ENV DOTNET_NOLOGO=1")
name=$(basename "$dotnet_root")
echo "== docker import sluice-sdk:offline"
tar -c --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -C "$rootfs" . -C "$work/overlay" root/.nuget \
  --transform "s,^$name,usr/share/dotnet,;s,^$(basename "$packages"),root/.nuget/packages," \
  -C "$(dirname "$dotnet_root")" "$name" -C "$(dirname "$packages")" "$(basename "$packages")" \
  | docker import "${env[@]}" --change "ENV NuGetAudit=false" - sluice-sdk:offline >/dev/null
echo "== docker import sluice-runtime:offline"
mapfile -t runtime < <(cd "$dotnet_root" && ls -d dotnet host shared LICENSE.txt ThirdPartyNotices.txt 2>/dev/null)
tar -c --exclude='./proc/*' --exclude='./sys/*' --exclude='./dev/*' -C "$rootfs" . \
  --transform "s,^$name,usr/share/dotnet," -C "$(dirname "$dotnet_root")" "${runtime[@]/#/$name/}" \
  | docker import "${env[@]}" - sluice-runtime:offline >/dev/null

echo "== docker build $tag"
ctx=$work/context
mkdir -p "$ctx"
cp "$repo/global.json" "$repo/Directory.Build.props" "$repo/Directory.Packages.props" "$repo/.editorconfig" "$ctx/"
(cd "$repo" && tar -c --exclude='*/bin' --exclude='*/obj' src) | tar -x -C "$ctx"
cp "$repo/deploy/docker/Dockerfile" "$ctx/Dockerfile"
DOCKER_BUILDKIT=0 docker build --network none --build-arg SDK_IMAGE=sluice-sdk:offline --build-arg RUNTIME_IMAGE=sluice-runtime:offline \
  -t "$tag" "$ctx"
