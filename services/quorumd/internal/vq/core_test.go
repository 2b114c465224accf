package vq

import (
	"slices"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// cluster runs cores with corosync's barrier: every NODEINFO of a round is
// delivered (in one agreed order) before any activate.
type cluster struct {
	t     *testing.T
	cores map[uint32]*Core
	seq   uint64
	acts  map[uint32][]Action
}

func nodelist(ids ...uint32) []NodelistEntry {
	var l []NodelistEntry
	for _, id := range ids {
		l = append(l, NodelistEntry{NodeID: id, Votes: 1})
	}
	return l
}

func newCluster(t *testing.T, base Config, ids ...uint32) *cluster {
	cl := &cluster{t: t, cores: map[uint32]*Core{}, acts: map[uint32][]Action{}}
	for i, id := range ids {
		cfg := base
		cfg.NodeID = id
		cfg.LocalPos = i
		c, acts, err := New(cfg)
		if err != nil {
			t.Fatalf("New(%d): %v", id, err)
		}
		cl.cores[id] = c
		cl.acts[id] = acts
	}
	return cl
}

func (cl *cluster) deliver(members []uint32, from uint32, acts []Action) {
	for _, a := range acts {
		if m, ok := a.(Mcast); ok {
			for _, id := range members {
				more, err := cl.cores[id].Deliver(from, m.Payload, false)
				if err != nil {
					cl.t.Fatalf("deliver to %d: %v", id, err)
				}
				cl.acts[id] = append(cl.acts[id], more...)
				cl.deliver(members, id, more)
			}
		}
	}
}

// ring forms a partition and syncs it.
func (cl *cluster) ring(members ...uint32) {
	cl.seq += 4
	ring := RingID{NodeID: members[0], Seq: cl.seq}
	for _, id := range members {
		cl.acts[id] = append(cl.acts[id], cl.cores[id].SyncInit(members, ring)...)
	}
	var sent [][]Action
	for _, id := range members {
		_, acts := cl.cores[id].SyncProcess()
		cl.acts[id] = append(cl.acts[id], acts...)
		sent = append(sent, acts)
	}
	for i, id := range members {
		cl.deliver(members, id, sent[i])
	}
	for _, id := range members {
		acts := cl.cores[id].SyncActivate()
		cl.acts[id] = append(cl.acts[id], acts...)
		cl.deliver(members, id, acts)
	}
}

func info(t *testing.T, c *Core) Info {
	t.Helper()
	in, err := c.Info(0)
	if err != cs.OK {
		t.Fatalf("Info: %v", err)
	}
	return in
}

func cmapValue(acts []Action, key string) (any, bool) {
	var v any
	ok := false
	for _, a := range acts {
		if s, is := a.(CmapSet); is && s.Key == key {
			v, ok = s.Value, true
		}
	}
	return v, ok
}

// Behaviour verified on Debian 3.1.7 (votequorum.md §12, §8.2, §8.3).
func TestSingleNode(t *testing.T) {
	cl := newCluster(t, Config{Nodelist: nodelist(1)}, 1)
	cl.ring(1)
	c := cl.cores[1]
	in := info(t, c)
	if !c.Quorate() || in.ExpectedVotes != 1 || in.Quorum != 1 || in.Flags != InfoQuorate {
		t.Fatalf("single node: %+v quorate %v", in, c.Quorate())
	}
	for key, want := range map[string]any{"runtime.votequorum.ev_barrier": uint32(1), "runtime.votequorum.this_node_id": uint32(1),
		"runtime.votequorum.two_node": uint8(0), "runtime.votequorum.lowest_node_id": uint32(1), "runtime.votequorum.highest_node_id": uint32(1)} {
		if v, ok := cmapValue(cl.acts[1], key); !ok || v != want {
			t.Errorf("%s = %v (%T), want %v", key, v, v, want)
		}
	}
	if e, _ := c.SetExpected(3); e != cs.ErrInvalidParam {
		t.Errorf("quorate -e 3: %v, want INVALID_PARAM", e)
	}
	if e, _ := c.SetExpected(1); e != cs.OK {
		t.Errorf("quorate -e 1: %v, want OK", e)
	}
	// setvotes 1 -> 2 is accepted and raises expected to 2; 2 -> 1 is refused
	e, acts := c.SetVotes(1, 2)
	if e != cs.OK {
		t.Fatalf("setvotes 2: %v", e)
	}
	cl.deliver([]uint32{1}, 1, acts)
	if in := info(t, c); in.ExpectedVotes != 2 || in.Votes != 2 {
		t.Fatalf("after setvotes 2: %+v", in)
	}
	if !slices.ContainsFunc(cl.acts[1], func(a Action) bool { ev, ok := a.(ExpectedVotesNotify); return ok && ev.Expected == 2 }) {
		t.Error("no EXPECTEDVOTES notification with 2")
	}
	if e, _ := c.SetVotes(1, 1); e != cs.ErrInvalidParam {
		t.Errorf("setvotes back to 1: %v, want INVALID_PARAM", e)
	}
	if e, _ := c.SetVotes(9, 1); e != cs.ErrNameNotFound {
		t.Errorf("setvotes unknown: %v", e)
	}
}

func TestWaitForAllCancelledBySetExpected(t *testing.T) {
	cl := newCluster(t, Config{Nodelist: nodelist(1), ExpectedVotes: 3, WaitForAll: true, WaitForAllSet: true,
		LastManStanding: true, AutoTieBreaker: true}, 1)
	cl.ring(1)
	c := cl.cores[1]
	in := info(t, c)
	if c.Quorate() || in.Quorum != 2 || in.Flags != InfoWaitForAll|InfoLastManStanding|InfoAutoTieBreaker {
		t.Fatalf("%+v", in)
	}
	if v, _ := cmapValue(cl.acts[1], "runtime.votequorum.atb_type"); v != uint32(ATBLowest) {
		t.Errorf("atb_type %v", v)
	}
	e, acts := c.SetExpected(1)
	if e != cs.OK {
		t.Fatalf("-e 1: %v", e)
	}
	cl.deliver([]uint32{1}, 1, acts)
	if !c.Quorate() || info(t, c).ExpectedVotes != 1 || c.WaitingForAll() {
		t.Fatalf("after -e 1: %+v quorate %v", info(t, c), c.Quorate())
	}
}

func TestTwoNodes(t *testing.T) {
	cl := newCluster(t, Config{Nodelist: nodelist(1, 2)}, 1, 2)
	cl.ring(1)
	if c := cl.cores[1]; c.Quorate() || info(t, c).Quorum != 2 || info(t, c).ExpectedVotes != 2 {
		t.Fatalf("node 1 alone: %+v", info(t, c))
	}
	cl.ring(1, 2)
	if !cl.cores[1].Quorate() || info(t, cl.cores[1]).TotalVotes != 2 {
		t.Fatal("both up: not quorate")
	}
	delete(cl.cores, 2)
	cl.ring(1)
	if cl.cores[1].Quorate() {
		t.Fatal("node 2 killed: still quorate")
	}
	// corosync's insertion order: [2, 1]
	if got := cl.cores[1].Nodes(); !slices.Equal(got, []NodeState{{2, Dead}, {1, Member}}) {
		t.Fatalf("nodes %v", got)
	}
}

func TestTwoNodeMode(t *testing.T) {
	cl := newCluster(t, Config{Nodelist: nodelist(1, 2), TwoNode: true}, 1, 2)
	cl.ring(1)
	c := cl.cores[1]
	if in := info(t, c); c.Quorate() || in.Quorum != 1 || in.Flags != InfoTwoNode|InfoWaitForAll {
		t.Fatalf("alone at start: %+v", in)
	}
	cl.ring(1, 2)
	delete(cl.cores, 2)
	cl.ring(1)
	if in := info(t, c); !c.Quorate() || in.Flags != InfoTwoNode|InfoQuorate|InfoWaitForAll {
		t.Fatalf("after peer died: %+v", in)
	}
}

func TestStartupErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{NodeID: 1, Nodelist: nodelist(1, 2), TwoNode: true, Device: &DeviceConfig{Model: "net"}},
			"configuration error: two_node and quorum device cannot be configured at the same time!"},
		{Config{NodeID: 1}, "configuration error: nodelist or quorum.expected_votes must be configured!"},
		{Config{NodeID: 1, Nodelist: nodelist(1, 2, 3), AutoTieBreaker: true, LastManStanding: true},
			"configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster"},
		{Config{NodeID: 1, Nodelist: nodelist(1, 2), ExpectedVotes: 2, Device: &DeviceConfig{Model: "net"}},
			"configuration error: quorum.device.votes must be specified when quorum.expected_votes is set"},
	} {
		if _, _, err := New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("New: %v, want %q", err, tc.want)
		}
	}
}

