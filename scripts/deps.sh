#!/usr/bin/env bash
# Installs what feedloop needs that a fresh machine may lack: redis-server
# (apt-get on Debian/Ubuntu, brew on macOS) and the pinned tools built from the
# Go module proxy into .bin/ (nats-server, buf, protoc plugins, grpcurl,
# benchstat, helm; versions in scripts/tools/go.mod). Idempotent; quiet when all is
# there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null || ! go env GOVERSION | grep -Eq '^go1\.(2[6-9]|[3-9][0-9])'; then
  echo "deps: Go 1.26 or newer is required (https://go.dev/dl/)" >&2
  exit 1
fi

if ! command -v redis-server >/dev/null; then
  echo "deps: installing redis-server"
  case "$(uname -s)" in
    Linux)
      if command -v apt-get >/dev/null; then
        sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
      else
        echo "deps: install redis-server (7.0 or newer) with your package manager, then run again" >&2
        exit 1
      fi ;;
    Darwin) brew install redis ;;
    *) echo "deps: install redis-server (7.0 or newer), then run again" >&2; exit 1 ;;
  esac
fi

make -s tools
