#!/usr/bin/env bash
# make release: static binaries for every supported platform, each in an
# archive with the LICENSE and README, and SHA256SUMS over the archives.
#
#   VERSION          stamped into the binary (main.version); default: git describe
#   RELEASE_TARGETS  os/arch pairs, space separated (default: all supported)
#   DIST             output directory (default: dist)
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
TARGETS=${RELEASE_TARGETS:-"linux/amd64 linux/arm64 darwin/arm64 windows/amd64"}
DIST=${DIST:-dist}
GO=${GO:-go}

rm -rf "$DIST"
mkdir -p "$DIST"
for target in $TARGETS; do
	os=${target%/*} arch=${target#*/}
	name=switchyard_${VERSION}_${os}_${arch}
	dir=$DIST/$name
	exe=switchyard
	[[ $os == windows ]] && exe=switchyard.exe
	mkdir -p "$dir"
	echo "build $target"
	# CGO_ENABLED=0: one static binary, no libc to match on the target.
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch "$GO" build -trimpath \
		-ldflags "-s -w -X main.version=$VERSION" -o "$dir/$exe" ./cmd/switchyard
	cp LICENSE README.md "$dir/"
	if [[ $os == windows ]]; then
		(cd "$DIST" && zip -qr "$name.zip" "$name")
	else
		# Stable archives: sorted names, no owner, the commit's time.
		mtime=$(git log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)
		tar -C "$DIST" --sort=name --owner=0 --group=0 --numeric-owner --mtime="$mtime" -czf "$DIST/$name.tar.gz" "$name"
	fi
	rm -rf "$dir"
done
(cd "$DIST" && sha256sum -- *.tar.gz *.zip 2>/dev/null > SHA256SUMS) || true
[[ -s $DIST/SHA256SUMS ]] || { echo "release: no archives" >&2; exit 1; }
echo "release $VERSION in $DIST:"
cat "$DIST/SHA256SUMS"
