package main

import (
	"fmt"
	"io"
)

// version is what -V prints: the corosync release whose tool this mirrors.
const version = "3.1.7"

// usage is corosync-quorumtool's show_usage, byte for byte.
func usage(w io.Writer, prog string) {
	fmt.Fprintf(w, "usage: \n%s <options>\n\n  options:\n\n", prog)
	io.WriteString(w, `  -s             show quorum status
  -m             constantly monitor quorum status
  -l             list nodes
  -a             show all names or addresses for each node
  -p             when used with -s or -l, generates machine parsable output
  -v <votes>     change the number of votes for a node (*)
  -n <nodeid>    optional nodeid of node for -v
  -e <expected>  change expected votes for the cluster (*)
  -H             show nodeids in hexadecimal rather than decimal
  -i             show node IP addresses instead of the resolved name
  -o <a|n|i>     order by [a] IP address (default), [n] name, [i] nodeid
  -f             forcefully unregister a quorum device *DANGEROUS* (*)
  -h             show this help text
  -V             show version and exit

  (*) Starred items only work if votequorum is the quorum provider for corosync

`)
}

// jsonHelp is printed after the usage when --json precedes -h: -h alone
// stays byte-identical to corosync-quorumtool's.
const jsonHelp = `  needle extension:

  --json         with -s or -l (or no command), print one JSON object instead
                 of the text; exit codes are unchanged (-s: 0 quorate,
                 2 not quorate, 1 error). Schema:

    {
      "date": "2026-12-06T05:23:46Z",          (-s only; RFC 3339, UTC)
      "quorum": {                              (-s only)
        "provider": "corosync_votequorum",     ("Not configured" without one)
        "nodes": 3,                            (members in the quorum view)
        "node_id": 1,                          (0 without votequorum)
        "ring_id": {"node_id": 1, "seq": 16},  (node_id 0 without votequorum)
        "quorate": true
      },
      "votequorum": {                          (-s with votequorum only)
        "expected_votes": 3, "highest_expected": 3, "total_votes": 3,
        "quorum": 2, "flags": ["Quorate", "WaitForAll"]
      },
      "members": [                             (absent without votequorum on -s)
        {"node_id": 1, "votes": 1, "name": "node1", "local": true,
         "qdevice": "A,V,MW"}                  ("NR" not registered; only when
      ],                                        a device is registered or -p)
      "qdevice": {"name": "Qdevice", "votes": 1, "casting": true}
                                               (only when a device is registered)
    }

`
