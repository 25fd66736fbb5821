#!/usr/bin/env bash
# Installs tansu, the Kafka-compatible broker the kafka test tier runs against, unless a `tansu`
# is already on PATH. Idempotent; exits non-zero when the install fails or the installed binary
# is not usable. Building it takes about 20 minutes of CPU time: roughly 10 minutes on 2 idle
# cores, twice that when the machine is busy compiling something else.
#
# Pinned to a version that was tried with hcal's tests: tansu 0.6.0, the newest release under
# that name (later ones are published as `nisshi`, whose binary is `nisshi`). Features:
#   dynostore  the memory:// engine refuses to start without it
#   libsql     the sqlite:// engine the tests (and the restart test) use
# Overrides: TANSU_VERSION, TANSU_FEATURES.
set -euo pipefail

version="${TANSU_VERSION:-0.6.0}"
features="${TANSU_FEATURES:-dynostore,libsql}"

check() {
    # `--help` of the broker subcommand proves the binary runs and knows the options hcal uses.
    local help
    if ! help="$(tansu broker --help 2>&1)"; then
        echo "install-tansu: 'tansu broker --help' failed:" >&2
        echo "$help" >&2
        return 1
    fi
    for option in --listener-url --advertised-listener-url --storage-engine; do
        if ! grep -q -- "$option" <<<"$help"; then
            echo "install-tansu: this tansu has no $option option" >&2
            return 1
        fi
    done
}

if command -v tansu >/dev/null 2>&1; then
    echo "install-tansu: already installed: $(command -v tansu) ($(tansu --version 2>/dev/null || echo 'version unknown'))"
    check
    exit 0
fi

bin_dir="${CARGO_INSTALL_ROOT:-${CARGO_HOME:-$HOME/.cargo}}/bin"
echo "install-tansu: building tansu $version with features $features into $bin_dir (takes minutes)"
started=$SECONDS
# --locked: the versions tansu's release was tested with, not whatever is newest today.
if ! cargo install tansu --version "=$version" --locked --features "$features"; then
    echo "install-tansu: cargo install failed" >&2
    exit 1
fi
echo "install-tansu: built in $((SECONDS - started)) s"

if ! command -v tansu >/dev/null 2>&1; then
    if [[ -x "$bin_dir/tansu" ]]; then
        echo "install-tansu: installed $bin_dir/tansu, but $bin_dir is not on PATH; add it" >&2
    else
        echo "install-tansu: cargo install succeeded but no tansu binary was found" >&2
    fi
    exit 1
fi
check
echo "install-tansu: ok: $(command -v tansu) ($(tansu --version 2>/dev/null || echo 'version unknown'))"
