#!/usr/bin/env bash
# Installs the Debian packages behind the integration tests' real services (OpenSSH server,
# rsync, Slurm + munge, Dask, Postgres, Chromium for the dashboard) — only those whose binaries
# are missing, so a second run does nothing and needs no network. The S3-compatible server
# (s3rver) is an npm devDependency of packages/test-services: `npm install` brings it; this
# script checks it is there. Needs root; packages/test-services does the same lazily
# per component when a test starts a service.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }

if [ ! -x /usr/sbin/sshd ] || ! have ssh || ! have ssh-keygen; then
  missing+=(openssh-server openssh-client)
fi
# FileTransfer's RsyncTransfer runs the real rsync (over the test sshd).
if ! have rsync; then
  missing+=(rsync)
fi
for bin in slurmctld slurmd munged munge unmunge sbatch sinfo scontrol; do
  if ! have "$bin"; then missing+=(slurm-wlm munge); break; fi
done
# Debian's packages install for Debian's interpreter, not whatever python3 is first on PATH.
if ! /usr/bin/python3 -c 'import dask, distributed' >/dev/null 2>&1; then
  missing+=(python3-dask python3-distributed)
fi

# A real Postgres for the store's Postgres tests: initdb and postgres (on PATH on some images,
# under /usr/lib/postgresql/<version>/bin from Debian's package) and psql.
if ! have initdb && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  missing+=(postgresql postgresql-client)
elif ! have psql; then
  missing+=(postgresql-client)
fi

# The dashboard's browser tests drive Debian's Chromium (playwright-core never downloads one).
if [ ! -x /usr/bin/chromium ]; then
  missing+=(chromium)
fi

if ! node -e 'require.resolve("s3rver/package.json", { paths: [process.argv[1]] })' "$(dirname "$0")/../packages/test-services" 2>/dev/null; then
  echo "install-services: s3rver (the tests' S3 server) is missing: run npm install at the repository root" >&2
  exit 1
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-services: sshd, rsync, Slurm, Dask, Postgres and Chromium already installed; s3rver from npm"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-services: missing packages ${missing[*]}; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "install-services: installing ${missing[*]}"
# Same lock file as packages/test-services, so a test run installing lazily does not race us.
lock=/tmp/valence-apt.lock
run_locked() { if command -v flock >/dev/null 2>&1; then flock "$lock" "$@"; else "$@"; fi; }
export DEBIAN_FRONTEND=noninteractive
run_locked apt-get -o DPkg::Lock::Timeout=300 update
run_locked apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
