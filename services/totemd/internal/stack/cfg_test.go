package stack

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// cfgRing is a ring of stacks running cfg, with each node's cfg outputs
// recorded (and the ring messages its core got, through Observe).
type cfgRing struct {
	*ring
	acts [][]cfg.Action
	seen [][]string // per node: "ring from kind" of each cfg ring message
}

func newCfgRing(t *testing.T, n int) *cfgRing {
	timeout := 300 * time.Millisecond
	nodelist := map[uint32][]netip.Addr{}
	for i := range n {
		nodelist[uint32(i+1)] = []netip.Addr{netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})}
	}
	c := &cfgRing{acts: make([][]cfg.Action, n), seen: make([][]string, n)}
	// Observe is per node: the stacks are built in node order, each with
	// its own closure.
	var ids []srp.NodeID
	for i := range n {
		ids = append(ids, srp.NodeID(i+1))
	}
	r := &ring{t: t, ses: map[[2]int]*session{}}
	for i, id := range ids {
		cc := CfgConfig{Enabled: true, Nodelist: nodelist, ShutdownTimeout: &timeout,
			Observe: func(rg srp.RingID, from uint32, msg []byte, swapped bool) {
				m, err := cfg.DecodeExec(msg, swapped)
				if err != nil {
					t.Errorf("n%d: cfg message from n%d: %v", i+1, from, err)
					return
				}
				c.seen[i] = append(c.seen[i], fmt.Sprintf("%x.%x n%d %T%+v", rg.Rep, rg.Seq, from, m, m))
			}}
		st, err := New(Config{SRP: testConfig(id, ids), Cfg: cc})
		if err != nil {
			t.Fatal(err)
		}
		r.stacks = append(r.stacks, st)
	}
	r.onCfg = func(i int, a cfg.Action) { c.acts[i] = append(c.acts[i], a) }
	c.ring = r
	for i := range r.stacks {
		r.step(i, Event{Kind: Start})
	}
	return c
}

// take returns node i's recorded actions of type A and forgets them all.
func take[A cfg.Action](c *cfgRing, i int) []A {
	var out []A
	for _, a := range c.acts[i] {
		if x, ok := a.(A); ok {
			out = append(out, x)
		}
	}
	c.acts[i] = nil
	return out
}

func (c *cfgRing) request(i int, conn cfg.ConnID, req []byte) {
	c.t.Helper()
	if err := c.stacks[i].Step(c.now, CfgRequestEvent(conn, req)); err != nil {
		c.t.Fatalf("n%d: %v", i+1, err)
	}
	c.step(i, Event{Kind: Tick}) // carry the Ready out (an early Tick is harmless)
}

func (c *cfgRing) connect(i int, conn cfg.ConnID) {
	c.t.Helper()
	if err := c.stacks[i].Step(c.now, CfgConnectEvent(conn)); err != nil {
		c.t.Fatalf("n%d: %v", i+1, err)
	}
}

func bare(id cfg.RespID, e cs.Error) []byte { return cfg.BareResponse{Resp: id, Error: e}.Encode() }

// TestCfgReloadIsRingWide: a RELOAD_CONFIG on n1 is one ring message that
// every node's core gets in the same ring, each asking its driver to
// reload; only n1's client is answered, once, when n1's reload is done.
func TestCfgReloadIsRingWide(t *testing.T) {
	c := newCfgRing(t, 3)
	c.run(2 * time.Second)
	c.connect(0, 7)
	c.request(0, 7, cfg.BareRequest{Req: cfg.ReqReloadConfig}.Encode())
	if rs := take[cfg.Respond](c, 0); len(rs) != 0 {
		t.Fatalf("answered before the reload: %v", rs)
	}
	c.run(c.now + 100*time.Millisecond)
	for i := range c.stacks {
		if len(c.seen[i]) != 1 || c.seen[i][0] != c.seen[0][0] {
			t.Fatalf("n%d saw %q, n1 %q", i+1, c.seen[i], c.seen[0])
		}
		acts := c.acts[i]
		rl := take[cfg.Reload](c, i)
		if len(rl) != 1 || rl[0].Requester != 1 {
			t.Fatalf("n%d: actions %+v", i+1, acts)
		}
		c.step(i, CfgReloadDoneEvent(rl[0].Seq, cs.OK))
		rs := take[cfg.Respond](c, i)
		if i == 0 && (len(rs) != 1 || rs[0].Conn != 7 || !bytes.Equal(rs[0].Msg, bare(cfg.RespReloadConfig, cs.OK))) {
			t.Fatalf("n1 answered %+v", rs)
		}
		if i > 0 && len(rs) != 0 {
			t.Fatalf("n%d answered %+v", i+1, rs)
		}
	}
	// A second completion of the same reload is refused.
	if err := c.stacks[0].Step(c.now, CfgReloadDoneEvent(1, cs.OK)); err == nil {
		t.Fatal("a reload completed twice")
	}
}

