package main

import (
	"io"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
)

// TestManPage checks docs/man/pload.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	manpage.Check(t, manpage.Page{
		Name: "pload", Section: 8,
		Summary:  app.Usage,
		Synopsis: []string{app.UsageText},
		Description: `pload starts a run of corosync's load test (service 4, "pload") on every node of the ring and prints this node's result. It writes pload.count, pload.size and pload.start through cmap, as corosync's test/ploadstart.sh did, then waits until totemd, which serves pload, publishes runtime.pload.run and the other runtime.pload.* results.

Every node of the ring sends COUNT messages of SIZE bytes; the result line is corosync's: how many writes, their size, the run time, transactions and megabytes per second. Unlike corosync, which exits with status 99 after a run, totemd keeps running and may run again. Against a corosync node the run happens too, but corosync exits when it ends and its result is only in its log.`,
		Flags: app.Flags,
		Sections: []manpage.Section{
			{Title: "JSON output", Body: `--json prints the result as one JSON object on one line:

    {"writes": 1500000, "size_bytes": 300, "runtime_s": 12.5,
     "tp_per_s": 120000, "mb_per_s": 34.3,
     "line": "...corosync's result line...", "run": 2}`},
			{Title: "Exit status", Body: `* 0
the run ended and its result was printed.
* 1
an invalid argument, cmap could not be reached or written, or no result arrived within the timeout (are totemd and cmapd running on every node?).`},
		},
		SeeAlso: []string{"totemd(8)", "cmapctl(8)", "cmap_keys(8)"},
	})
}
