#!/usr/bin/env bash
# Prints the local stack's reader key for the wall and an operator key for the console, issuing
# them on the first `make up` only. The keys live beside the stack's data (git-ignored,
# readable by their owner only), so `make reset` forgets them along with the database that
# knows their hashes.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK_DIR=${IOC_STACK_DIR:-$ROOT/.stack}
KEY_FILE=$STACK_DIR/wall-reader.key
OPERATOR_FILE=$STACK_DIR/console-operator.key
API="http://127.0.0.1:${IOC_API_PORT:-8000}"
umask 077
if [ ! -s "$KEY_FILE" ]; then
  "$ROOT/.venv/bin/ioc" keys issue --reader wall --label "wall of make up (wall-reader.key in the stack dir)" | tail -n 1 >"$KEY_FILE"
fi
if [ ! -s "$OPERATOR_FILE" ]; then  # the register's events name the operator: this login
  "$ROOT/.venv/bin/ioc" keys issue --operator "$(id -un)" --label "console of make up (console-operator.key in the stack dir)" | tail -n 1 >"$OPERATOR_FILE"
fi
echo "  wall       $API/wall#key=$(cat "$KEY_FILE")"
echo "  console    $API/console#key=$(cat "$OPERATOR_FILE")   (the operators' page)"
echo "  reader key for the wall and the API (Authorization: Bearer ...):"
echo "  $(cat "$KEY_FILE")"
