#!/usr/bin/env bash
# Two release seams compared at the same moments: bench/pair-interleaved.sh FIRST SECOND
# Both run on core 1 (ports 18710, 18711) with the same config (audit off, one OpenAI-kind
# provider to `seam-bench mock` on 18701); the mock and the load run on core 0, and requests
# alternate between the two. Run it in both orders and once with the same binary twice: the
# second URL can be measurably slower on a given machine whatever the binary (BENCHMARKS.md).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bench="$root/target/release/seam-bench"
first="$(realpath "$1")"
second="$(realpath "$2")"
work="$(mktemp -d)"
trap 'kill $mock $s1 $s2 2>/dev/null || true; rm -rf "$work"' EXIT
for d in p1 p2; do
  mkdir -p "$work/$d"
  cat > "$work/$d/seam.toml" <<TOML
[audit]
enabled = false
[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:18701/v1"
[models.bench]
targets = [{ provider = "mock", model = "bench" }]
TOML
done
taskset -c 0 "$bench" mock --listen 127.0.0.1:18701 >/dev/null 2>&1 & mock=$!
(cd "$work/p1" && exec taskset -c 1 "$first" serve --config seam.toml --listen 127.0.0.1:18710 >log 2>&1) & s1=$!
(cd "$work/p2" && exec taskset -c 1 "$second" serve --config seam.toml --listen 127.0.0.1:18711 >log 2>&1) & s2=$!
sleep 3
urls=(--url http://127.0.0.1:18710/v1/chat/completions --url http://127.0.0.1:18711/v1/chat/completions)
load() { echo "## $*"; taskset -c 0 "$bench" load "${urls[@]}" --model bench --model bench "$@" 2>/dev/null; }
load --rate 1000 --duration-secs 10
load --rate 500 --stream --duration-secs 10
load --concurrency 64 --duration-secs 10 --ramp-secs 1
