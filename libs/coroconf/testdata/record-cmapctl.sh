#!/bin/bash
# Records what a real running corosync 3.1.7 stores in cmap for some valid
# corpus configs: for each NAME it starts `corosync -f -c corpus/NAME.conf`
# in a private network + mount namespace (loopback only, tmpfs over /run,
# /dev/shm and /var/lib/corosync), dumps `corosync-cmapctl`, stops it by PID
# and writes corpus/NAME.cmapctl without the keys a live process adds by
# itself (see the filter below; the Go test applies the same filter).
# Needs root. Usage: libs/coroconf/testdata/record-cmapctl.sh NAME...
set -u
cd "$(dirname "$0")/corpus" || exit 1
filter() {
	grep -Ev '^(internal_configuration\.|runtime\.(blackbox|force_gather|members|services|votequorum|totem|connections)|resources\.(system|process|watchdog_timeout)|config\.)'
}
for n in "$@"; do
	conf="$PWD/$n.conf"
	out="$PWD/$n.cmapctl"
	timeout 60 unshare --net --mount --fork bash -c '
		ip link set lo up || exit 1
		mount -t tmpfs tmpfs /run && mount -t tmpfs tmpfs /dev/shm && mount -t tmpfs tmpfs /var/lib/corosync || exit 1
		corosync -f -c "$1" >/dev/null 2>&1 &
		pid=$!
		for i in $(seq 1 50); do corosync-cmapctl -g runtime.config.totem.token >/dev/null 2>&1 && break; sleep 0.2; done
		corosync-cmapctl > "$2.raw"
		kill "$pid"; wait "$pid"
	' bash "$conf" "$out" || { echo "$n: corosync run failed" >&2; continue; }
	{ echo "# corosync-cmapctl of a running corosync -f -c $n.conf ($(corosync -v | head -1)), live-only keys filtered"; filter < "$out.raw"; } > "$out"
	rm -f "$out.raw"
done
