#!/bin/sh
# Builds one service the way its image does (deploy/Dockerfile runs this
# script, and deploy/image_test.go runs it to check the result):
#   VERSION=v1.2.3 deploy/build.sh SERVICE OUTPUT
# GOWORK=off: the service builds from its own go.mod, whose replace lines
# point at ../../pkg and ../../proto, so the image needs no go.work.
# CGO_ENABLED=0: a static binary for the distroless static base (no libc).
# -trimpath: no build machine paths in the binary.
# -buildvcs=false: the image context has no .git; the image's
# org.opencontainers.image.revision label carries the commit instead.
set -eu

if [ $# -ne 2 ]; then
	echo "usage: VERSION=<version> $0 SERVICE OUTPUT" >&2
	exit 2
fi
service=$1
case $2 in
/*) output=$2 ;;
*) output=$PWD/$2 ;;
esac
dir=$(cd "$(dirname "$0")/.." && pwd)/services/$service
if [ ! -f "$dir/go.mod" ]; then
	echo "build: no service $service (want services/$service/go.mod)" >&2
	exit 2
fi

cd "$dir"
GOWORK=off CGO_ENABLED=0 go build -trimpath -buildvcs=false \
	-ldflags "-s -w -X main.version=${VERSION:-dev}" -o "$output" .