// TestCfgKillNode: KILL_NODE of a member is answered OK and makes that
// node's core, and only its, ask for the exit (status 255); KILL_NODE of
// a node that is not a member is refused with ErrNotExist and sends
// nothing to the ring.
func TestCfgKillNode(t *testing.T) {
	c := newCfgRing(t, 3)
	c.run(2 * time.Second)
	c.connect(0, 1)
	c.request(0, 1, cfg.KillNodeRequest{NodeID: 9, Reason: "nobody"}.Encode())
	if rs := take[cfg.Respond](c, 0); len(rs) != 1 || !bytes.Equal(rs[0].Msg, bare(cfg.RespKillNode, cs.ErrNotExist)) {
		t.Fatalf("kill of n9 answered %+v", rs)
	}
	c.request(0, 1, cfg.KillNodeRequest{NodeID: 3, Reason: "test"}.Encode())
	if rs := take[cfg.Respond](c, 0); len(rs) != 1 || !bytes.Equal(rs[0].Msg, bare(cfg.RespKillNode, cs.OK)) {
		t.Fatalf("kill of n3 answered %+v", rs)
	}
	c.run(c.now + 100*time.Millisecond)
	for i := range c.stacks {
		if len(c.seen[i]) != 1 {
			t.Fatalf("n%d saw %q", i+1, c.seen[i])
		}
		ex := take[cfg.Exit](c, i)
		if want := i == 2; (len(ex) == 1) != want || want && ex[0].Status != 255 {
			t.Fatalf("n%d: exits %+v", i+1, ex)
		}
	}
}

// newVoteRing is a 3-node ring with two cfg clients on n2: connection 1
// tracks shutdowns (the vote's voter), connection 2 will ask for one.
func newVoteRing(t *testing.T) *cfgRing {
	c := newCfgRing(t, 3)
	c.run(2 * time.Second)
	c.connect(1, 1)
	c.connect(1, 2)
	c.request(1, 1, cfg.TrackStartRequest{}.Encode())
	return c
}

// TestCfgShutdownVoteTimesOut: a TRYSHUTDOWN with a tracker that never
// answers waits for cfg's timer, which is part of the stack's deadline
// and fires from the stack's time: after shutdown_timeout the requester
// gets ErrBusy and nothing is sent to the ring.
func TestCfgShutdownVoteTimesOut(t *testing.T) {
	c := newVoteRing(t)
	take[cfg.Respond](c, 1)
	start := c.now
	c.request(1, 2, cfg.TryShutdownRequest{Flags: cfg.ShutdownRequest}.Encode())
	evs := take[cfg.SendEvent](c, 1)
	if len(evs) != 1 || evs[0].Conn != 1 {
		t.Fatalf("tracker asked %+v", evs)
	}
	if d, ok := c.stacks[1].NextDeadline(); !ok || d > start+300*time.Millisecond {
		t.Fatalf("deadline %v (%v), want by %v", d, ok, start+300*time.Millisecond)
	}
	var answered srp.Time
	for c.now < start+time.Second && answered == 0 {
		c.run(c.now + 10*time.Millisecond)
		for _, a := range c.acts[1] {
			if r, ok := a.(cfg.Respond); ok && r.Conn == 2 {
				if !bytes.Equal(r.Msg, bare(cfg.RespTryShutdown, cs.ErrBusy)) {
					t.Fatalf("requester answered %x", r.Msg)
				}
				answered = c.now
			}
			if _, ok := a.(cfg.Shutdown); ok {
				t.Fatal("shut down after a refused vote")
			}
		}
	}
	if answered < start+300*time.Millisecond || answered > start+320*time.Millisecond {
		t.Fatalf("answered at %v, the vote began at %v with a 300 ms timeout", answered, start)
	}
	for i := range c.stacks {
		if len(c.seen[i]) != 0 {
			t.Fatalf("n%d got ring messages %q", i+1, c.seen[i])
		}
	}
}

