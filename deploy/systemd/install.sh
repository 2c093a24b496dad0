#!/usr/bin/env bash
# Installs IOC Stream on a VM run by systemd (docs/deploy.md): the code and its virtual
# environment in /opt/ioc-stream, the units in /etc/systemd/system, the environment file in
# /etc/ioc-stream (kept if present), a dedicated `ioc` user, and one worker per core.
#
#   sudo deploy/systemd/install.sh            # install, enable, start
#   deploy/systemd/install.sh --root DIR      # lay the files out under DIR only (a dry run)
set -euo pipefail

ROOT=/
if [ "${1:-}" = "--root" ]; then ROOT=${2:?--root needs a folder}; fi
SOURCE=$(cd "$(dirname "$0")/../.." && pwd)
PREFIX=$ROOT/opt/ioc-stream
UNITS=$ROOT/etc/systemd/system
CONFIG=$ROOT/etc/ioc-stream
live() { [ "$ROOT" = / ]; }
say() { echo "install: $*"; }

if live && [ "$(id -u)" != 0 ]; then echo "install: run as root (or --root DIR)" >&2; exit 1; fi

if live && ! id ioc >/dev/null 2>&1; then
  say "creating the system user ioc"
  useradd --system --home-dir /var/lib/ioc-stream --shell /usr/sbin/nologin ioc
fi

say "copying the code to $PREFIX"
mkdir -p "$PREFIX"
tar -C "$SOURCE" --exclude=./.venv --exclude='./.stack*' --exclude=./.git --exclude=./artifacts \
  --exclude='*/__pycache__' --exclude='./*.egg-info' -cf - . | tar -C "$PREFIX" -xf -

if live; then
  say "building the virtual environment"
  python3.11 -m venv "$PREFIX/.venv"
  # Editable: the migrations and schemas are found beside the code (REPO_ROOT).
  "$PREFIX/.venv/bin/pip" install -q --disable-pip-version-check -e "$PREFIX"
fi

say "installing the units in $UNITS"
mkdir -p "$UNITS" "$CONFIG"
install -m 0644 "$SOURCE"/deploy/systemd/*.service "$SOURCE"/deploy/systemd/*.target "$UNITS/"
if [ ! -e "$CONFIG/ioc-stream.env" ]; then
  install -m 0640 "$SOURCE/deploy/systemd/ioc-stream.env" "$CONFIG/ioc-stream.env"
  say "wrote $CONFIG/ioc-stream.env: set the database and Kafka addresses there"
fi

cores=$(nproc)
# The connectors service runs where the province has defined connectors (IOC_CONNECTORS_DIR).
connectors() { compgen -G "$CONFIG/connectors/*.yaml" >/dev/null; }
if live; then
  chown root:ioc "$CONFIG/ioc-stream.env"
  systemctl daemon-reload
  systemctl enable ioc-stream.target ioc-api.service
  for n in $(seq 1 "$cores"); do systemctl enable "ioc-worker@$n.service"; done
  if connectors; then systemctl enable ioc-connectors.service; fi
  say "enabled the API, $cores workers$(connectors && echo ' and the connectors');" \
    "start them: systemctl start ioc-stream.target"
else
  mkdir -p "$UNITS/ioc-stream.target.wants"
  for n in $(seq 1 "$cores"); do
    ln -sf ../ioc-worker@.service "$UNITS/ioc-stream.target.wants/ioc-worker@$n.service"
  done
  ln -sf ../ioc-api.service "$UNITS/ioc-stream.target.wants/ioc-api.service"
  if connectors; then
    ln -sf ../ioc-connectors.service "$UNITS/ioc-stream.target.wants/ioc-connectors.service"
  fi
  say "laid out under $ROOT ($cores workers)"
fi
