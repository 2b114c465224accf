package syncengine

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

var all = []ServiceID{0, 2, 3, 5}

func fullOrder(svcs ...ServiceID) []string {
	var s []string
	for _, id := range svcs {
		s = append(s, fmt.Sprintf("%d/full", id))
	}
	return s
}

func TestFullSyncCompletes(t *testing.T) {
	for _, size := range []int{1, 3, 5} {
		for seed := uint64(1); seed <= 20; seed++ {
			t.Run(fmt.Sprintf("nodes=%d/seed=%d", size, seed), func(t *testing.T) {
				c := newCluster(t, seed, size, all...)
				var members []uint32
				for i := 1; i <= size; i++ {
					members = append(members, uint32(i))
					c.nodes[uint32(i)].daemons[2].delay = int(seed % 4) // some daemons take a few rotations
				}
				c.reconfigure(members...)
				c.run(2000)
				for _, id := range members {
					n := c.nodes[id]
					if got := n.activations(0); !reflect.DeepEqual(got, fullOrder(all...)) {
						t.Errorf("node %d activated %v, want %v", id, got, fullOrder(all...))
					}
					if !reflect.DeepEqual(n.completes, []RingID{c.ringID}) {
						t.Errorf("node %d completed %v, want once for %v", id, n.completes, c.ringID)
					}
					if n.eng.InProgress() {
						t.Errorf("node %d still in sync", id)
					}
					if n.trace[0] != "started" {
						t.Errorf("node %d: first callback %q, want started", id, n.trace[0])
					}
					if got := n.eng.ServiceMembers(3); !reflect.DeepEqual(got, members) {
						t.Errorf("node %d: service 3 members %v, want %v", id, got, members)
					}
				}
				c.checkNoOpenInits()
			})
		}
	}
}

// TestInitArguments checks sync_init's lists: transitional members filtered
// to the new ring, in the order given.
func TestInitArguments(t *testing.T) {
	c := newCluster(t, 1, 4, 2)
	c.reconfigure(1, 2, 3)
	c.run(1000)
	c.reconfigure(2, 3, 4) // 1 left, 4 joined
	c.run(1000)
	n := c.nodes[2]
	want := "init 2 full trans=[2 3] members=[2 3 4]"
	if i := n.lastIndex("init "); i < 0 || n.trace[i] != want {
		t.Fatalf("node 2 trace %q, want last init %q", n.trace, want)
	}
	if i := c.nodes[4].lastIndex("init "); c.nodes[4].trace[i] != "init 2 full trans=[4] members=[2 3 4]" {
		t.Fatalf("joiner got %q", c.nodes[4].trace[i])
	}
}

func TestRingChangeMidSyncAbortsAndRestarts(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 4, all...)
			c.nodes[3].daemons[2].delay = 40 // cpg on node 3 is slow: sync stalls there
			c.reconfigure(1, 2, 3, 4)
			c.runUntil(500, func() bool { return c.nodes[1].lastIndex("activate 0") >= 0 })
			if c.nodes[1].eng.Status().Service != 2 {
				t.Fatalf("node 1 not processing service 2: %+v", c.nodes[1].eng.Status())
			}
			old := c.ringID
			c.nodes[3].daemons[2].delay = 0
			c.reconfigure(1, 2, 4) // node 3 fails in the middle of the sync
			c.run(2000)
			for _, id := range c.ring {
				n := c.nodes[id]
				if n.aborts == 0 {
					t.Errorf("node %d: no abort", id)
				}
				if !reflect.DeepEqual(n.completes, []RingID{c.ringID}) {
					t.Errorf("node %d completed %v, want only %v (not %v)", id, n.completes, c.ringID, old)
				}
				// After the abort the new ring runs every service again.
				from := n.lastIndex("init 0")
				if got := n.activations(from); !reflect.DeepEqual(got, fullOrder(all...)) {
					t.Errorf("node %d activated %v after restart, want %v", id, got, fullOrder(all...))
				}
				if i := n.lastIndex("abort "); i < 0 || i > from {
					t.Errorf("node %d: no abort before the restart: %q", id, n.trace)
				}
			}
			c.checkNoOpenInits()
		})
	}
}

