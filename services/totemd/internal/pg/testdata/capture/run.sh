#!/bin/bash
# Runs inside: unshare --mount --net --fork
set -e
mount -t tmpfs none /run
mount -t tmpfs none /dev/shm
mkdir -p /var/lib/corosync && mount -t tmpfs none /var/lib/corosync
mkdir -p /run/corosync
ip link set lo up
cd "$(dirname "$0")"
python3 sniff.py cap.bin & SNIFF=$!
corosync -f -c "$PWD/corosync.conf" > corosync.log 2>&1 & CORO=$!
sleep 3
./client "$@" || echo client failed
sleep 1
kill $CORO; wait $CORO || true
kill $SNIFF; wait $SNIFF 2>/dev/null || true
