package vq

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// TestSnapshotCoversCore lists every field of the core's state types as
// the snapshot knows them: a field added to one of them fails here until
// Snapshot and Restore carry it (and snapshotVersion is bumped), or it is
// listed as state a quiet core never holds.
func TestSnapshotCoversCore(t *testing.T) {
	known := map[reflect.Type]string{
		// Not encoded: qdevRegPending, syncInProgress,
		// syncProcessWaiting, sent, out (none while quiet); now (the
		// successor's clock); recalc (what the last recalculation saw,
		// LastRecalc: not state); logLevel (the successor's Config).
		reflect.TypeFor[Core](): "id us qdev list records quorum quorate members prevMembers ring lowest highest " +
			"twoNode wfa wfaStatus wfaAutoset atb initialATB atbList lms lmsWindow allowDownscale evBarrier evTracking evTrackingBarrier " +
			"qdevName qdevTimeout qdevSyncTimeout qdevCanOperate qdevRegPending qdevMasterWins syncInProgress syncNodeinfoSent " +
			"syncWaitPoll syncProcessWaiting now lmsTimer qdevTimer sent out recalc logLevel",
		reflect.TypeFor[node]():   "id state votes expected flags",
		reflect.TypeFor[timer]():  "set at",
		reflect.TypeFor[RingID](): "NodeID Seq",
	}
	for typ, want := range known {
		var got []string
		for f := range typ.Fields() {
			got = append(got, f.Name)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%v has fields %v; the snapshot knows %s", typ, got, want)
		}
	}
}

// twin is one node's core and the cores restored from its snapshots,
// each with its clock's offset: every input goes to all of them, and
// every output and snapshot must be the same.
type twin struct {
	cores []*Core
	off   []time.Duration
}

// hsim drives cores of a small cluster with random histories: partitions
// and merges with corosync's barrier, messages held and delivered later,
// the administrator's requests, a quorum device, reloads and time, and
// hands nodes over at random quiet moments.
type hsim struct {
	t      testing.TB
	r      *rand.Rand
	cfgs   map[uint32]Config
	nodes  map[uint32]*twin
	parts  [][]uint32
	queue  map[int][]hmsg // per partition, not yet delivered
	now    time.Duration
	seq    uint64
	device bool
	// handovers counts the restores made, compared the inputs fed to
	// more than one core.
	handovers, compared int
	log                 []string
}

type hmsg struct {
	from uint32
	b    []byte
}

// newHsim draws a configuration; nil when New refuses it.
func newHsim(t testing.TB, seed uint64) *hsim {
	r := rand.New(rand.NewPCG(seed, 0x68616e64))
	s := &hsim{t: t, r: r, cfgs: map[uint32]Config{}, nodes: map[uint32]*twin{}, queue: map[int][]hmsg{}}
	n := 2 + r.IntN(4)
	base := Config{}
	for i := range n {
		v := uint32(1)
		if r.IntN(5) == 0 {
			v = 2
		}
		base.Nodelist = append(base.Nodelist, NodelistEntry{NodeID: uint32(i + 1), Votes: v})
	}
	base.TwoNode = n == 2 && r.IntN(2) == 0
	base.WaitForAll, base.WaitForAllSet = r.IntN(2) == 0, r.IntN(2) == 0
	base.LastManStanding = r.IntN(3) == 0
	base.LastManStandingWindow = time.Duration(1+r.IntN(5)) * time.Second
	base.AutoTieBreaker = r.IntN(3) == 0
	base.AutoTieBreakerNode = []string{"", "highest", "2 1", "3"}[r.IntN(4)]
	base.AllowDownscale = r.IntN(5) == 0
	base.ExpectedVotesTracking = r.IntN(4) == 0
	if r.IntN(3) == 0 {
		base.ExpectedVotes = uint32(1 + r.IntN(2*n))
	}
	if r.IntN(2) == 0 {
		s.device = true
		base.Device = &DeviceConfig{Model: "net", Timeout: time.Duration(1+r.IntN(3)) * time.Second, SyncTimeout: 4 * time.Second}
		if base.ExpectedVotes != 0 || r.IntN(2) == 0 {
			base.Device.Votes, base.Device.VotesSet = 1, true
		}
	}
	for i, e := range base.Nodelist {
		cfg := base
		cfg.NodeID, cfg.LocalPos = e.NodeID, i
		c, acts, err := New(cfg)
		if err != nil {
			return nil
		}
		s.cfgs[e.NodeID] = cfg
		s.nodes[e.NodeID] = &twin{cores: []*Core{c}, off: []time.Duration{0}}
		s.parts = append(s.parts, []uint32{e.NodeID})
		s.sent(len(s.parts)-1, e.NodeID, acts)
	}
	for p := range s.parts {
		s.ring(p)
	}
	return s
}

