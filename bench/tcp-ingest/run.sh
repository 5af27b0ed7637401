#!/usr/bin/env bash
# TCP ingestion benchmark: starts a node with TcpIngestBench.siddhi, publishes N events with
# `spate send --tcp` at several batch sizes and checks every acknowledged event was processed.
# Usage: bench/tcp-ingest/run.sh [N]   (needs a release build: cargo build --release -p spate)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spate=${SPATE:-$here/../../target/release/spate}
n=${1:-1000000}
work=$(mktemp -d)
trap 'kill "$node" 2>/dev/null || true; rm -rf "$work"' EXIT
mkdir -p "$work/apps"
cp "$here/TcpIngestBench.siddhi" "$work/apps/"
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "[\"S%d\", %d.5, %d]\n", i % 100, i % 300, i % 1000 }' \
    > "$work/events.jsonl"
RUST_LOG=warn "$spate" server --apps "$work/apps" --data-dir "$work/data" \
    --api-bind 127.0.0.1:19193 > "$work/node.log" 2>&1 &
node=$!
for _ in $(seq 100); do
    curl -sf http://127.0.0.1:19193/health > /dev/null && break
    sleep 0.05
done
sleep 0.2
total=0
for batch in 100 1000 5000; do
    echo -n "batch $batch: "
    "$spate" send --tcp 127.0.0.1:9892 --stream trades --batch "$batch" "$work/events.jsonl"
    total=$((total + n))
done
password=$(cat "$work/data/admin-password")
sleep 1
echo -n "processed (expect $total): "
curl -s -u "admin:$password" http://127.0.0.1:19193/stores/query \
    -d '{"appName":"TcpIngestBench","query":"from Totals select sum(trades) as n"}'
echo
