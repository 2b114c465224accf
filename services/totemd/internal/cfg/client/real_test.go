package client

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/corotest"
)

func dial(t *testing.T) *Client {
	t.Helper()
	var c *Client
	corotest.WaitFor(t, "cfg service", func(ctx context.Context) error {
		var err error
		c, err = Dial(ctx)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, what string, err error, want cs.Error) {
	t.Helper()
	if got := Code(err); got != want {
		t.Fatalf("%s: %s (%v), want %s", what, got.Strerror(), err, want.Strerror())
	}
}

// TestRealCorosync runs every call against a real corosync 3.1.7 in both
// IPC transports: the Go client must get what libcfg gets.
func TestRealCorosync(t *testing.T) {
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	for _, ipc := range []string{"native", "socket"} {
		t.Run(ipc, func(t *testing.T) {
			co := corotest.Start(t, corotest.Options{
				Nodes:   []corotest.Node{{ID: 1, Addr: "127.0.0.1"}, {ID: 2, Addr: "127.0.0.2"}},
				IPCType: ipc,
				Extra:   "cfg {\n\tshutdown_timeout: 300\n}\n",
			})
			ctx := context.Background()
			c := dial(t)
			if id, err := c.LocalNodeID(ctx); err != nil || id != 1 {
				t.Fatalf("local node id %d, %v", id, err)
			}
			ifs, err := c.RingStatus(ctx)
			if err != nil || !reflect.DeepEqual(ifs, []cfg.Interface{{Name: "0 127.0.0.1", Status: "OK"}}) {
				t.Fatalf("ring status %+v, %v", ifs, err)
			}
			ns, err := c.NodeStatus(ctx, 2)
			want := cfg.NodeStatus{Version: 1, NodeID: 2}
			want.Links[0] = cfg.LinkStatus{Enabled: 1, MTU: 1410, SrcAddr: "127.0.0.2"}
			if err != nil || ns != want {
				t.Fatalf("node 2 status %+v, %v", ns, err)
			}
			addrs, err := c.NodeAddrs(ctx, 2)
			if err != nil || !reflect.DeepEqual(addrs, []netip.Addr{netip.MustParseAddr("127.0.0.2")}) {
				t.Fatalf("node 2 addresses %v, %v", addrs, err)
			}
			_, err = c.NodeAddrs(ctx, 3)
			wantCode(t, "addresses of node 3", err, cs.ErrNotExist)
			wantCode(t, "kill node 2 (configured, not joined)", c.KillNode(ctx, 2, "test"), cs.ErrNotExist)
			wantCode(t, "ring reenable", c.RingReenable(ctx), cs.ErrNotSupported)
			wantCode(t, "reopen logs", c.ReopenLogFiles(ctx), cs.OK)
			wantCode(t, "reload", c.ReloadConfig(ctx), cs.OK)
			wantCode(t, "vote without a request", c.ReplyToShutdown(ctx, true), cs.ErrAccess)

			// Shutdown votes are compared with the needle core in cfgipc's
			// TestShutdownVotes. With no tracker a REQUEST is granted.
			err = c.TryShutdown(ctx, cfg.ShutdownRequest)
			if ipc == "socket" && errors.Is(err, qbipc.ErrDisconnected) {
				// libs/qbipc's socket client drops a response that is
				// queued when the server hangs up (libqb reads it); the
				// daemon answered CS_OK first, as its log shows.
				t.Logf("granted request: %v (known libs/qbipc socket-mode race)", err)
			} else {
				wantCode(t, "granted request", err, cs.OK)
			}
			select {
			case <-co.Done():
			case <-time.After(15 * time.Second):
				t.Fatal("corosync did not shut down")
			}
			if co.ExitCode() != 0 {
				t.Fatalf("corosync exit status %d", co.ExitCode())
			}
			if _, err := c.LocalNodeID(ctx); err == nil {
				t.Fatal("call after the daemon exited succeeded")
			}
		})
	}
}