func TestRingChangeDuringBuildAborts(t *testing.T) {
	c := newCluster(t, 3, 3, all...)
	c.reconfigure(1, 2, 3)
	// Only the configuration changes are delivered: every node is waiting
	// for SERVICE_BUILDs when the next ring arrives.
	for _, n := range c.nodes {
		c.advance(n, len(c.log))
	}
	c.reconfigure(1, 2)
	c.run(1000)
	for _, id := range c.ring {
		n := c.nodes[id]
		// sync_init comes after the last SERVICE_BUILD: nobody was
		// initialised, so nobody is aborted.
		if n.aborts != 0 {
			t.Errorf("node %d: %d aborts, want none", id, n.aborts)
		}
		// The first ring never got its builds: its regular views came
		// at the next transitional one, everyone counted as attached.
		first := n.views[2][1]
		if first.Type != Regular || !reflect.DeepEqual(first.Members, []uint32{1, 2, 3}) || n.views[2][2].Type != Transitional {
			t.Errorf("node %d: views %+v", id, n.views[2])
		}
		if len(n.completes) != 1 || n.completes[0] != c.ringID {
			t.Errorf("node %d completes %v", id, n.completes)
		}
	}
	c.checkNoOpenInits()
}

func TestPeerAnnouncesExtraService(t *testing.T) {
	c := newCluster(t, 5, 0)
	c.addNode(1, DefaultAnnounce(), all...)
	c.addNode(2, DefaultAnnounce(), 0, 2) // no quorumd: placeholders for 3 and 5
	c.addNode(3, []ServiceID{0, 2, 3, 5, 7}, 0, 2, 3, 5, 4)
	c.reconfigure(1, 2, 3)
	c.run(2000)
	want := map[uint32][]string{
		1: fullOrder(0, 2, 3, 5),
		2: fullOrder(0, 2),
		3: fullOrder(0, 2, 3, 4, 5),
	}
	for id, w := range want {
		n := c.nodes[id]
		if got := n.activations(0); !reflect.DeepEqual(got, w) {
			t.Errorf("node %d activated %v, want %v", id, got, w)
		}
		if len(n.completes) != 1 {
			t.Errorf("node %d completed %d times", id, len(n.completes))
		}
	}
	// The union has six steps: every node sent six barriers.
	barriers := map[uint32]int{}
	for _, e := range c.log {
		if m, err := Decode(e.payload); e.group == "sync" && err == nil {
			if _, ok := m.(Barrier); ok {
				barriers[e.from]++
			}
		}
	}
	if !reflect.DeepEqual(barriers, map[uint32]int{1: 6, 2: 6, 3: 6}) {
		t.Errorf("barriers per node %v, want 6 each for [0 2 3 4 5 7]", barriers)
	}
	if got := c.nodes[1].eng.ServiceMembers(5); !reflect.DeepEqual(got, []uint32{1, 3}) {
		t.Errorf("service 5 members %v, want [1 3]", got)
	}
	c.checkNoOpenInits()
}

func TestSlowDaemonHoldsBarrier(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, all...)
			c.nodes[2].daemons[3].delay = 30
			c.reconfigure(1, 2, 3)
			c.run(3000)
			done := c.nodes[2].doneStep[3]
			for _, id := range c.ring {
				n := c.nodes[id]
				if n.actStep[3] < done {
					t.Errorf("node %d activated 3 at step %d, before node 2's daemon finished at %d", id, n.actStep[3], done)
				}
				if n.actStep[5] < n.actStep[3] {
					t.Errorf("node %d activated 5 before 3", id)
				}
				if len(n.completes) != 1 {
					t.Errorf("node %d: completes %v", id, n.completes)
				}
			}
			if done < 30 {
				t.Errorf("slow daemon finished at step %d, expected at least 30 visits", done)
			}
		})
	}
}

