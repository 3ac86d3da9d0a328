#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund
# Real sshd, Slurm and Dask for the integration tests (apt, only what is missing).
bash scripts/install-services.sh
npm test