func (s *hsim) logf(format string, a ...any) {
	s.log = append(s.log, fmt.Sprintf("t=%v ", s.now)+fmt.Sprintf(format, a...))
}

func (s *hsim) fatalf(format string, a ...any) {
	s.t.Helper()
	s.t.Fatalf("%s\nhistory:\n%s", fmt.Sprintf(format, a...), strings.Join(s.log, "\n"))
}

// do feeds one input to every core of node id and checks they answer
// alike; it returns the first core's actions.
func (s *hsim) do(id uint32, what string, f func(c *Core, off time.Duration) []Action) []Action {
	s.t.Helper()
	tw := s.nodes[id]
	var first []Action
	for i, c := range tw.cores {
		acts := f(c, tw.off[i])
		if i == 0 {
			first = acts
			continue
		}
		s.compared++
		if !reflect.DeepEqual(acts, first) {
			s.fatalf("node %d, %s: core restored %d times acts\n%#v\nthe original\n%#v", id, what, i, acts, first)
		}
	}
	return first
}

func (s *hsim) partOf(id uint32) int {
	for p, m := range s.parts {
		if slices.Contains(m, id) {
			return p
		}
	}
	return -1
}

// sent queues the multicasts of acts in partition p.
func (s *hsim) sent(p int, from uint32, acts []Action) {
	for _, a := range acts {
		if m, ok := a.(Mcast); ok {
			s.queue[p] = append(s.queue[p], hmsg{from, m.Payload})
		}
	}
}

// deliver delivers up to n queued messages of partition p (n < 0: until
// none is left).
func (s *hsim) deliver(p, n int) {
	for i := 0; (n < 0 || i < n) && len(s.queue[p]) > 0; i++ {
		if i > 1000 {
			s.fatalf("multicasts do not settle")
		}
		m := s.queue[p][0]
		s.queue[p] = s.queue[p][1:]
		for _, id := range s.parts[p] {
			acts := s.do(id, fmt.Sprintf("deliver from %d", m.from), func(c *Core, _ time.Duration) []Action {
				acts, err := c.Deliver(m.from, m.b, false)
				if err != nil {
					return []Action{Log{Msg: "error: " + err.Error()}}
				}
				return acts
			})
			s.sent(p, id, acts)
		}
	}
}

// ring syncs partition p with corosync's barrier; the devices poll the
// new ring in the middle of it.
func (s *hsim) ring(p int) {
	s.deliver(p, -1)
	members := s.parts[p]
	if len(members) == 0 {
		return
	}
	s.seq += 4
	ring := RingID{NodeID: slices.Min(members), Seq: s.seq}
	s.logf("ring %v %v", ring, members)
	for _, id := range members {
		s.do(id, "sync init", func(c *Core, _ time.Duration) []Action { return c.SyncInit(slices.Clone(members), ring) })
	}
	for _, id := range members {
		s.sent(p, id, s.do(id, "sync process", func(c *Core, _ time.Duration) []Action {
			done, acts := c.SyncProcess()
			return append(acts, Log{Msg: fmt.Sprint("done ", done)})
		}))
	}
	s.deliver(p, -1)
	for _, id := range members {
		if s.r.IntN(4) != 0 {
			s.poll(id, s.r.IntN(2) == 0)
		}
	}
	s.deliver(p, -1)
	for _, id := range members {
		s.sent(p, id, s.do(id, "sync activate", func(c *Core, _ time.Duration) []Action { return c.SyncActivate() }))
	}
	// held for a later step, unless a ring change comes first
}

func (s *hsim) core(id uint32) *Core { return s.nodes[id].cores[0] }

func (s *hsim) poll(id uint32, cast bool) {
	ring := s.core(id).Ring()
	if s.r.IntN(8) == 0 {
		ring.Seq++ // a stale poll
	}
	s.sent(s.partOf(id), id, s.do(id, "poll", func(c *Core, _ time.Duration) []Action {
		e, acts := c.QdevicePoll("dev", cast, ring)
		return append(acts, Log{Msg: fmt.Sprint(int(e))})
	}))
}

