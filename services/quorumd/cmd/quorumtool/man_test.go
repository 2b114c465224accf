package main

import (
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/urfave/cli/v2"
)

// manOptions documents every option of optstring (the tool parses with
// getopt, so the table is written here and checked against optstring).
var manOptions = []cli.Flag{
	&cli.BoolFlag{Name: "s", Usage: "show quorum status (the default)"},
	&cli.BoolFlag{Name: "m", Usage: "monitor: print the status again at every quorum change, until interrupted"},
	&cli.BoolFlag{Name: "l", Usage: "list the nodes of the current membership"},
	&cli.BoolFlag{Name: "a", Usage: "show every name or address of each node"},
	&cli.BoolFlag{Name: "p", Usage: "with -s or -l: machine-parsable output"},
	&cli.StringFlag{Name: "v", Usage: "set this node's (or -n NODEID's) votes to `VOTES` (votequorum only)"},
	&cli.StringFlag{Name: "n", Usage: "the node -v applies to"},
	&cli.StringFlag{Name: "e", Usage: "set the cluster's expected votes to `EXPECTED` (votequorum only)"},
	&cli.BoolFlag{Name: "H", Usage: "show node ids in hexadecimal"},
	&cli.BoolFlag{Name: "i", Usage: "show node IP addresses instead of resolved names"},
	&cli.StringFlag{Name: "o", Usage: "order the node list by `ORDER`: a (address, the default), n (name) or i (node id)"},
	&cli.BoolFlag{Name: "f", Usage: "forcefully unregister a quorum device (dangerous; votequorum only)"},
	&cli.BoolFlag{Name: "h", Usage: "print the usage (with --json before it: and the JSON schema)"},
	&cli.BoolFlag{Name: "V", Usage: "print the version of corosync-quorumtool this mirrors"},
	&cli.BoolFlag{Name: "json", Usage: "needle extension: with -s or -l, print one JSON object (see JSON OUTPUT)"},
}

func TestManOptionsComplete(t *testing.T) {
	documented := map[string]bool{}
	for _, f := range manOptions {
		documented[f.Names()[0]] = true
	}
	for _, c := range strings.ReplaceAll(optstring, ":", "") {
		if !documented[string(c)] {
			t.Errorf("option -%c is not on the man page", c)
		}
		delete(documented, string(c))
	}
	delete(documented, "json")
	for n := range documented {
		t.Errorf("the man page documents -%s, which the tool does not take", n)
	}
}

// TestManPage checks docs/man/quorumtool.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	manpage.Check(t, manpage.Page{
		Name: "quorumtool", Section: 8,
		Summary:  "show and set quorum and votequorum state (needle's corosync-quorumtool)",
		Synopsis: []string{"quorumtool [-s] [-m] [-l] [-a] [-p] [-H] [-i] [-o a|n|i] [--json]", "quorumtool -v VOTES [-n NODEID]", "quorumtool -e EXPECTED", "quorumtool -f", "quorumtool -h | -V"},
		Description: `quorumtool is needle's corosync-quorumtool: the same options, output, messages and exit statuses as Debian's corosync-quorumtool 3.1.7, byte for byte (the Date line aside), against needle (cmapd, totemd's cfg, quorumd) or a real corosync.

-s shows the quorum provider, the ring id, whether this partition is quorate and, with votequorum, the votes (expected, highest expected, total, quorum), the flags and the membership with each node's votes. -l lists the membership only. Votequorum's rules are described in votequorum(5).`,
		Flags:    manOptions,
		ArgNames: map[string]string{"n": "NODEID"},
		Sections: []manpage.Section{
			{Title: "JSON output", Body: `--json (a needle extension) with -s or -l prints one JSON object instead of the text; exit statuses do not change. "quorumtool --json -h" prints the schema after the usage; docs/json.md has it too:

    {"date": "2026-12-06T05:23:46Z",
     "quorum": {"provider": "corosync_votequorum", "nodes": 3,
                "node_id": 1, "ring_id": {"node_id": 1, "seq": 16},
                "quorate": true},
     "votequorum": {"expected_votes": 3, "highest_expected": 3,
                    "total_votes": 3, "quorum": 2,
                    "flags": ["Quorate"]},
     "members": [{"node_id": 1, "votes": 1, "name": "node1",
                  "local": true}]}`},
			{Title: "Exit status", Body: `* 0
success; with -s: this partition is quorate.
* 1
an error (connection, invalid argument, failed request).
* 2
with -s: this partition is not quorate.`},
		},
		SeeAlso: []string{"corosync-quorumtool(8)", "votequorum(5)", "quorumd(8)", "needlectl(8)"},
	})
}
