package main

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/daemon"
)

// TestManPage checks docs/man/cmapd.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	opts := daemon.Options(0)
	manpage.Check(t, manpage.Page{
		Name: opts.Program, Section: 8,
		Summary:  opts.Usage,
		Synopsis: []string{opts.Program + " [-f] [-c FILE] [--bus PATH]"},
		Description: `cmapd serves corosync's cmap service (service 0, libqb endpoint "cmap"): the configuration file's keys, the runtime keys (runtime.members, runtime.config, runtime.services and the others in cmap_keys(8)) and the statistics map, to unmodified libcmap clients (corosync-cmapctl, cmapctl(8), Pacemaker). It loads corosync.conf at start and reloads it when the file changes on disk and on cfgtool -R, replacing the configuration keys as corosync does (see needle.conf(5)). It takes part in the config_version exchange of cmap's sync, so corosync nodes in a mixed ring see its version. The other daemons read and write cmap through it over the bus.

` + daemonCommon,
		Flags: svchost.Flags(),
		Sections: []manpage.Section{
			{Title: "Exit status", Body: daemonExit},
			{Title: "Files", Body: daemonFiles},
		},
		SeeAlso: []string{"cmap_keys(8)", "cmapctl(8)", "needle.conf(5)", "totemd(8)"},
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