// TestStaleMessagesIgnored feeds one engine by hand: messages of another
// ring, or of an interrupted ring, change nothing.
func TestStaleMessagesIgnored(t *testing.T) {
	e, err := New(Config{Self: 1, Announce: []ServiceID{0}})
	if err != nil {
		t.Fatal(err)
	}
	r1, r2 := RingID{Rep: 1, Seq: 8}, RingID{Rep: 1, Seq: 12}
	must := func(a []Action, err error) []Action {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	build := func(r RingID) []byte {
		b, err := ServiceBuild{Ring: r, Services: []ServiceID{0}}.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	must(e.ConfChange(Regular, []uint32{1, 2}, r2))
	old := RingID{Rep: 1, Seq: 4}
	for _, p := range [][]byte{build(old), build(RingID{Rep: 2, Seq: 8}), Barrier{Ring: old}.Marshal(), build(RingID{})} {
		if a := must(e.Deliver(2, p)); a != nil {
			t.Fatalf("stale message gave actions %v", a)
		}
	}
	must(e.Deliver(1, build(r2)))
	if st := e.Status(); !st.Building {
		t.Fatalf("stale SERVICE_BUILD counted: %+v", st)
	}
	if got := e.Stats().Stale; got != 4 {
		t.Fatalf("stale count %d, want 4", got)
	}
	must(e.Deliver(2, build(r2)))
	if st := e.Status(); st.Building || st.Service != 0 {
		t.Fatalf("not processing service 0 after both builds: %+v", st)
	}
	// A transitional configuration invalidates the ring: its barriers are
	// now stale.
	must(e.ConfChange(Transitional, []uint32{1}, r1))
	if a := must(e.Deliver(2, Barrier{Ring: r2}.Marshal())); a != nil {
		t.Fatalf("barrier after transitional gave %v", a)
	}
	if got := e.Stats().Stale; got != 5 {
		t.Fatalf("stale count %d, want 5", got)
	}
	// Malformed and unknown messages.
	if _, err := e.Deliver(2, []byte{1, 2, 3}); err == nil {
		t.Fatal("short message accepted")
	}
	if _, err := e.Deliver(2, make([]byte, 16)); err == nil || e.Stats().Malformed != 2 {
		t.Fatalf("16-byte barrier accepted: %v %+v", err, e.Stats())
	}
	if a := must(e.Deliver(2, []byte{2, 0, 0, 0, 0, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0})); a != nil || e.Stats().Unknown != 1 {
		t.Fatalf("MEMB_DETERMINE not ignored: %v %+v", a, e.Stats())
	}
}

// TestEngineSteps walks one node through a whole two-node round by hand and
// checks every action, including the exact multicast bytes.
func TestEngineSteps(t *testing.T) {
	e, err := New(Config{Self: 1, Announce: []ServiceID{0, 2}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ServiceAttached(2); err != nil {
		t.Fatal(err)
	}
	ring := RingID{Rep: 1, Seq: 9}
	a, err := e.ConfChange(Transitional, []uint32{1}, RingID{Rep: 1, Seq: 5})
	wantTrans := []Action{
		ServiceConfChg{Service: 2, Conf: ConfChg{Type: Transitional, Ring: RingID{Rep: 1, Seq: 5}, RingMembers: []uint32{1}}},
		SyncStarted{Ring: RingID{Rep: 1, Seq: 5}},
	}
	if err != nil || !reflect.DeepEqual(a, wantTrans) {
		t.Fatalf("transitional: %#v %v", a, err)
	}
	a, err = e.ConfChange(Regular, []uint32{1, 2}, ring)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := ServiceSet{Ring: ring, Services: []ServiceID{2}}.Marshal()
	build, _ := ServiceBuild{Ring: ring, Services: []ServiceID{0, 2}}.Marshal()
	want := []Action{HoldDeliveries{}, Multicast{Payload: set}, Multicast{Payload: build}}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("regular:\n%#v\nwant\n%#v", a, want)
	}
	if a := e.TokenSent(); a != nil {
		t.Fatalf("worker ran before all builds: %v", a)
	}
	peerBuild, _ := ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 3, 5}}.Marshal()
	for _, d := range []struct {
		from uint32
		p    []byte
	}{{1, set}, {1, build}} {
		if a, err := e.Deliver(d.from, d.p); err != nil || a != nil {
			t.Fatalf("deliver: %v %v", a, err)
		}
	}
	// The last build: the regular view (node 2 sent no ServiceSet, so it
	// counts as attached), sync_init, then the held deliveries.
	a, err = e.Deliver(2, peerBuild)
	want = []Action{
		ServiceConfChg{Service: 2, Conf: ConfChg{Type: Regular, Ring: ring, Members: []uint32{1, 2},
			Joined: []uint32{1, 2}, RingMembers: []uint32{1, 2}}},
		InitService{Service: 2, Round: 1, Kind: FullRound, Ring: ring, Trans: []uint32{1}, Members: []uint32{1, 2}},
		ReleaseDeliveries{},
	}
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Fatalf("last build:\n%#v\nwant\n%#v", a, want)
	}
	barrier := Barrier{Ring: ring}.Marshal()
	steps := []struct {
		name string
		do   func() []Action
		want []Action
	}{
		{"placeholder 0 sends its barrier at once", e.TokenSent, []Action{Multicast{Payload: barrier}}},
		{"idle until barriers", e.TokenSent, nil},
		{"own barrier", func() []Action { a, _ := e.Deliver(1, barrier); return a }, nil},
		{"peer barrier ends step 0", func() []Action { a, _ := e.Deliver(2, barrier); return a }, nil},
		{"worker asks cpg", e.TokenSent, []Action{ProcessService{Service: 2, Round: 1}}},
		{"asked only once", e.TokenSent, nil},
		{"done for another round is ignored", func() []Action { return e.ServiceDone(2, 7) }, nil},
		{"done sends the barrier", func() []Action { return e.ServiceDone(2, 1) }, []Action{Multicast{Payload: barrier}}},
		{"duplicate done is ignored", func() []Action { return e.ServiceDone(2, 1) }, nil},
		{"peer barrier", func() []Action { a, _ := e.Deliver(2, barrier); return a }, nil},
		{"barrier from a non-member is not counted", func() []Action { a, _ := e.Deliver(9, barrier); return a }, nil},
		{"own barrier activates cpg", func() []Action { a, _ := e.Deliver(1, barrier); return a }, []Action{
			ActivateService{Service: 2, Round: 1, Kind: FullRound, Members: []uint32{1, 2}},
		}},
		{"placeholder 3", e.TokenSent, []Action{Multicast{Payload: barrier}}},
		{"step 3 done", func() []Action { e.Deliver(1, barrier); a, _ := e.Deliver(2, barrier); return a }, nil},
		{"placeholder 5", e.TokenSent, []Action{Multicast{Payload: barrier}}},
		{"complete", func() []Action { e.Deliver(2, barrier); a, _ := e.Deliver(1, barrier); return a }, []Action{SyncComplete{Ring: ring}}},
	}
	for _, s := range steps {
		if got := s.do(); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("%s:\n%#v\nwant\n%#v", s.name, got, s.want)
		}
	}
	if e.InProgress() || e.Status().Active {
		t.Fatalf("still syncing: %+v", e.Status())
	}
	// Node 2 sent no ServiceSet: it counts as a corosync node, attached to
	// every service.
	if got := e.ServiceMembers(5); !reflect.DeepEqual(got, []uint32{2}) {
		t.Fatalf("service 5 members %v, want [2]", got)
	}
}

