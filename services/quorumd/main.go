// Command quorumd is needle's quorum daemon: corosync's quorum service
// (service 3, libqb endpoint "quorum") and votequorum provider (service
// 5, endpoint "votequorum") for unmodified libquorum and libvotequorum
// clients (corosync-quorumtool, Pacemaker, dlm_controld,
// corosync-qdevice), attached to totemd's bus as service 5. The pure
// cores are internal/vq (votequorum) and internal/qsvc (the quorum
// service), the adapter internal/daemon; the daemon's plumbing (command
// line, logging, bus, owner loop, endpoints, cmap mirror) is libs/svchost.
package main

import (
	"io"
	"os"

	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/internal/daemon"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return svchost.MainArgs(daemon.Options(), args, stdout, stderr)
}
