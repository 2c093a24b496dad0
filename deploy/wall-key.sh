#!/usr/bin/env bash
# Prints the local stack's reader key for the wall, issuing it on the first `make up` only.
# The key lives beside the stack's data (git-ignored, readable by its owner only), so
# `make reset` forgets it along with the database that knows its hash.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KEY_FILE=${IOC_STACK_DIR:-$ROOT/.stack}/wall-reader.key
if [ ! -s "$KEY_FILE" ]; then
  umask 077
  "$ROOT/.venv/bin/ioc" keys issue --reader wall --label "wall of make up (wall-reader.key in the stack dir)" | tail -n 1 >"$KEY_FILE"
fi
echo "  wall       http://127.0.0.1:${IOC_API_PORT:-8000}/wall#key=$(cat "$KEY_FILE")"
echo "  reader key for the wall and the API (Authorization: Bearer ...):"
echo "  $(cat "$KEY_FILE")"