func TestEmptyServiceListCompletesAtOnce(t *testing.T) {
	e, err := New(Config{Self: 1})
	if err != nil {
		t.Fatal(err)
	}
	ring := RingID{Rep: 1, Seq: 4}
	if _, err := e.ConfChange(Regular, []uint32{1}, ring); err != nil {
		t.Fatal(err)
	}
	set, _ := ServiceSet{Ring: ring}.Marshal()
	build, _ := ServiceBuild{Ring: ring}.Marshal()
	e.Deliver(1, set)
	a, err := e.Deliver(1, build)
	if err != nil || !reflect.DeepEqual(a, []Action{ReleaseDeliveries{}, SyncComplete{Ring: ring}}) {
		t.Fatalf("got %v %v, want SyncComplete", a, err)
	}
}

func TestBadEvents(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("Self 0 accepted")
	}
	if _, err := New(Config{Self: 1, Announce: make([]ServiceID, 200)}); err != nil {
		t.Errorf("200 copies of id 0 are one service: %v", err)
	}
	e, _ := New(Config{Self: 1})
	if _, err := e.ConfChange(Regular, []uint32{1}, RingID{}); err == nil {
		t.Error("zero ring accepted")
	}
	if _, err := e.ConfChange(Regular, []uint32{2, 3}, RingID{Rep: 2, Seq: 4}); err == nil {
		t.Error("ring without this node accepted")
	}
	if _, err := e.ConfChange(ConfType(9), nil, RingID{}); err == nil {
		t.Error("unknown configuration type accepted")
	}
	if _, err := e.ServiceDetached(2); err == nil {
		t.Error("detach without attach accepted")
	}
	if _, err := e.ServiceAttached(2); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ServiceAttached(2); err == nil {
		t.Error("double attach accepted")
	}
	if a := e.ServiceDone(2, 1); a != nil || e.Stats().StaleDone != 1 {
		t.Errorf("done while idle: %v %+v", a, e.Stats())
	}
}