// status appends a request's answer to its actions, for comparison.
func status(e cs.Error, acts []Action) []Action { return append(acts, Log{Msg: fmt.Sprint(int(e))}) }

func (s *hsim) step() {
	r := s.r
	pick := func() (uint32, int) {
		p := r.IntN(len(s.parts))
		return s.parts[p][r.IntN(len(s.parts[p]))], p
	}
	id, p := pick()
	switch k := r.IntN(20); {
	case k < 2 && len(s.parts[p]) > 1: // split
		m := s.parts[p]
		cut := 1 + r.IntN(len(m)-1)
		s.deliver(p, -1)
		s.parts[p] = slices.Clone(m[:cut])
		s.parts = append(s.parts, slices.Clone(m[cut:]))
		s.logf("split %v", m)
		s.ring(p)
		s.ring(len(s.parts) - 1)
	case k < 4 && len(s.parts) > 1: // merge
		q := r.IntN(len(s.parts))
		if q == p {
			return
		}
		for i := range s.parts {
			s.deliver(i, -1)
		}
		s.logf("merge %v %v", s.parts[p], s.parts[q])
		s.parts[p] = append(s.parts[p], s.parts[q]...)
		slices.Sort(s.parts[p])
		s.parts = slices.Delete(s.parts, q, q+1)
		s.queue = map[int][]hmsg{}
		s.ring(min(p, q))
	case k < 7:
		s.deliver(p, r.IntN(4))
	case k < 8:
		n := uint32(1 + r.IntN(8))
		s.logf("setexpected %d on %d", n, id)
		s.sent(p, id, s.do(id, "setexpected", func(c *Core, _ time.Duration) []Action { return status(c.SetExpected(n)) }))
	case k < 9:
		target, v := uint32(r.IntN(len(s.cfgs)+1)), uint32(r.IntN(3))
		s.logf("setvotes %d %d on %d", target, v, id)
		s.sent(p, id, s.do(id, "setvotes", func(c *Core, _ time.Duration) []Action { return status(c.SetVotes(target, v)) }))
	case k < 11 && s.device:
		name := []string{"dev", "dev", "other"}[r.IntN(3)]
		s.logf("qdevice register %s on %d", name, id)
		s.sent(p, id, s.do(id, "register", func(c *Core, _ time.Duration) []Action {
			e, pending, acts := c.QdeviceRegister(name)
			return append(status(e, acts), Log{Msg: fmt.Sprint("pending ", pending)})
		}))
	case k < 13 && s.device:
		s.logf("poll on %d", id)
		s.poll(id, r.IntN(3) != 0)
	case k < 14 && s.device:
		allow := r.IntN(2) == 0
		s.sent(p, id, s.do(id, "master_wins", func(c *Core, _ time.Duration) []Action { return status(c.QdeviceMasterWins("dev", allow)) }))
	case k < 15 && s.device && r.IntN(3) == 0:
		s.logf("unregister on %d", id)
		s.sent(p, id, s.do(id, "unregister", func(c *Core, _ time.Duration) []Action { return status(c.QdeviceUnregister("dev")) }))
	case k < 16 && r.IntN(3) == 0:
		cfg := s.cfgs[id]
		cfg.ExpectedVotes = uint32(r.IntN(8))
		cfg.TwoNode = r.IntN(2) == 0
		s.logf("reload on %d: expected %d two_node %v", id, cfg.ExpectedVotes, cfg.TwoNode)
		s.sent(p, id, s.do(id, "reload", func(c *Core, _ time.Duration) []Action { return c.Reload(cfg) }))
	case k < 17 && r.IntN(3) == 0:
		s.sent(p, id, s.do(id, "cancel wfa", func(c *Core, _ time.Duration) []Action { return c.CancelWaitForAll() }))
	case k < 18:
		s.handOver(id)
	default:
		s.now += time.Duration(r.IntN(2500)) * time.Millisecond
		s.logf("advance to %v", s.now)
		for q, m := range s.parts {
			for _, id := range m {
				s.sent(q, id, s.do(id, "advance", func(c *Core, off time.Duration) []Action { return c.Advance(s.now + off) }))
			}
		}
	}
	s.same()
}

