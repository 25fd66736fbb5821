#!/usr/bin/env bash
# Installs Synapse, the Matrix homeserver that the Matrix presence tests run against
# (`hcal_sim::synapse`), into a Python virtual environment of its own, unless that environment
# already holds the pinned version. Idempotent; exits non-zero when the install fails or the
# installed homeserver does not run.
#
# Synapse is not a Rust dependency: it is a Python program, so it lives in a venv (not in the
# system's Python, whose packages it would otherwise pin) at
#   ${HCAL_SYNAPSE_VENV:-$HOME/.local/share/hcal-ci/synapse}
# the same path the test harness looks at. The wheels are prebuilt (Synapse's Rust part
# included), so the install takes well under a minute and needs no compiler.
#
# Pinned to a version that was tried with hcal's tests: matrix-synapse 1.163.2, the newest
# release when this was written. Overrides: SYNAPSE_VERSION, HCAL_SYNAPSE_VENV, PYTHON (the
# interpreter that creates the venv; Synapse needs Python 3.10 or newer).
set -euo pipefail

version="${SYNAPSE_VERSION:-1.163.2}"
venv="${HCAL_SYNAPSE_VENV:-$HOME/.local/share/hcal-ci/synapse}"
python="${PYTHON:-python3}"

check() {
    # `--help` of the homeserver module proves the package imports (all its dependencies are
    # there, its compiled Rust part loads) and knows the options the harness uses.
    local help
    if ! help="$("$venv/bin/python" -m synapse.app.homeserver --help 2>&1)"; then
        echo "install-synapse: '$venv/bin/python -m synapse.app.homeserver --help' failed:" >&2
        echo "$help" >&2
        return 1
    fi
    for option in --config-path --generate-config --server-name --report-stats; do
        if ! grep -q -- "$option" <<<"$help"; then
            echo "install-synapse: this Synapse has no $option option" >&2
            return 1
        fi
    done
    # Registering test users goes through this script of the package.
    if [[ ! -x "$venv/bin/register_new_matrix_user" ]]; then
        echo "install-synapse: $venv/bin/register_new_matrix_user is missing" >&2
        return 1
    fi
}

installed_version() {
    "$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null || true
}

if [[ -x "$venv/bin/python" && "$(installed_version)" == "$version" ]]; then
    echo "install-synapse: already installed: matrix-synapse $version in $venv"
    check
    exit 0
fi

started=$SECONDS
if [[ ! -x "$venv/bin/python" ]]; then
    if ! command -v "$python" >/dev/null 2>&1; then
        echo "install-synapse: no $python to create the venv with" >&2
        exit 1
    fi
    echo "install-synapse: creating a venv in $venv with $("$python" --version 2>&1)"
    mkdir -p "$(dirname "$venv")"
    if ! "$python" -m venv "$venv"; then
        echo "install-synapse: '$python -m venv $venv' failed (Debian's python3-venv missing?)" >&2
        exit 1
    fi
fi

echo "install-synapse: installing matrix-synapse $version into $venv"
# An older pip may not know the wheel tags Synapse's dependencies are published with.
"$venv/bin/python" -m pip install --quiet --upgrade pip
if ! "$venv/bin/python" -m pip install --quiet "matrix-synapse==$version"; then
    echo "install-synapse: pip install matrix-synapse==$version failed" >&2
    exit 1
fi
echo "install-synapse: installed in $((SECONDS - started)) s"

check
echo "install-synapse: ok: matrix-synapse $(installed_version) in $venv"