// ids of nodes that activated svc last with the given kind.
func lastActivation(n *tnode, svc ServiceID) string {
	i := n.lastIndex(fmt.Sprintf("activate %d ", svc))
	if i < 0 {
		return ""
	}
	return n.trace[i]
}

func TestServiceRoundOnDetachAndAttach(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, all...)
			c.reconfigure(1, 2, 3)
			c.run(2000)
			mark := map[uint32]int{}
			for id, n := range c.nodes {
				mark[id] = len(n.trace)
			}
			c.detach(c.nodes[2], 2) // cpgd on node 2 stops
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				n := c.nodes[id]
				got := n.trace[mark[id]:]
				want := []string{"init 2 service trans=[1 3] members=[1 3]", "activate 2 service members=[1 3]"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after detach: %q, want %q", id, got, want)
				}
			}
			if got := c.nodes[2].trace[mark[2]:]; len(got) != 0 {
				t.Errorf("node 2 (detached) got callbacks %q", got)
			}
			for id, n := range c.nodes {
				mark[id] = len(n.trace)
				if got := n.eng.ServiceMembers(2); !reflect.DeepEqual(got, []uint32{1, 3}) {
					t.Errorf("node %d: cpg members %v", id, got)
				}
			}
			c.attach(c.nodes[2], 2) // cpgd comes back
			c.run(2000)
			for id, n := range c.nodes {
				got := n.trace[mark[id]:]
				want := []string{"init 2 service trans=[1 3] members=[1 2 3]", "activate 2 service members=[1 2 3]"}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after attach: %q, want %q", id, got, want)
				}
				if len(n.completes) != 1 || n.eng.InProgress() {
					t.Errorf("node %d: a per-service round touched sync in progress: %v", id, n.completes)
				}
			}
			c.checkNoOpenInits()
		})
	}
}

// TestServiceChangeDuringFullSync detaches a daemon while it is being
// processed in a full round: it becomes a placeholder at once and its
// per-service round runs after the full round.
func TestServiceChangeDuringFullSync(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, all...)
			c.nodes[3].daemons[2].delay = 1000 // would hold the barrier for ever
			c.reconfigure(1, 2, 3)
			c.runUntil(500, func() bool { return c.nodes[3].eng.Status().Service == 2 && c.nodes[3].daemons[2].left > 0 })
			c.detach(c.nodes[3], 2)
			c.attach(c.nodes[1], 4) // a new service on node 1, also deferred
			c.run(3000)
			for _, id := range c.ring {
				n := c.nodes[id]
				if len(n.completes) != 1 {
					t.Fatalf("node %d completes %v", id, n.completes)
				}
				done := n.lastIndex("complete")
				if got := n.trace[done+1:]; id != 3 && !slices.Contains(got, "activate 2 service members=[1 2]") {
					t.Errorf("node %d after full round: %q", id, got)
				}
				if got := n.eng.ServiceMembers(2); !reflect.DeepEqual(got, []uint32{1, 2}) {
					t.Errorf("node %d: cpg members %v", id, got)
				}
				if got := n.eng.ServiceMembers(4); !reflect.DeepEqual(got, []uint32{1}) {
					t.Errorf("node %d: service 4 members %v", id, got)
				}
			}
			if got := lastActivation(c.nodes[1], 4); got != "activate 4 service members=[1]" {
				t.Errorf("node 1: %q", got)
			}
			if i := c.nodes[3].lastIndex("activate 2"); i >= 0 && i > c.nodes[3].lastIndex("init 0") {
				t.Errorf("node 3 activated detached cpg: %q", c.nodes[3].trace)
			}
			c.checkNoOpenInits()
		})
	}
}

