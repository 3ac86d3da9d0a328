#!/usr/bin/env bash
# Installs the Dask side of the benchmark: Debian's python3-dask and
# python3-distributed, for Debian's own interpreter (/usr/bin/python3).
# Idempotent: does nothing if `import distributed` already works.
# Must run as root on Debian 12 (apt). Prints one line on success.
set -euo pipefail

PY=/usr/bin/python3

if [ -x "$PY" ] && "$PY" -c 'import dask, distributed' >/dev/null 2>&1; then
  echo "dask: $("$PY" -c 'import dask; print(dask.__version__)') already installed"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "bench/setup.sh: python3-dask/python3-distributed missing and not root; install them with apt" >&2
  exit 1
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -q &&
       apt-get install -y -q --no-install-recommends python3 python3-dask python3-distributed; } >"$log" 2>&1; then
  echo "bench/setup.sh: apt-get failed:" >&2
  tail -n 30 "$log" >&2
  exit 1
fi

if ! "$PY" -c 'import dask, distributed' >/dev/null 2>&1; then
  echo "bench/setup.sh: installed packages but '$PY -c \"import distributed\"' still fails" >&2
  "$PY" -c 'import distributed' >&2 || true
  exit 1
fi
echo "dask: $("$PY" -c 'import dask; print(dask.__version__)') installed"
