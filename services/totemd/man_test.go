package main

import (
	"io"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
)

// TestManPage checks docs/man/totemd.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	app := newApp(io.Discard, io.Discard)
	manpage.Check(t, manpage.Page{
		Name: "totemd", Section: 8,
		Summary:  "needle's Totem daemon: the cluster ring, the cfg service and the service bus",
		Synopsis: []string{"totemd -f [-c FILE] [--bus PATH]", "totemd -t [-c FILE]", "totemd check [-c FILE]"},
		Description: `totemd is the part of the needle cluster engine that corosync's process was: it reads corosync.conf, runs the Totem single-ring protocol with the other nodes (udp or udpu, optional packet crypto), delivers messages in agreed order with extended virtual synchrony, runs the service synchronization barrier after every membership change, serves corosync's "cfg" client service (corosync-cfgtool, cfgtool(8)), and runs corosync's pload ring load test (service 4, started through cmap's pload.* keys, pload(8)) as corosync does, inside its own process; unlike corosync it writes a run's result into runtime.pload.* and keeps running.

The other services run as separate daemons that attach to totemd's service bus, a unix socket (--bus): cmapd(8) (cmap), quorumd(8) (quorum and votequorum), and cpgd(8) (cpg); a daemon that tries to attach as pload is refused. totemd answers the sync rounds of a service no daemon serves as an empty service would, so corosync 3.1.7 nodes in a mixed ring complete their sync; a service daemon may restart without the ring changing.

totemd speaks corosync 3.1.7's wire format: needle and corosync nodes form one ring over udpu without crypto (corosync 3.x has no crypto on udp/udpu). It never forks: -f is accepted for corosync habit. It stops on SIGTERM or SIGINT, sending the leave message so the other nodes re-form at once, and on "cfgtool -H". Which configuration keys it reads, and which it rejects, is in needle.conf(5).

-t (or the check command) parses and validates the file as corosync -t does, with corosync 3.1.7's messages and exit statuses, and prints the resulting keys as "KEY (TYPE) = VALUE".`,
		Flags:    app.Flags,
		Commands: app.Commands,
		Sections: []manpage.Section{
			{Title: "Exit status", Body: `* 0
a clean stop, or a valid configuration (-t).
* 1
a usage error.
* 7
the logging section is invalid.
* 8
the configuration file cannot be read, parsed or validated.
* 15
the ring could not start or failed (corosync's "totem layer" status).
* 16
the state directory is missing.
* 255
killed by a cfg KILL_NODE request (cfgtool -k), as corosync exits with -1.`},
			{Title: "Environment", Body: `* NEEDLE_UDP_GSO
off: send every datagram on its own and read them one by one, as corosync does; send: segmented sends only. By default a token visit's run of equal-sized frames for one member goes to the kernel as one segmented send (UDP_SEGMENT) and the receiving sockets read such runs whole (UDP_GRO); the datagrams on the wire are the same. A kernel or route that refuses turns it off by itself (logged). A diagnostic for same-run comparisons.
* NEEDLE_CPUPROFILE
a file prefix: profile the daemon's CPU for its whole life, one pprof file per 5 seconds (PREFIX.totemd.PID.N.pprof). A diagnostic.`},
			{Title: "Files", Body: `* /etc/corosync/corosync.conf
the configuration (-c).
* /etc/corosync/authkey
the packet crypto key (totem.keyfile), see keygen(8).
* /run/needle/bus.sock
the service bus (--bus).`},
		},
		SeeAlso: []string{"needle.conf(5)", "cfgtool(8)", "cmapd(8)", "quorumd(8)", "cpgd(8)", "pload(8)", "needlectl(8)", "corosync(8)"},
	})
}
