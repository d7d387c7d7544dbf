#!/bin/sh
# Fetch Debian's `pebble` package (Pebble + pebble-challtestsrv) into a local cache folder,
# with apt's own tools and a temporary sources list, without touching the machine's apt sources.
# Prefers sid's 2.10 (ARI, profiles); falls back to the machine's own suite (stable: 2.4).
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CACHE="${PEBBLE_CACHE:-$ROOT/.cache/pebble}"
if [ -x "$CACHE/root/usr/bin/pebble" ] && [ -x "$CACHE/root/usr/bin/pebble-challtestsrv" ]; then
    exit 0
fi
mkdir -p "$CACHE/lists/partial" "$CACHE/archives/partial"
APT="-o Dir::Etc::SourceList=$CACHE/sources.list -o Dir::Etc::SourceParts=/dev/null \
 -o Dir::State::Lists=$CACHE/lists -o Dir::Cache=$CACHE -o Debug::NoLocking=1 \
 -o APT::Sandbox::User=root"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
echo "deb [signed-by=$KEYRING] http://deb.debian.org/debian sid main" > "$CACHE/sources.list"
cd "$CACHE"
rm -f ./*.deb
# shellcheck disable=SC2086
if apt-get $APT -qq update && apt-get $APT -qq download pebble; then
    echo "fetched pebble from sid"
else
    echo "sid unavailable; falling back to this machine's suite (tests needing Pebble >= 2.8 skip)"
    apt-get -qq update || true
    apt-get -qq download pebble
fi
rm -rf root && dpkg -x pebble_*.deb root
dpkg-deb -f pebble_*.deb Version > VERSION
echo "pebble $(cat VERSION) in $CACHE/root/usr/bin"