// TestMixedRing puts a node that behaves like corosync 3.1.7 on the wire
// (needle ids never sent nor seen) in the ring: the full round completes
// for everybody, and a per-service round runs among the needle nodes only,
// with the corosync node counted as attached.
func TestMixedRing(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, all...)
			c.nodes[2].corosync = true
			c.reconfigure(1, 2, 3)
			c.run(2000)
			for id, n := range c.nodes {
				if got := n.activations(0); !reflect.DeepEqual(got, fullOrder(all...)) {
					t.Errorf("node %d activated %v", id, got)
				}
			}
			c.detach(c.nodes[3], 5)
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				if got := c.nodes[id].eng.ServiceMembers(5); !reflect.DeepEqual(got, []uint32{1, 2}) {
					t.Errorf("node %d: votequorum members %v, want [1 2]", id, got)
				}
			}
			if got := lastActivation(c.nodes[1], 5); got != "activate 5 service members=[1 2]" {
				t.Errorf("node 1: %q", got)
			}
			if got := c.nodes[2].activations(0); len(got) != 4 {
				t.Errorf("corosync node ran a per-service round: %v", got)
			}
			c.checkNoOpenInits()
		})
	}
}

// TestMixedRingAttachAsksForNewRing: in a ring with a corosync node, a
// daemon that attaches for a service the corosync node runs gets no
// per-service round (the corosync node would not re-send its sync state
// in it): every needle node drops the change alike, the node that
// attached asks for a new ring, and that ring's full round brings the
// daemon in. A service the corosync node does not run keeps its
// per-service round.
func TestMixedRingAttachAsksForNewRing(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, all...)
			c.nodes[2].corosync = true
			c.reconfigure(1, 2, 3)
			c.run(2000)
			c.detach(c.nodes[3], 5) // quorumd on node 3 stops
			c.run(2000)
			mark := map[uint32]int{}
			for id, n := range c.nodes {
				mark[id] = len(n.trace)
			}
			c.attach(c.nodes[3], 5) // and comes back
			c.attach(c.nodes[3], 9) // a service corosync does not run
			c.run(2000)
			// Nodes 1 and 2 run no daemon for service 9; the corosync node
			// counts as attached to it.
			want := map[uint32][]string{
				3: {"new ring for 5", "init 9 service trans=[2] members=[2 3]", "activate 9 service members=[2 3]"},
			}
			for id, n := range c.nodes {
				got := n.trace[mark[id]:]
				if len(got)+len(want[id]) > 0 && !reflect.DeepEqual(got, want[id]) {
					t.Errorf("node %d after the attachments: %q, want %q", id, got, want[id])
				}
			}
			for _, id := range []uint32{1, 3} {
				if got := c.nodes[id].eng.ServiceMembers(5); !reflect.DeepEqual(got, []uint32{1, 2}) {
					t.Errorf("node %d: votequorum members %v before the new ring, want [1 2]", id, got)
				}
			}
			c.reconfigure(1, 2, 3) // the ring the driver forms on NewRing
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				n := c.nodes[id]
				if got := n.eng.ServiceMembers(5); !reflect.DeepEqual(got, []uint32{1, 2, 3}) {
					t.Errorf("node %d: votequorum members %v after the new ring, want [1 2 3]", id, got)
				}
			}
			if got := lastActivation(c.nodes[3], 5); got != "activate 5 full members=[1 2 3]" {
				t.Errorf("node 3: %q", got)
			}
			c.checkNoOpenInits()
		})
	}
}

// TestServiceRoundAbortedByRingChange interrupts a per-service round.
func TestServiceRoundAbortedByRingChange(t *testing.T) {
	c := newCluster(t, 9, 3, all...)
	c.reconfigure(1, 2, 3)
	c.run(2000)
	c.nodes[1].daemons[2].delay = 50
	c.detach(c.nodes[3], 2)
	c.runUntil(500, func() bool { return c.nodes[1].daemons[2].left > 0 })
	c.reconfigure(1, 2)
	c.run(3000)
	n := c.nodes[1]
	if n.lastIndex("abort 2") < 0 || n.lastIndex("abort 2") > n.lastIndex("init 0") {
		t.Fatalf("node 1: no abort of the per-service round before the new full round: %q", n.trace)
	}
	for _, id := range c.ring {
		if got := c.nodes[id].eng.ServiceMembers(2); !reflect.DeepEqual(got, []uint32{1, 2}) {
			t.Errorf("node %d: cpg members %v", id, got)
		}
	}
	c.checkNoOpenInits()
}

