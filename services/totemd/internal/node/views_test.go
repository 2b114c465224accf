package node

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// testDaemon is a minimal service daemon on the bus: it records what it is
// told (views, sync steps, deliveries) and answers every sync_process at
// once, as a daemon with nothing to send would.
type testDaemon struct {
	conn     *ipcproto.Conn
	attached *ipcproto.Msg
	events   chan string
}

func attachDaemon(t *testing.T, tc *testCluster, i int, svc uint16) *testDaemon {
	t.Helper()
	c, err := ipcproto.Dial(context.Background(), tc.cfgs[i].BusPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: svc, Name: svcid.Name(int(svc))}); err != nil {
		t.Fatal(err)
	}
	m, err := c.Recv()
	if err != nil || m.Kind != ipcproto.KindAttached {
		t.Fatalf("node %d: attach answer %+v %v", i+1, m, err)
	}
	d := &testDaemon{conn: c, attached: m, events: make(chan string, 1024)}
	go d.run()
	return d
}

func (d *testDaemon) run() {
	defer close(d.events)
	for {
		m, err := d.conn.Recv()
		if err != nil {
			return
		}
		switch m.Kind {
		case ipcproto.KindConfChg:
			c := m.Conf
			d.events <- fmt.Sprintf("%s %v left=%v joined=%v ring=%v", c.Type, c.Members, c.Left, c.Joined, c.RingMembers)
		case ipcproto.KindSyncInit:
			d.events <- fmt.Sprintf("init %s trans=%v members=%v", m.SyncKind, m.Trans, m.Members)
		case ipcproto.KindSyncProcess:
			_ = d.conn.Send(&ipcproto.Msg{Kind: ipcproto.KindSyncDone, ID: m.ID, Ring: m.Ring})
		case ipcproto.KindSyncActivate:
			d.events <- fmt.Sprintf("activate %s members=%v", m.SyncKind, m.Members)
		}
	}
}

// expect reads events until want appeared in order (others in between are
// allowed), failing after a timeout with what was seen.
func (d *testDaemon) expect(t *testing.T, who string, want ...string) {
	t.Helper()
	var seen []string
	timeout := time.After(15 * time.Second)
	for len(want) > 0 {
		select {
		case ev, ok := <-d.events:
			if !ok {
				t.Fatalf("%s: connection closed; saw %q, still waiting for %q", who, seen, want)
			}
			seen = append(seen, ev)
			if ev == want[0] {
				want = want[1:]
			}
		case <-timeout:
			t.Fatalf("%s: saw %q, still waiting for %q", who, seen, want)
		}
	}
}

// TestServiceViews: a configuration change carries the service membership
// beside the ring's. A cpg daemon attaching on node 2 gives the attached
// daemons of every node a change with node 2 joined, followed by a service
// sync round; its detach gives one with node 2 left. KindAttached carries
// the current ring, ring members and service members.
func TestServiceViews(t *testing.T) {
	tc := startCluster(t, 3)
	tc.waitMembers(t, []srp.NodeID{1, 2, 3}, 0, 1, 2)
	d1 := attachDaemon(t, tc, 0, svcid.Cpg)
	d1.expect(t, "node 1", "activate service members=[1]")
	d3 := attachDaemon(t, tc, 2, svcid.Cpg)
	for i, d := range []*testDaemon{d1, d3} {
		d.expect(t, fmt.Sprintf("node %d", 2*i+1), "transitional [1] left=[] joined=[] ring=[1 2 3]",
			"regular [1 3] left=[] joined=[3] ring=[1 2 3]", "init service trans=[1] members=[1 3]", "activate service members=[1 3]")
	}

	d2 := attachDaemon(t, tc, 1, svcid.Cpg)
	if a := d2.attached; !slices.Equal(a.RingMembers, []uint32{1, 2, 3}) || !slices.Equal(a.Members, []uint32{1, 3}) || a.Ring == nil || a.Ring.IsZero() {
		t.Fatalf("node 2 attached: ring %v ring members %v service members %v", a.Ring, a.RingMembers, a.Members)
	}
	joined := []string{"transitional [1 3] left=[] joined=[] ring=[1 2 3]", "regular [1 2 3] left=[] joined=[2] ring=[1 2 3]",
		"init service trans=[1 3] members=[1 2 3]", "activate service members=[1 2 3]"}
	for i, d := range []*testDaemon{d1, d2, d3} {
		d.expect(t, fmt.Sprintf("node %d", i+1), joined...)
	}

	d2.conn.Close()
	for i, d := range []*testDaemon{d1, d3} {
		d.expect(t, fmt.Sprintf("node %d", 2*i+1), "transitional [1 3] left=[2] joined=[] ring=[1 2 3]",
			"regular [1 3] left=[] joined=[] ring=[1 2 3]", "init service trans=[1 3] members=[1 3]", "activate service members=[1 3]")
	}

	// A ring change: a full round, with views of the ring first.
	tc.stop(1)
	tc.waitMembers(t, []srp.NodeID{1, 3}, 0, 2)
	for i, d := range []*testDaemon{d1, d3} {
		d.expect(t, fmt.Sprintf("node %d", 2*i+1), "transitional [1 3] left=[] joined=[] ring=[1 3]",
			"regular [1 3] left=[] joined=[] ring=[1 3]", "init full trans=[1 3] members=[1 3]", "activate full members=[1 3]")
	}
}

// TestViewBeforeInit: in every full round a daemon gets the regular view
// of the ring before sync_init, never after. (Node 2 runs no cmap daemon,
// so it is a ring member but not a cmap member.)
func TestViewBeforeInit(t *testing.T) {
	tc := startCluster(t, 2)
	tc.waitMembers(t, []srp.NodeID{1, 2}, 0, 1)
	d := attachDaemon(t, tc, 0, svcid.Cmap)
	tc.stop(1)
	tc.waitMembers(t, []srp.NodeID{1}, 0)
	tc.start(t, 1)
	tc.waitMembers(t, []srp.NodeID{1, 2}, 0, 1)
	var seen []string
	deadline := time.After(15 * time.Second)
	rejoined := func() bool {
		return slices.ContainsFunc(seen, func(ev string) bool { return strings.HasSuffix(ev, "ring=[1 2]") }) &&
			strings.HasPrefix(seen[len(seen)-1], "activate full")
	}
	for !rejoined() {
		select {
		case ev := <-d.events:
			seen = append(seen, ev)
		case <-deadline:
			t.Fatalf("no full round for the rejoin: %q", seen)
		}
	}
	lastView, lastInit := -1, -1
	for i, ev := range seen {
		switch {
		case strings.HasPrefix(ev, "regular "):
			lastView = i
		case strings.HasPrefix(ev, "init full"):
			if lastView < 0 || lastInit > lastView {
				t.Fatalf("sync_init without a regular view before it: %q", seen)
			}
			lastInit = i
		}
	}
}
