package qbipc

import (
	"testing"

	"github.com/needle-cluster/needle/libs/nstest"
)

// inPrivateNamespaces runs the calling top-level test again in private
// network and mount namespaces (nstest.Run), so that it may serve or use
// the real service names ("cmap") without meeting a corosync or a daemon
// of another test on this host. /run (corosync's pid file) and /dev/shm
// (whatever corosync leaves there, its blackbox for one) are private
// tmpfs that vanish with the namespace. True in the child, where the test
// body runs.
func inPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	return nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"})
}
