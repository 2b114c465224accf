package main

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/internal/daemon"
)

// TestManPage checks docs/man/cpgd.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	opts := daemon.Options()
	manpage.Check(t, manpage.Page{
		Name: opts.Program, Section: 8,
		Summary:  opts.Usage,
		Synopsis: []string{opts.Program + " [-f] [-c FILE] [--bus PATH]"},
		Description: `cpgd serves corosync's closed process group service (service 2, libqb endpoint "cpg") to unmodified libcpg clients (Pacemaker, dlm_controld, corosync-cpgtool, cpgtool(8)): group joins and leaves, configuration changes with extended virtual synchrony, and messages in agreed order. A client is told CS_ERR_TRY_AGAIN during a synchronization round or when the ring is congested; accepted multicasts are never dropped, and those not yet on the ring when totemd went away are sent again after the daemon reattaches.

` + daemonCommon + `

SIGTERM (systemctl stop and restart) hands cpgd over instead: once no synchronization round runs and its own messages are on the ring, it gives its clients' connections, its groups and its place on the bus to totemd, which holds them for the next cpgd for up to 10 seconds. A cpgd started within that time takes them over: its clients keep their connections and groups and lose no message, and no node sees their processes leave (Pacemaker's daemons, which exit when they lose CPG, do not notice the restart). If none comes, or cpgd could not hand over within 3 seconds, the clients are disconnected and the other nodes see them leave. SIGINT stops cpgd for good at once.`,
		Flags: svchost.Flags(),
		Sections: []manpage.Section{
			{Title: "Exit status", Body: daemonExit},
			{Title: "Files", Body: daemonFiles},
		},
		SeeAlso: []string{"cpgtool(8)", "totemd(8)", "needlectl(8)"},
	})
}

// daemonCommon, daemonExit and daemonFiles are what every svchost daemon's
// page says (the same text in cmapd, quorumd and cpgd).
const daemonCommon = `The daemon reads corosync.conf (-c) for its own settings and logging, serves its libqb endpoints at once, and attaches to totemd's service bus (--bus), retrying with a backoff while totemd is not there; when totemd restarts it attaches again, and its service takes part in the next synchronization round. It never forks (-f is accepted for corosync habit) and stops on SIGTERM or SIGINT after an orderly drain: no new clients or requests, queued multicasts given a moment to reach the ring, then it detaches.

The uidgid.* keys in cmap decide which non-root users and groups may connect, as with corosync; they are followed live.`

const daemonExit = `* 0
stopped by SIGTERM or SIGINT.
* 1
a usage error, or a fatal error of the service.
* 7
the logging section is invalid.
* 8
the configuration file cannot be read or is invalid.`

const daemonFiles = `* /etc/corosync/corosync.conf
the configuration (-c).
* /run/needle/bus.sock
totemd's service bus (--bus).`