// handOver restores node id's newest core, if quiet, on a clock some
// seconds ahead; sometimes the original then stops being fed.
func (s *hsim) handOver(id uint32) {
	tw := s.nodes[id]
	last := tw.cores[len(tw.cores)-1]
	if ok, _ := last.Quiet(); !ok {
		return
	}
	b, err := last.Snapshot()
	if err != nil {
		s.fatalf("node %d: snapshot of a quiet core: %v", id, err)
	}
	off := tw.off[len(tw.off)-1] + time.Duration(s.r.IntN(5000))*time.Millisecond
	c, err := Restore(s.cfgs[id], b, s.now+off)
	if err != nil {
		s.fatalf("node %d: restore: %v", id, err)
	}
	again, err := c.Snapshot()
	if err != nil || !bytes.Equal(again, b) {
		s.fatalf("node %d: restored core snapshots differently (%v)", id, err)
	}
	s.handovers++
	s.logf("hand over %d", id)
	tw.cores, tw.off = append(tw.cores, c), append(tw.off, off)
	if len(tw.cores) > 3 {
		tw.cores, tw.off = tw.cores[1:], tw.off[1:]
	}
}

// same checks each node's cores hold the same state: queries, deadlines
// on their clocks, quiet or not and, when quiet, their snapshots.
func (s *hsim) same() {
	for id, tw := range s.nodes {
		a := tw.cores[0]
		qa, why := a.Quiet()
		var snap []byte
		if qa {
			var err error
			if snap, err = a.Snapshot(); err != nil {
				s.fatalf("node %d: %v", id, err)
			}
		}
		ia, _ := a.Info(0)
		da, oka := a.NextDeadline()
		for i, b := range tw.cores[1:] {
			ib, _ := b.Info(0)
			db, okb := b.NextDeadline()
			qb, whyb := b.Quiet()
			if ia != ib || a.Quorate() != b.Quorate() || !slices.Equal(a.Nodes(), b.Nodes()) || !slices.Equal(a.Members(), b.Members()) ||
				oka != okb || (oka && da-tw.off[0] != db-tw.off[i+1]) || qa != qb || why != whyb {
				s.fatalf("node %d: restored core differs: %+v %v %v %v vs %+v %v %v %v", id, ib, db, okb, whyb, ia, da, oka, why)
			}
			if qa {
				if sb, err := b.Snapshot(); err != nil || !bytes.Equal(sb, snap) {
					s.fatalf("node %d: restored core's snapshot differs (%v)", id, err)
				}
			}
		}
	}
}

// TestRestoredCoreIsTheSame is the differential test: random histories in
// which nodes are handed over at quiet moments, with messages of others
// still on their way to them and timers armed; the original and the
// restored cores (on clocks seconds apart) are fed the same inputs from
// there and must give the same actions, answers, deadlines and snapshots.
func TestRestoredCoreIsTheSame(t *testing.T) {
	var runs, handovers, compared int
	for seed := uint64(1); seed <= 400; seed++ {
		s := newHsim(t, seed)
		if s == nil {
			continue
		}
		runs++
		for range 300 {
			s.step()
		}
		handovers += s.handovers
		compared += s.compared
	}
	t.Logf("%d histories, %d handovers, %d inputs compared", runs, handovers, compared)
	if runs < 200 || handovers < 1000 || compared < 10000 {
		t.Errorf("coverage lost: %d histories, %d handovers, %d inputs compared", runs, handovers, compared)
	}
}

// richCore is a quiet node 1 full of state: a registered, polling device
// with master_wins, a timer armed, features on, peers known.
func richCore(t testing.TB) (*Core, Config) {
	cfg := Config{NodeID: 1, Nodelist: nodelist(1, 2, 3), WaitForAll: true, WaitForAllSet: true,
		Device: &DeviceConfig{Model: "net", Votes: 2, VotesSet: true, Timeout: 3 * time.Second, SyncTimeout: 5 * time.Second}}
	c, acts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deliverOwn := func(acts []Action) {
		for len(acts) > 0 {
			var more []Action
			for _, a := range acts {
				if m, ok := a.(Mcast); ok {
					x, err := c.Deliver(1, m.Payload, false)
					if err != nil {
						t.Fatal(err)
					}
					more = append(more, x...)
				}
			}
			acts = more
		}
	}
	deliverOwn(acts)
	c.Advance(time.Second)
	c.SyncInit([]uint32{1, 2, 3}, RingID{1, 8})
	_, acts = c.SyncProcess()
	deliverOwn(acts)
	for _, id := range []uint32{2, 3} {
		if _, err := c.Deliver(id, Encode(NodeInfo{NodeID: id, Votes: 1, ExpectedVotes: 5, Flags: FlagQuorate}), false); err != nil {
			t.Fatal(err)
		}
	}
	deliverOwn(c.SyncActivate())
	_, _, acts = c.QdeviceRegister("dev")
	deliverOwn(acts)
	_, acts = c.QdevicePoll("dev", true, c.Ring())
	deliverOwn(acts)
	_, acts = c.QdeviceMasterWins("dev", true)
	deliverOwn(acts)
	if ok, why := c.Quiet(); !ok || !c.Quorate() {
		t.Fatalf("rich core not quiet (%s) or not quorate", why)
	}
	return c, cfg
}

