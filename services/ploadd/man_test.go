package main

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/needle-cluster/needle/libs/svchost"
)

// TestManPage checks docs/man/ploadd.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	opts := options()
	manpage.Check(t, manpage.Page{
		Name: opts.Program, Section: 8,
		Summary:  opts.Usage,
		Synopsis: []string{opts.Program + " [-f] [-c FILE] [--bus PATH]"},
		Description: `ploadd serves corosync's pload service (service 4), the ring load test: when pload.start is set to corosync's confirmation string in cmap (pload(8) does it), every node sends pload.count messages of pload.size bytes and measures how fast the ring delivers them. It is compatible with corosync nodes in a mixed ring. Unlike corosync, which exits with status 99 when a run ends, ploadd writes the result into runtime.pload.* (run, writes, size, elapsed_ns, tps, mbps, result) and keeps running.

` + daemonCommon,
		Flags: svchost.Flags(),
		Sections: []manpage.Section{
			{Title: "Exit status", Body: daemonExit},
			{Title: "Files", Body: daemonFiles},
		},
		SeeAlso: []string{"pload(8)", "cmap_keys(8)", "totemd(8)"},
	})
}

// daemonCommon, daemonExit and daemonFiles are what every svchost daemon's
// page says (the same text in cmapd, quorumd, cpgd and ploadd).
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