// TestTransFilteredToMembers: sync_init gets the saved transitional list
// filtered to the new ring, in transitional order.
func TestTransFilteredToMembers(t *testing.T) {
	e, _ := New(Config{Self: 3})
	if _, err := e.ServiceAttached(0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ConfChange(Transitional, []uint32{5, 3, 1, 2}, RingID{Rep: 1, Seq: 4}); err != nil {
		t.Fatal(err)
	}
	ring := RingID{Rep: 1, Seq: 8}
	if _, err := e.ConfChange(Regular, []uint32{1, 3, 4, 5}, ring); err != nil {
		t.Fatal(err)
	}
	set, _ := ServiceSet{Ring: ring, Services: []ServiceID{0}}.Marshal()
	build, _ := ServiceBuild{Ring: ring, Services: []ServiceID{0}}.Marshal()
	var a []Action
	for _, d := range []struct {
		from uint32
		p    []byte
	}{{3, set}, {3, build}, {1, build}, {4, build}, {5, build}} {
		got, err := e.Deliver(d.from, d.p)
		if err != nil {
			t.Fatal(err)
		}
		a = append(a, got...)
	}
	i := slices.IndexFunc(a, func(x Action) bool { _, ok := x.(InitService); return ok })
	if i < 0 {
		t.Fatalf("no InitService in %#v", a)
	}
	init := a[i].(InitService)
	if !reflect.DeepEqual(init.Trans, []uint32{5, 3, 1}) || !reflect.DeepEqual(init.Members, []uint32{1, 3, 4, 5}) {
		t.Fatalf("got %#v, want trans [5 3 1] members [1 3 4 5]", init)
	}
}

// lastViews returns the last n views node id's daemon for svc saw, as
// "type members left joined" strings.
func lastViews(c *cluster, id uint32, svc ServiceID, n int) []string {
	vs := c.nodes[uint32(id)].views[svc]
	var out []string
	for _, v := range vs[max(len(vs)-n, 0):] {
		out = append(out, fmt.Sprintf("%s %v left=%v joined=%v ring=%v", v.Type, v.Members, v.Left, v.Joined, v.RingMembers))
	}
	return out
}

// TestServiceViewsFollowAttachDetach: a daemon attaching on node 2 gives
// every attached daemon (node 2's own included) a configuration change
// with node 2 joined; its detach gives one with node 2 left. Views and
// messages are the same sequence everywhere (checkViews in run).
func TestServiceViewsFollowAttachDetach(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, 0)
			c.attach(c.nodes[1], 2)
			c.attach(c.nodes[3], 2)
			c.reconfigure(1, 2, 3)
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				want := []string{"regular [1 3] left=[] joined=[1 3] ring=[1 2 3]"}
				if got := lastViews(c, id, 2, 1); !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after the ring formed: %q, want %q", id, got, want)
				}
			}
			c.attach(c.nodes[2], 2)
			c.run(2000)
			for _, id := range []uint32{1, 2, 3} {
				want := []string{"transitional [1 3] left=[] joined=[] ring=[1 2 3]", "regular [1 2 3] left=[] joined=[2] ring=[1 2 3]"}
				if got := lastViews(c, id, 2, 2); !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after node 2 attached: %q, want %q", id, got, want)
				}
				if i := c.nodes[id].lastIndex("init 2 "); i < 0 || !strings.HasPrefix(c.nodes[id].trace[i], "init 2 service ") {
					t.Errorf("node %d: the attach round is not flagged a service round: %q", id, c.nodes[id].trace)
				}
			}
			if got := lastViews(c, 2, 0, 1); len(got) != 1 || got[0] != "regular [1 2 3] left=[] joined=[1 2 3] ring=[1 2 3]" {
				t.Errorf("node 2's cmap saw %q: another service's view must not change", got)
			}
			c.detach(c.nodes[2], 2)
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				want := []string{"transitional [1 3] left=[2] joined=[] ring=[1 2 3]", "regular [1 3] left=[] joined=[] ring=[1 2 3]"}
				if got := lastViews(c, id, 2, 2); !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after node 2 detached: %q, want %q", id, got, want)
				}
			}
			c.reconfigure(1, 3) // node 2 leaves the ring too: nothing changes for cpg but the ring
			c.run(2000)
			for _, id := range []uint32{1, 3} {
				want := []string{"transitional [1 3] left=[] joined=[] ring=[1 3]", "regular [1 3] left=[] joined=[] ring=[1 3]"}
				if got := lastViews(c, id, 2, 2); !reflect.DeepEqual(got, want) {
					t.Errorf("node %d after node 2 left the ring: %q, want %q", id, got, want)
				}
			}
			c.checkNoOpenInits()
		})
	}
}

