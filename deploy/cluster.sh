#!/usr/bin/env bash
# Local needle cluster for trying things out: N nodes (default 3), one
# network namespace each on a bridge in a hub namespace, every node with
# private /run, /dev/shm, /etc/corosync and /var/lib/corosync bind mounts,
# running bin/totemd with an embedded default corosync.conf (udpu).
#   deploy/cluster.sh up [N]     start it and print the membership
#   deploy/cluster.sh down       stop the daemons (by PID) and remove it
#   deploy/cluster.sh exec I CMD run CMD on node I (e.g. a corosync tool)
# Needs root (ip netns). Everything lives under $NEEDLE_CLUSTER_DIR.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${NEEDLE_CLUSTER_DIR:-/tmp/needle-cluster}
bin=${NEEDLE_BIN:-$top/bin}
hub=needle-hub

conf() {
	local n=$1 i
	cat <<CONF
totem {
	version: 2
	cluster_name: needle-local
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
}

nodelist {
CONF
	for i in $(seq 1 "$n"); do
		printf '\tnode {\n\t\tring0_addr: 10.231.0.%d\n\t\tname: node%d\n\t\tnodeid: %d\n\t}\n' "$i" "$i" "$i"
	done
	cat <<CONF
}

quorum {
	provider: corosync_votequorum
}

logging {
	to_stderr: yes
	to_syslog: no
	timestamp: hires
}
CONF
}

# in I CMD...: run CMD inside node I's network and mount namespaces.
on_node() {
	local i=$1; shift
	local d=$dir/n$i
	ip netns exec "needle-n$i" unshare -m --propagation private sh -c '
		set -e; d=$1; shift
		mount --bind "$d/run" /run; mount --bind "$d/shm" /dev/shm
		mkdir -p /etc/corosync /var/lib/corosync
		mount --bind "$d/etc" /etc/corosync; mount --bind "$d/state" /var/lib/corosync
		exec "$@"' sh "$d" "$@"
}

# start_daemon I NAME: run bin/NAME on node I in its own session; the
# daemon itself writes its PID (the launch chain execs, $$ is the daemon).
start_daemon() {
	local i=$1 name=$2
	: >>"$dir/pids"
	on_node "$i" setsid sh -c 'echo "$1 $$" >>"$2"; shift 2; exec "$@"' sh "$i" "$dir/pids" \
		"$bin/$name" -f -c /etc/corosync/corosync.conf >"$dir/n$i/$name.log" 2>&1 &
}

up() {
	local n=${1:-3}
	[ "$(id -u)" = 0 ] || { echo "cluster: needs root (network namespaces)" >&2; exit 1; }
	[ -x "$bin/totemd" ] || { echo "cluster: $bin/totemd missing: run make build" >&2; exit 1; }
	if [ -e "$dir/pids" ]; then echo "cluster: already up ($dir); run: make cluster-down" >&2; exit 1; fi
	mkdir -p "$dir"
	ip netns add $hub
	ip -n $hub link set lo up
	ip -n $hub link add br0 type bridge
	ip -n $hub link set br0 up
	for i in $(seq 1 "$n"); do
		local d=$dir/n$i
		mkdir -p "$d"/{run,shm,etc,state}
		chmod 1777 "$d/shm"
		conf "$n" >"$d/etc/corosync.conf"
		ip netns add "needle-n$i"
		ip -n "needle-n$i" link set lo up
		ip link add "p$i" netns $hub type veth peer name eth0 netns "needle-n$i"
		ip -n $hub link set "p$i" master br0 up
		ip -n "needle-n$i" addr add "10.231.0.$i/24" dev eth0
		ip -n "needle-n$i" link set eth0 up
		start_daemon "$i" totemd
		for svc in cmapd quorumd cpgd; do
			if [ -x "$bin/$svc" ]; then start_daemon "$i" "$svc"; fi
		done
	done
	echo "needle cluster: $n nodes, logs in $dir/n*/totemd.log"
	for _ in $(seq 1 100); do
		local ok=1
		for i in $(seq 1 "$n"); do
			grep -q "members=\[$(seq -s ' ' 1 "$n")\]" "$dir/n$i/totemd.log" 2>/dev/null || ok=0
		done
		[ $ok = 1 ] && break
		sleep 0.1
	done
	status
	if [ -x "$bin/cfgtool" ] && [ -x "$bin/cmapd" ]; then
		sleep 1
		echo "node 1: cfgtool -s"
		on_node 1 "$bin/cfgtool" -s || true
		echo "node 1: cmapctl runtime.members"
		on_node 1 "$bin/cmapctl" runtime.members || true
	fi
	if [ -x "$bin/quorumtool" ] && [ -x "$bin/quorumd" ]; then
		echo "node 1: quorumtool -s"
		on_node 1 "$bin/quorumtool" -s || true
	fi
	if [ -x "$bin/cpgtool" ] && [ -x "$bin/cpgd" ]; then
		echo "node 1: cpgtool"
		on_node 1 "$bin/cpgtool" || true
	fi
	if [ -x "$bin/needlectl" ]; then
		echo "node 1: needlectl status"
		on_node 1 "$bin/needlectl" status || true
	fi
}

status() {
	for f in "$dir"/n*/totemd.log; do
		local i=${f%/totemd.log}; i=${i##*/n}
		printf 'node %s: ' "$i"
		grep -o 'new membership ring=.*' "$f" | tail -1 || echo "no membership yet"
	done
}

down() {
	if [ -e "$dir/pids" ]; then
		while read -r i pid; do
			kill "$pid" 2>/dev/null || true
		done <"$dir/pids"
		sleep 0.5
		while read -r i pid; do
			kill -9 "$pid" 2>/dev/null || true
		done <"$dir/pids"
	fi
	for ns in $(ip netns list | awk '/^needle-(n[0-9]+|hub)( |$)/{print $1}'); do
		ip netns del "$ns"
	done
	rm -rf "$dir"
	echo "needle cluster removed"
}

case "${1:-}" in
up) shift; up "$@" ;;
down) down ;;
status) status ;;
exec) shift; on_node "$@" ;;
*) echo "usage: $0 up [N] | down | status | exec NODE CMD..." >&2; exit 2 ;;
esac
