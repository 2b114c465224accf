// Command cpgd is needle's CPG daemon: corosync's closed process group
// service (service 2, libqb endpoint "cpg") for unmodified libcpg clients,
// attached to totemd's bus. The pure core is internal/cpg, the adapter
// internal/daemon; the daemon's plumbing (command line, logging, bus,
// owner loop, endpoint) is libs/svchost.
package main

import (
	"io"
	"os"

	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/internal/daemon"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return svchost.MainArgs(daemon.Options(), args, stdout, stderr)
}
