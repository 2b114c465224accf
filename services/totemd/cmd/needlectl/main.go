// Command needlectl shows one node of a needle (or corosync) cluster in
// one screen: `needlectl status` prints the ring (local node, transport,
// links and their state per node), the members (runtime.members), quorum
// (votes, expected, quorate, flags), the CPG groups and which service
// daemons are attached to this node's totemd — what `pcs status corosync`
// shows for a corosync node, plus needle's daemons.
//
// Like pcs, it composes the node's own tools rather than speaking their
// protocols again: it runs cfgtool, cmapctl, quorumtool and cpgtool with
// --json (found next to needlectl's own executable, else on PATH), so its
// view is exactly what those documented outputs say (docs/json.md) and it
// needs no client library of any daemon. A part whose daemon is not
// running is shown as unavailable with that tool's message; only an
// unreachable totemd (cfgtool failing) makes the command fail.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"
)

func main() { os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr)) }

// newApp is needlectl's command line; the man page is generated from it.
func newApp(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:           "needlectl",
		Usage:          "show a needle cluster node in one view",
		UsageText:      "needlectl status [--json] [--timeout DURATION]",
		Writer:         stdout,
		ErrWriter:      stderr,
		HideVersion:    true,
		ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{
			Name:  "status",
			Usage: "ring, links, members, quorum, CPG groups and attached service daemons of this node",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "json", Usage: "print one JSON object (schema: docs/json.md, \"needlectl status\")"},
				&cli.DurationFlag{Name: "timeout", Value: 10 * time.Second, Usage: "give up on each tool after `DURATION`"},
			},
			Action: func(c *cli.Context) error {
				if c.NArg() > 0 {
					return cli.Exit(fmt.Sprintf("needlectl status: unexpected argument %q", c.Args().First()), 1)
				}
				st := gather(c.Context, tools{timeout: c.Duration("timeout")})
				if st.Cfg == nil {
					return cli.Exit("needlectl: totemd is not reachable on this node: "+st.Unavailable["ring"], 1)
				}
				if c.Bool("json") {
					return st.writeJSON(stdout)
				}
				st.writeText(stdout)
				return nil
			},
		}},
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := newApp(stdout, stderr).RunContext(ctx, args)
	var ec cli.ExitCoder
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ec):
		if msg := ec.Error(); msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		return ec.ExitCode()
	}
	fmt.Fprintln(stderr, "needlectl:", err)
	return 1
}
