#!/bin/sh
# A tiny load client for the HA demo: posts SweetProduction events, one per INTERVAL seconds,
# to the first of TARGETS that accepts it. The passive node does not open the app's port, so the
# active is whichever answers; after a failover the events flow to the other node by themselves.
#
#   TARGETS="http://127.0.0.1:8061 http://127.0.0.1:8062" COUNT=20 sh load-client.sh
#
# TARGETS   space-separated base URLs (default: the two compose services)
# INTERVAL  seconds between events (default 1)
# COUNT     events to send, 0 = until stopped (default 0)
set -u
targets=${TARGETS:-"http://spate-1:8006 http://spate-2:8006"}
interval=${INTERVAL:-1}
count=${COUNT:-0}
path=/sweetProduction

i=0
while [ "$count" -eq 0 ] || [ "$i" -lt "$count" ]; do
    i=$((i + 1))
    case $((i % 3)) in
        0) name=toffee ;;
        1) name=gingerbread ;;
        *) name=eclair ;;
    esac
    body=$(printf '{"event":{"name":"%s","amount":%d.0}}' "$name" $((i % 10 + 1)))
    sent=""
    for target in $targets; do
        if curl -fsS --max-time 2 -H 'Content-Type: application/json' -d "$body" \
            "$target$path" >/dev/null 2>&1; then
            sent=$target
            break
        fi
    done
    echo "event $i ($name) -> ${sent:-no node accepted it (no active node yet?)}"
    sleep "$interval"
done