// TestCfgShutdownGranted: a tracker's yes grants the vote: the requester
// gets OK, every node's core gets the ring SHUTDOWN of n2, and only n2's
// asks its driver to shut down.
func TestCfgShutdownGranted(t *testing.T) {
	c := newVoteRing(t)
	c.request(1, 2, cfg.TryShutdownRequest{Flags: cfg.ShutdownRequest}.Encode())
	c.acts[1] = nil
	c.request(1, 1, cfg.ReplyToShutdownRequest{Response: 1}.Encode())
	rs := take[cfg.Respond](c, 1)
	want := [][]byte{bare(cfg.RespTryShutdown, cs.OK), bare(cfg.RespReplyToShutdown, cs.OK)}
	if len(rs) != 2 || !bytes.Equal(rs[0].Msg, want[0]) || rs[0].Conn != 2 || !bytes.Equal(rs[1].Msg, want[1]) || rs[1].Conn != 1 {
		t.Fatalf("answers %+v", rs)
	}
	if _, ok := c.stacks[1].cfgDeadline(); ok {
		t.Fatal("vote timer still armed after the decision")
	}
	c.run(c.now + 100*time.Millisecond)
	for i := range c.stacks {
		if len(c.seen[i]) != 1 || c.seen[i][0] != c.seen[0][0] {
			t.Fatalf("n%d saw %q, n1 %q", i+1, c.seen[i], c.seen[0])
		}
		if sd := take[cfg.Shutdown](c, i); (len(sd) == 1) != (i == 1) {
			t.Fatalf("n%d: shutdowns %v", i+1, sd)
		}
	}
}

// TestCfgFlowControlAndEvents: before the ring is synced, a request that
// sends to the ring is answered TryAgain; a second connect of one id, and
// cfg events to a stack without cfg, are refused; REOPEN_LOG_FILES asks
// the driver, then every attached daemon reopens its files before the
// client is answered.
func TestCfgFlowControlAndEvents(t *testing.T) {
	c := newCfgRing(t, 2)
	c.connect(0, 1)
	c.request(0, 1, cfg.BareRequest{Req: cfg.ReqReloadConfig}.Encode())
	if rs := take[cfg.Respond](c, 0); len(rs) != 1 || !bytes.Equal(rs[0].Msg, cfg.GenericError(cs.ErrTryAgain)) {
		t.Fatalf("unsynced reload answered %+v", rs)
	}
	if err := c.stacks[0].Step(c.now, CfgConnectEvent(1)); err == nil {
		t.Fatal("connection 1 registered twice")
	}
	plain := newRing(t, 1)
	if err := plain.stacks[0].Step(0, CfgConnectEvent(1)); err == nil {
		t.Fatal("cfg connect taken without cfg")
	}
	c.run(2 * time.Second)
	d := c.attach(0, 0)
	c.request(0, 1, cfg.BareRequest{Req: cfg.ReqReopenLogFiles}.Encode())
	ro := take[cfg.ReopenLogs](c, 0)
	if len(ro) != 1 || ro[0].Conn != 1 {
		t.Fatalf("reopen asked %+v", ro)
	}
	before := len(d.msgs)
	c.step(0, CfgReopenLogsDoneEvent(1, cs.OK))
	if rs := take[cfg.Respond](c, 0); len(rs) != 1 || !bytes.Equal(rs[0].Msg, bare(cfg.RespReopenLogFiles, cs.OK)) {
		t.Fatalf("reopen answered %+v", rs)
	}
	if got := d.msgs[before:]; len(got) != 1 || got[0].Kind != ipcproto.KindReopenLogs {
		t.Fatalf("daemon got %+v", got)
	}
	// The member status answers from the stack's own membership.
	c.request(0, 1, cfg.NodeStatusRequest{NodeID: 2, Version: 1}.Encode())
	rs := take[cfg.Respond](c, 0)
	ns, err := cfg.DecodeNodeStatusResponse(rs[0].Msg)
	if err != nil || ns.Error != cs.OK || ns.Status.Reachable != 1 || ns.Status.Links[0].SrcAddr != "10.0.0.2" || ns.Status.Links[0].MTU != 1410 {
		t.Fatalf("node status %+v %v", ns, err)
	}
}
