#!/usr/bin/env bash
# make release-docker: the container image (Dockerfile), tagged with the
# version. Skips, with a message and exit 0, where no Docker engine runs.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
IMAGE=${IMAGE:-switchyard}
if ! command -v docker >/dev/null 2>&1; then
	echo "release-docker: skipped: no docker command on this machine"
	exit 0
fi
if ! docker info >/dev/null 2>&1; then
	echo "release-docker: skipped: no Docker engine is running (docker info failed)"
	exit 0
fi
docker build --build-arg VERSION="$VERSION" -t "$IMAGE:$VERSION" -t "$IMAGE:latest" .
echo "release-docker: built $IMAGE:$VERSION"
