#!/bin/bash
# Records how Debian's corosync 3.1.7 and corosync-cmapctl behave, for the
# cmapd table tests. Needs root, gcc and libcmap. Runs a fresh one-node
# udpu corosync in its own network namespace, so it never meets another
# corosync on the host's loopback; writes ../real/*.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/../real
work=$(mktemp -d)
ns=cmapd-probe-$$
cleanup() {
	[ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
gcc -Wall -o "$work/cmapprobe" "$here/cmapprobe.c" -lcmap
mkdir -p "$work/state"
sed "s|@STATE@|$work/state|" "$here/corosync.conf.in" > "$work/corosync.conf"
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
# corosync's lock file (/run/corosync.pid) is not per namespace: give this
# one a private /run so it can run next to other instances.
start() {
	ip netns exec "$ns" unshare -m sh -c 'mount -t tmpfs tmpfs /run && exec corosync -f -c "$1"' sh \
		"$work/corosync.conf" >> "$work/corosync.log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do
		ip netns exec "$ns" corosync-cmapctl -g runtime.members.1.status >/dev/null 2>&1 && break
		sleep 0.2
	done
}
stop() {
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=
}
start
C() { ip netns exec "$ns" corosync-cmapctl "$@"; }
# The default map of a fresh node, minus the values that vary per run.
if ! C > "$work/dump"; then
	cat "$work/corosync.log" >&2
	exit 1
fi
sed "s|$work/state|@STATE@|" "$work/dump" > "$out/default-dump.txt"
probe() { # args file → output file
	local args of=$2
	args=$(tr '\n' ' ' < "$here/$1")
	eval "set -- $args"
	ip netns exec "$ns" "$work/cmapprobe" "$@" | cut -c1-200 > "$out/$of"
}
probe store-ops.args store-ops.txt
probe iter-track.args iter-track.txt
# corosync-cmapctl rendering: each command, its stdout (1>), stderr (2>)
# and exit status.
run() {
	echo "\$ corosync-cmapctl $*"
	set +e
	(cd "$here/../real" && C "$@") > "$work/o" 2> "$work/e"
	local rc=$?
	set -e
	sed 's/^/1> /' "$work/o"
	sed 's/^/2> /' "$work/e"
	echo "exit $rc"
}
{
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		eval "run $line"
	done < "$here/cmapctl.cmds"
} > "$out/cmapctl.txt" 2>&1
ip netns exec "$ns" "$work/cmapprobe" set f.bine 12 - set f.t0 0 - set f.t13 13 - > /dev/null
{
	for line in "-b f.bine f.t0 f.t13" "-b -g f.bine f.t0" "-q -g f.t13 f.i8"; do
		eval "run $line"
	done
} >> "$out/cmapctl.txt" 2>&1
# Tracking: a -T tracker sees the changes made by other commands.
track() { # outfile, cmapctl args...; changes come from stdin commands
	local of=$1
	shift
	mkfifo "$work/fifo"
	(C "$@" < "$work/fifo" > "$work/t" 2>&1; echo "exit $?" >> "$work/t") &
	local tp=$!
	exec 7> "$work/fifo"
	sleep 0.5
	while IFS= read -r line; do
		eval "$line" > /dev/null 2>&1 || true
	done
	sleep 0.3
	echo q >&7
	exec 7>&-
	wait "$tp"
	cut -c1-200 "$work/t" > "$out/$of"
	rm -f "$work/fifo"
}
P() { ip netns exec "$ns" "$work/cmapprobe" "$@"; }
cd "$out"
track cmapctl-track.txt -T tk. <<'CMDS'
C -s tk.u32 u32 42
C -s tk.u32 u32 42
C -s tk.u32 u32 43
C -s tk.s str hello
C -s tk.u32 str x
C -d tk.u32
C -s tk.f flt 2.5
C -s tk.b bin vm.bin
P set tk.be 12 - set tk.t0 0 - set tk.b 12 ff
C -d tk.b
C -s -- tk.i i8 -5
CMDS
track cmapctl-track-bin.txt -b -t tk.b <<'CMDS'
C -s tk.b bin allbytes.bin
C -s tk.b bin vm.bin
P set tk.b 12 -
C -d tk.b
CMDS
track cmapctl-stats-track-prefix.txt -m stats -T stats.ipcs.service0 <<'CMDS'
C -g totem.version
CMDS
# An exact-key stats tracker fires MODIFY from the 1.5 s poll.
track cmapctl-stats-track-key.txt -m stats -t stats.srp.orf_token_rx <<'CMDS'
sleep 3.5
CMDS
sed -i -E 's/= [0-9]+$/= N/' "$out/cmapctl-stats-track-key.txt"
# Reloads (corosync-cfgtool -R) watched by a tracker on every key: the
# unchanged file, an edited one, one that does not parse, one whose
# interface change is refused. Counters of other services are left out.
reload() { # conf file (in ../real, or +broken), trace file
	local conf=$1
	if [ "${conf%+broken}" != "$conf" ]; then
		sed "s|@STATE@|$work/state|" "$out/${conf%+broken}" > "$work/corosync.conf"
		echo "totem {" >> "$work/corosync.conf"
	else
		sed "s|@STATE@|$work/state|" "$out/$conf" > "$work/corosync.conf"
	fi
	track "$2" -T "" <<'CMDS'
ip netns exec "$ns" corosync-cfgtool -R
CMDS
	sed -i -E '/runtime\.services\.|runtime\.votequorum\./d' "$out/$2"
	sed -i '$d' "$out/$2" # the exit line
}
# A fresh daemon, so earlier sets (totem.token, logging.debug) are not in
# the way.
stop
sed "s|@STATE@|$work/state|" "$out/reload-1.conf" > "$work/corosync.conf"
: > "$work/corosync.log"
start
reload reload-1.conf reload-trace1.txt
reload reload-2.conf reload-trace2.txt
reload reload-2.conf+broken reload-trace3.txt
reload reload-4.conf reload-trace4.txt
grep -E 'reload|cannot be changed|Cannot configure' "$work/corosync.log" |
	sed -E 's/^.*(notice|error) /\1 /; s|'"$work"'|@WORK@|' > "$out/reload-log.txt"
# The bytes of every cmap message, captured with strace on libqb's socket
# transport (the default shared-memory rings are invisible to strace).
stop
sed "s|@STATE@|$work/state|; s|^system {|system {\n\tqb_ipc_type: socket|" "$here/corosync.conf.in" > "$work/corosync.conf"
start
frames() { # title, command...
	echo "# $1" >> "$out/ipc-frames.txt"
	shift
	(cd "$out" && ip netns exec "$ns" strace -f -e trace=writev,recvfrom -x -s 70000 -o "$work/st" "$@") > /dev/null 2>&1 || true
	python3 "$here/frames.py" "$work/st" >> "$out/ipc-frames.txt"
}
: > "$out/ipc-frames.txt"
frames "corosync-cmapctl -g totem.cluster_name" corosync-cmapctl -g totem.cluster_name
frames "corosync-cmapctl -s fr.u32 u32 42" corosync-cmapctl -s fr.u32 u32 42
frames "corosync-cmapctl -s fr.str str hello" corosync-cmapctl -s fr.str str hello
frames "corosync-cmapctl -s fr.bin bin vm.bin" corosync-cmapctl -s fr.bin bin vm.bin
frames "corosync-cmapctl -b -g fr.bin fr.u32" corosync-cmapctl -b -g fr.bin fr.u32
frames "corosync-cmapctl totem.c" corosync-cmapctl totem.c
frames "corosync-cmapctl -d fr.u32" corosync-cmapctl -d fr.u32
frames "corosync-cmapctl -d fr.nonexist" corosync-cmapctl -d fr.nonexist
frames "corosync-cmapctl -s runtime.config.x u8 1" corosync-cmapctl -s runtime.config.x u8 1
frames "corosync-cmapctl -m stats -s stats.clear.foo u8 1" corosync-cmapctl -m stats -s stats.clear.foo u8 1
frames "corosync-cmapctl -m stats stats.pg." corosync-cmapctl -m stats stats.pg.
frames "cmapprobe: inc, dec, bad iterator, bad track flags, empty prefix" "$work/cmapprobe" \
	set fr.i8 1 7f inc fr.i8 dec fr.i8 get fr.i8 16 get fr.i8 0 get fr.i8 0 ibad track - 16 iinit fr.i inext inext ifin
mkfifo "$work/ffifo"
echo "# corosync-cmapctl -T fr. while fr.u32 is set twice, fr.str set, fr.u32 deleted" >> "$out/ipc-frames.txt"
(ip netns exec "$ns" strace -f -e trace=writev,recvfrom -x -s 70000 -o "$work/st" corosync-cmapctl -T fr. < "$work/ffifo" > /dev/null 2>&1) &
fp=$!
exec 7> "$work/ffifo"
sleep 0.7
C -s fr.u32 u32 42
C -s fr.u32 u32 43
C -s fr.str str hello2
C -d fr.u32
sleep 0.3
echo q >&7
exec 7>&-
wait "$fp"
python3 "$here/frames.py" "$work/st" >> "$out/ipc-frames.txt"
# pids and connection pointers vary per run
sed -i -E 's/service0\.[0-9]+\.0x[0-9a-f]+/service0.PID.PTR/' "$out/cmapctl-stats-track-prefix.txt"
echo "recorded into $out"