func richSnapshot(t testing.TB) []byte {
	c, _ := richCore(t)
	b, err := c.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRestoreTimers: a timer due in 2 s on the original's clock is due
// 2 s after now on the restored core's.
func TestRestoreTimers(t *testing.T) {
	c, cfg := richCore(t)
	c.Advance(2 * time.Second) // the poll timer (3 s after 1 s) is due at 4 s
	at, ok := c.NextDeadline()
	if !ok || at != 4*time.Second {
		t.Fatalf("deadline %v %v", at, ok)
	}
	b, _ := c.Snapshot()
	r, err := Restore(cfg, b, 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if at, ok := r.NextDeadline(); !ok || at != 2100*time.Millisecond {
		t.Fatalf("restored deadline %v %v, want 2.1s", at, ok)
	}
	if acts := r.Advance(2099 * time.Millisecond); len(acts) != 0 || !r.Quorate() {
		t.Fatalf("fired early: %v", acts)
	}
	r.Advance(2100 * time.Millisecond)
	if in, _ := r.Info(0); in.Flags&InfoQdeviceAlive != 0 {
		t.Fatal("the poll timeout did not fire")
	}
}

// TestQuietAndUnsent: a core is not quiet while its multicasts are on
// their way, a round runs or a registration awaits its QDEVICE_REG.
func TestQuietAndUnsent(t *testing.T) {
	c, _ := richCore(t)
	_, acts := c.SetExpected(5)
	if ok, why := c.Quiet(); ok || !strings.Contains(why, "1 votequorum messages") {
		t.Fatalf("quiet with a RECONFIGURE on its way: %v %q", ok, why)
	}
	if _, err := c.Snapshot(); err == nil {
		t.Fatal("snapshot of a busy core")
	}
	c.Unsent()
	if ok, why := c.Quiet(); !ok {
		t.Fatalf("not quiet after the refusal: %s", why)
	}
	_ = acts
	c.SyncInit([]uint32{1, 2}, RingID{1, 12})
	if ok, why := c.Quiet(); ok || !strings.Contains(why, "sync round") {
		t.Fatalf("quiet in a round: %v %q", ok, why)
	}
	c2, _ := richCore(t)
	c2.QdeviceUnregister("dev")
	c2.ForgetSent()
	if _, pending, _ := c2.QdeviceRegister("dev"); !pending {
		t.Fatal("no pending registration")
	}
	c2.ForgetSent()
	if ok, why := c2.Quiet(); ok || !strings.Contains(why, "registration") {
		t.Fatalf("quiet with a registration pending: %v %q", ok, why)
	}
}

// TestRestoreRejects: bytes that are not a snapshot of a quiet core of
// this node are refused with an error naming the problem.
func TestRestoreRejects(t *testing.T) {
	c, cfg := richCore(t)
	b, _ := c.Snapshot()
	for n := range len(b) {
		if _, err := Restore(cfg, b[:n], 0); err == nil {
			t.Fatalf("a snapshot cut at %d of %d bytes accepted", n, len(b))
		}
	}
	other := cfg
	other.NodeID = 2
	head := len(snapshotMagic)
	withVersion := append(append([]byte(snapshotMagic), 9), b[head+1:]...)
	for _, tc := range []struct {
		name string
		cfg  Config
		b    []byte
		now  time.Duration
		want string
	}{
		{"empty", cfg, nil, 0, "not a votequorum core snapshot"},
		{"other node", other, b, 0, "snapshot of node 1, this is node 2"},
		{"node 0", Config{}, b, 0, "node id 0"},
		{"future version", cfg, withVersion, 0, "snapshot version 9"},
		{"trailing", cfg, append(slices.Clone(b), 0), 0, "1 bytes after the end"},
		{"negative clock", cfg, b, -1, "clock"},
	} {
		if _, err := Restore(tc.cfg, tc.b, tc.now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// States a core never gets into, encoded by Snapshot itself.
	for _, tc := range []struct {
		name   string
		break_ func(c *Core)
		want   string
	}{
		{"us missing", func(c *Core) { c.list = slices.DeleteFunc(c.list, func(n *node) bool { return n == c.us }) }, "not in the node list"},
		{"twice", func(c *Core) { c.list = append(c.list, &node{id: 2, state: Member}); c.records++ }, "listed twice"},
		{"id 0", func(c *Core) { c.list = append(c.list, &node{id: 0, state: Member}); c.records++ }, "id 0"},
		{"state", func(c *Core) { c.list[1].state = 7 }, "state 7"},
		{"records", func(c *Core) { c.records = 2 }, "allocated records"},
		{"device state", func(c *Core) { c.qdev.state = Member }, "device record state"},
		{"atb", func(c *Core) { c.atb = ATBHighest }, "auto_tie_breaker"},
		{"atb list", func(c *Core) { c.initialATB = ATBList }, "list of 0"},
		{"window", func(c *Core) { c.lmsWindow = 0 }, "zero timeout"},
		{"lms timer", func(c *Core) { c.lmsTimer = timer{set: true, at: c.now + 1} }, "without last_man_standing"},
		{"timer in the past", func(c *Core) { c.qdevTimer.at = c.now }, "no time left"},
		{"wfa while quorate", func(c *Core) { c.wfaStatus = true }, "invariant"},
		{"long name", func(c *Core) { c.qdevName = strings.Repeat("x", 300) }, "quorum device name"},
	} {
		c, _ := richCore(t)
		tc.break_(c)
		broken, err := c.Snapshot()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Restore(cfg, broken, 0); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	// A count beyond the bytes left is refused before allocating.
	huge := append([]byte(snapshotMagic), 1, 1, 10, 0xff, 0xff, 0xff, 0xff, 0x0f)
	if _, err := Restore(cfg, huge, 0); err == nil || !strings.Contains(err.Error(), "node list") {
		t.Errorf("huge node list: %v", err)
	}
}

// FuzzRestore feeds Restore arbitrary bytes, seeded with real snapshots:
// it must not panic, and a core it accepts is quiet, encodes to the same
// bytes, and can be driven on without breaking an invariant.
func FuzzRestore(f *testing.F) {
	f.Add(richSnapshot(f), uint32(1))
	for seed := uint64(1); seed < 40; seed++ {
		s := newHsim(f, seed)
		if s == nil {
			continue
		}
		for range 60 {
			s.step()
		}
		for id, tw := range s.nodes {
			if b, err := tw.cores[0].Snapshot(); err == nil {
				f.Add(b, id)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte, id uint32) {
		cfg := Config{NodeID: id, Nodelist: nodelist(1, 2, 3)}
		c, err := Restore(cfg, b, time.Second)
		if err != nil {
			return
		}
		if ok, why := c.Quiet(); !ok {
			t.Fatalf("restored core not quiet: %s", why)
		}
		again, err := c.Snapshot()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("the restored core encodes differently (%v)", err)
		}
		driveOn(t, c)
	})
}

// driveOn runs a restored core through every kind of input.
func driveOn(t *testing.T, c *Core) {
	own := func(acts []Action) {
		for _, a := range acts {
			if m, ok := a.(Mcast); ok {
				c.Deliver(c.id, m.Payload, false)
			}
		}
	}
	c.Advance(time.Hour)
	c.SetExpected(3)
	c.SetVotes(c.id, 2)
	c.QdeviceRegister("dev")
	peer := uint32(1)
	if c.id == 1 {
		peer = 2
	}
	members := []uint32{c.id, peer}
	c.SyncInit(members, RingID{c.id, c.ring.Seq + 4})
	_, acts := c.SyncProcess()
	own(acts)
	c.Deliver(peer, Encode(NodeInfo{NodeID: peer, Votes: 1, ExpectedVotes: 2, Flags: FlagQuorate}), false)
	c.Deliver(peer, Encode(NodeInfo{NodeID: 0, Votes: 1}), false)
	c.QdevicePoll("dev", true, c.Ring())
	own(c.SyncActivate())
	c.QdeviceMasterWins("dev", true)
	c.Reload(Config{NodeID: c.id, Nodelist: nodelist(1, 2, 3)})
	c.CancelWaitForAll()
	c.Leave()
	c.Advance(2 * time.Hour)
	c.QdeviceUnregister("dev")
}
