#!/bin/bash
# Regenerates the *.expect recordings of corpus/ from Debian's real corosync:
# for every corpus/NAME.conf (or corpus/NAME/corosync.conf) it runs
#   corosync -t -c <that path>      (from inside corpus/, as root)
# and writes the exit code and stderr (timestamps stripped) to corpus/NAME.expect.
# It also writes corpus/ENV: the hostname and interface addresses of the
# recording machine, which the Go tests inject so local-node discovery
# sees the same host corosync saw.
# Usage: libs/coroconf/testdata/record.sh [NAME...]
set -u
cd "$(dirname "$0")/corpus" || exit 1
COROSYNC=${COROSYNC:-/usr/sbin/corosync}
version=$("$COROSYNC" -v | head -1)
{
	echo "hostname $(uname -n)"
	ip -o addr show | awk '{split($4, a, "/"); print "addr " a[1]}'
	grep -v '^[[:space:]]*#' /etc/hosts | awk 'NF >= 2 { for (i = 2; i <= NF; i++) print "host " $i " " $1 }'
} > ENV
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
	for f in *.conf */corosync.conf; do
		[ -e "$f" ] || continue
		n=${f%.conf}; n=${n%/corosync}
		names+=("$n")
	done
fi
for n in "${names[@]}"; do
	if [ -f "$n.conf" ]; then path="$n.conf"; else path="$n/corosync.conf"; fi
	err=$(timeout 20 "$COROSYNC" -t -c "$path" 2>&1 >/dev/null)
	rc=$?
	{
		echo "# corosync -t -c $path ($version)"
		echo "exit $rc"
		printf '%s\n' "$err" | sed -E 's/^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{3})? //' |
			grep -v '^$' | sed 's/^/stderr /'
	} > "$n.expect"
done
