#!/usr/bin/env bash
# `grantlog serve` under load (see benches/serve.rs): installs the oha load
# generator if it is missing, builds the release binary, and runs the
# benchmark. Figures go to benches/results/serve.{txt,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v oha >/dev/null || cargo install oha --locked
cargo build --release --quiet
cargo bench --bench serve
