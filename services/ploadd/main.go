// Command ploadd is needle's pload service daemon: corosync's profile
// loading service (service 4), started through the pload.* cmap keys like
// corosync 3.1.7's, compatible with corosync nodes in a mixed ring. It
// reports each run in runtime.pload.* instead of exiting as corosync does.
package main

import (
	"os"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/svchost"
)

func main() { os.Exit(svchost.Main(options())) }

// options describe ploadd to svchost (and to its man page).
func options() svchost.Options {
	return svchost.Options{
		Program:      "ploadd",
		Usage:        "needle's pload service daemon (corosync's ring load generator, service 4)",
		Service:      svcid.Pload,
		Name:         "pload",
		CmapPrefixes: []string{"pload."},
		New:          newService,
	}
}
