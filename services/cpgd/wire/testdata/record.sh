#!/bin/sh
# Re-records ipc-frames.txt: the bytes Debian's libcpg 3.1.7 (through the
# real-libcpg probe, integration/testdata/cpgprobe.c) and corosync-cpgtool
# exchange with a real corosync 3.1.7, captured with strace on libqb's
# socket transport. Run as root from this directory: ./record.sh
# (it enters private network and mount namespaces itself).
set -e
here=$(cd "$(dirname "$0")" && pwd)
if [ "$1" != inner ]; then
	exec unshare -n -m sh "$0" inner
fi
work=$(mktemp -d)
mount -t tmpfs tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
ip link set lo up
gcc -O2 -o "$work/cpgprobe" "$here/../../../../integration/testdata/cpgprobe.c" /usr/lib/x86_64-linux-gnu/libcpg.so.4
cat > "$work/corosync.conf" <<EOC
totem {
	version: 2
	cluster_name: record
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
}
logging {
	to_stderr: yes
	to_syslog: no
}
system {
	qb_ipc_type: socket
	state_dir: $work
}
EOC
corosync -f -c "$work/corosync.conf" > "$work/corosync.log" 2>&1 &
pid=$!
sleep 2
trace="strace -f -xx -s 65536 -e trace=writev,sendto,recvfrom"
# A holder keeps a second group alive while the probe and the tool run.
"$work/cpgprobe" "holder" 2 64 1 > /dev/null &
holder=$!
sleep 0.5
$trace -o "$work/probe.txt" "$work/cpgprobe" "GROUP" 1 100 3 > /dev/null
$trace -o "$work/tool.txt" corosync-cpgtool > /dev/null
$trace -o "$work/tool-n.txt" corosync-cpgtool -n > /dev/null
kill $holder $pid
wait $pid || true
python3 - "$work" > "$here/ipc-frames.txt" <<'EOP'
import re, sys
work = sys.argv[1]
print("# Recorded by record.sh: libcpg 3.1.7 <-> corosync 3.1.7 over libqb's socket transport.")
print("# '>' request (fd 4 writev or sendto), '<' response (fd 4), '!' event (fd 5); hex of whole messages.")
strs = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')
def unhex(s):
    return bytes(int(s[i+2:i+4], 16) for i in range(0, len(s), 4))
for name in ["probe", "tool", "tool-n"]:
    print("# " + name)
    for line in open(f"{work}/{name}.txt"):
        m = re.match(r'\d+\s+(writev|sendto|recvfrom)\((\d+), (.*)', line)
        if not m:
            continue
        call, fd, rest = m.group(1), int(m.group(2)), m.group(3)
        if fd not in (4, 5):
            continue
        if call in ("writev", "sendto") and fd == 4:
            print("> " + b"".join(unhex(s) for s in strs.findall(rest)).hex())
        elif call == "recvfrom" and "MSG_WAITALL" in rest:
            s = strs.findall(rest)
            if s:
                print(("< " if fd == 4 else "! ") + unhex(s[0]).hex())
EOP
rm -rf "$work"