func TestQdevice(t *testing.T) {
	cl := newCluster(t, Config{Nodelist: nodelist(1, 2, 3), Device: &DeviceConfig{Model: "net",
		Timeout: time.Second, SyncTimeout: 3 * time.Second}}, 1, 2, 3)
	cl.ring(1, 2, 3)
	c := cl.cores[1]
	if in := info(t, c); in.ExpectedVotes != 5 || in.QdeviceVotes != 2 {
		t.Fatalf("device votes: %+v", in)
	}
	e, pending, acts := c.QdeviceRegister("dev")
	if e != cs.OK || !pending {
		t.Fatalf("register: %v %v", e, pending)
	}
	cl.deliver([]uint32{1, 2, 3}, 1, acts)
	if !slices.ContainsFunc(cl.acts[1], func(a Action) bool { r, ok := a.(QdeviceRegisterReply); return ok && r.Err == cs.OK }) {
		t.Fatal("no register reply")
	}
	if got := c.Nodes(); got[len(got)-1] != (NodeState{0, 0}) {
		t.Fatalf("nodes %v", got)
	}
	if e, _ := c.QdevicePoll("dev", true, RingID{9, 9}); e != cs.ErrMessageError {
		t.Fatalf("poll with a stale ring: %v", e)
	}
	e, acts = c.QdevicePoll("dev", true, c.Ring())
	if e != cs.OK {
		t.Fatalf("poll: %v", e)
	}
	cl.deliver([]uint32{1, 2, 3}, 1, acts)
	if in := info(t, c); in.TotalVotes != 5 || in.Flags&(InfoQdeviceAlive|InfoQdeviceCastVote) != InfoQdeviceAlive|InfoQdeviceCastVote {
		t.Fatalf("casting: %+v", in)
	}
	// node 1 alone with its device: 1 + 2 = 3 of 5 votes -> quorate
	delete(cl.cores, 2)
	delete(cl.cores, 3)
	cl.seq += 4
	c.SyncInit([]uint32{1}, RingID{1, cl.seq})
	if done, _ := c.SyncProcess(); done {
		t.Fatal("sync_process done before the device polled the new ring")
	}
	e, acts = c.QdevicePoll("dev", true, c.Ring())
	if e != cs.OK || !slices.ContainsFunc(acts, func(a Action) bool { _, ok := a.(SyncReady); return ok }) {
		t.Fatalf("poll in sync: %v %v", e, acts)
	}
	c.SyncActivate()
	if !c.Quorate() {
		t.Fatalf("node with its device's votes: %+v", info(t, c))
	}
	// no poll for the timeout: contact lost, votes gone
	acts = c.Advance(2 * time.Second)
	cl.deliver([]uint32{1}, 1, acts)
	if c.Quorate() || info(t, c).Flags&InfoQdeviceAlive != 0 {
		t.Fatalf("after the poll timeout: %+v", info(t, c))
	}
}

func TestNodeInfoZeroFromUnknownSender(t *testing.T) {
	c, _, err := New(Config{NodeID: 1, Nodelist: nodelist(1, 2)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Deliver(2, Encode(NodeInfo{NodeID: 0, Votes: 1}), false); err == nil {
		t.Fatal("NODEINFO(0) from an unknown sender accepted")
	}
}