// TestCorosyncNodeCountsAsAttached: a member that sends no ServiceSet (a
// corosync 3.1.7 node) is in every service's membership, with or without
// anything like a daemon.
func TestCorosyncNodeCountsAsAttached(t *testing.T) {
	c := newCluster(t, 4, 3)
	c.attach(c.nodes[1], 2)
	c.attach(c.nodes[2], 2)
	c.nodes[3].corosync = true
	c.reconfigure(1, 2, 3)
	c.run(2000)
	for _, id := range []uint32{1, 2} {
		want := []string{"regular [1 2 3] left=[] joined=[1 2 3] ring=[1 2 3]"}
		if got := lastViews(c, id, 2, 1); !reflect.DeepEqual(got, want) {
			t.Errorf("node %d: %q, want %q", id, got, want)
		}
		if got := c.nodes[id].eng.ServiceMembers(9); !reflect.DeepEqual(got, []uint32{3}) {
			t.Errorf("node %d: members of a service nobody runs: %v, want the corosync node", id, got)
		}
	}
	c.detach(c.nodes[2], 2)
	c.run(2000)
	want := []string{"transitional [1 3] left=[2] joined=[] ring=[1 2 3]", "regular [1 3] left=[] joined=[] ring=[1 2 3]"}
	if got := lastViews(c, 1, 2, 2); !reflect.DeepEqual(got, want) {
		t.Errorf("node 1 after node 2 detached: %q, want %q", got, want)
	}
}

// TestDeliveriesHeldUntilRegularView: a service message delivered after
// the regular configuration but before the last SERVICE_BUILD reaches the
// daemons after the new ring's regular view, on every node.
func TestDeliveriesHeldUntilRegularView(t *testing.T) {
	for seed := uint64(1); seed <= 10; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			c := newCluster(t, seed, 3, 2)
			c.reconfigure(1, 2)
			c.run(2000)
			c.reconfigure(1, 2, 3)
			early := "svc 2 from 1 round 99"
			c.log = append(c.log, logEntry{from: 1, group: "a", payload: []byte(early), dest: []uint32{1, 2, 3}})
			c.run(2000)
			for _, id := range []uint32{1, 2, 3} {
				seg := c.nodes[id].segs[2][c.ringID]
				if len(seg) < 2 || !strings.HasPrefix(seg[0], "regular ") || seg[1] != early {
					t.Errorf("node %d saw %q, want the regular view then %q", id, seg, early)
				}
			}
		})
	}
}

// TestInitKindFlagsRound: sync_init says whether a round is a full ring
// round or a service round.
func TestInitKindFlagsRound(t *testing.T) {
	c := newCluster(t, 1, 2, 2)
	c.reconfigure(1, 2)
	c.run(1000)
	n := c.nodes[1]
	if i := n.lastIndex("init 2 "); i < 0 || n.trace[i] != "init 2 full trans=[1] members=[1 2]" {
		t.Fatalf("full round init: %q", n.trace)
	}
	c.detach(c.nodes[2], 2)
	c.run(1000)
	if i := n.lastIndex("init 2 "); n.trace[i] != "init 2 service trans=[1] members=[1]" {
		t.Fatalf("service round init: %q", n.trace[i])
	}
}
