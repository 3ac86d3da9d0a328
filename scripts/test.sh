#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh machine, then runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund
npm test
