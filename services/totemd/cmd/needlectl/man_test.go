package main

import (
	"io"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
)

// TestManPage checks docs/man/needlectl.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	manpage.Check(t, manpage.Page{
		Name: "needlectl", Section: 8,
		Summary:  app.Usage,
		Synopsis: []string{app.UsageText},
		Description: `needlectl status shows one node of the cluster in one screen, as "pcs status corosync" does for a corosync node: this node's id and transport, the ring id, each link with the state of every node on it, the members (runtime.members in cmap), quorum (quorate, votes, expected votes, quorum, flags), the CPG groups with their members, and which service daemons are attached to this node's totemd.

Like pcs, it runs the node's own tools with --json and composes their answers: cfgtool --json -s, cmapctl --json runtime.members., quorumtool --json -s, cpgtool --json and cmapctl --json -m stats stats.needle.service. (totemd publishes there which daemons are attached). Each tool is looked for next to needlectl's executable, then on PATH. A part whose daemon is not running is shown as unavailable with the tool's message; against a corosync node the attached-daemons part is unavailable (corosync has no such keys).`,
		Commands: app.Commands,
		Sections: []manpage.Section{
			{Title: "JSON output", Body: `With --json the view is one object holding the tools' own objects unchanged (their schemas are in docs/json.md):

    {"ring": { ...cfgtool --json -s... },
     "members": [{"node_id": 1, "ip": "r(0) ip(10.0.0.1)",
                  "status": "joined", "local": true}],
     "quorum": { ...quorumtool --json -s... },
     "cpg": { ...cpgtool --json... },
     "services": {"cfg": true, "cmap": true, "cpg": true,
                  "pload": true, "votequorum": true},
     "unavailable": {"cpg": "cpgtool --json: exit 1: ..."}}

A part that could not be read is absent and named in "unavailable" with the reason.`},
			{Title: "Exit status", Body: `* 0
the view was printed (some parts may be unavailable).
* 1
totemd is not reachable on this node (cfgtool failed), or a usage error.`},
		},
		SeeAlso: []string{"cfgtool(8)", "cmapctl(8)", "quorumtool(8)", "cpgtool(8)", "totemd(8)", "cmap_keys(8)"},
	})
}
