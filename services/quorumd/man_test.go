package main

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/internal/daemon"
)

// TestManPage checks docs/man/quorumd.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	opts := daemon.Options()
	manpage.Check(t, manpage.Page{
		Name: opts.Program, Section: 8,
		Summary:  opts.Usage,
		Synopsis: []string{opts.Program + " [-f] [-c FILE] [--bus PATH]"},
		Description: `quorumd serves corosync's quorum service (service 3, libqb endpoint "quorum") and the votequorum provider (service 5, endpoint "votequorum") to unmodified libquorum and libvotequorum clients (corosync-quorumtool, quorumtool(8), Pacemaker, dlm_controld, corosync-qdevice). It attaches to the bus as votequorum. Its rules (expected votes, two_node, wait_for_all, last_man_standing, auto_tie_breaker, quorum devices) are those of corosync 3.1.7, described in votequorum(5). With no quorum.provider in corosync.conf it serves the quorum endpoint as corosync does without a provider (quorumtool then reports the provider as not configured).

` + daemonCommon + `

SIGTERM (systemctl stop and restart) hands quorumd over instead: once no synchronization round runs, its own messages are on the ring and no quorum device registration is pending, it gives its clients' connections, the votequorum state (votes, expected votes, the quorate decision, the quorum device and its timers) and its place on the bus to totemd, which holds them for the next quorumd for up to 10 seconds. A quorumd started within that time takes them over: its clients keep their connections and tracking, and no node sees a change. If none comes, or quorumd could not hand over within 3 seconds, the clients are disconnected. SIGINT stops quorumd for good at once.`,
		Flags: svchost.Flags(),
		Sections: []manpage.Section{
			{Title: "Exit status", Body: daemonExit},
			{Title: "Files", Body: daemonFiles},
		},
		SeeAlso: []string{"votequorum(5)", "quorumtool(8)", "cmap_keys(8)", "totemd(8)"},
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
