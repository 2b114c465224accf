package sim

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// The whole-node simulator runs N totemd node stacks (package stack: srp,
// pg, syncengine and the bus's decisions) over the virtual network, each
// with simulated service daemons on its bus (daemon.go) that attach,
// multicast with TryAgain, take part in sync rounds, detach, crash,
// restart and (cpg's) hand their session over to a successor process
// (handover.go). Like the SRP simulator, a run is a function of its options:
// one PCG stream, virtual time, no goroutines.
//
// The network has delay and jitter. Half the seeds split it once into
// two partitions during the churn, for half a second to a second and a
// half; a quarter instead lose and duplicate frames for a while
// (planLoss), and an eighth crash or stop one node's totemd (itself, or
// through cfg: KILL_NODE, a shutdown vote) and restart it (planCrash).
// Outside that fault's window (from the fault to wholeReform after it
// ends), once every node is on one ring nothing may change it: a service
// daemon's restart shows the other nodes a service round, never a ring
// change. The service checker (svccheck.go) checks what every daemon
// incarnation saw, the cfg checker (cfgcheck.go) what cfg did and
// answered to the simulated cfgtool clients (cfgclient.go).

// WholeOptions describe one whole-node run.
type WholeOptions struct {
	Seed  uint64
	Nodes int
	// Trace, when set, receives one line per bus message and lifecycle
	// event, and the stacks' own logs.
	Trace io.Writer
	// CoreFaults deliberately break every node's srp (tests of the
	// checkers).
	CoreFaults srp.Faults
	// CorosyncTimers runs the stacks with corosync's default timers
	// (CorosyncConfig) instead of the simulator's shortened ones.
	CorosyncTimers bool
	// HandoverFaults deliberately break the simulated bus's handovers
	// (tests of the service checker).
	HandoverFaults HandoverFaults
}

// WholeResult is the outcome of one whole-node run.
type WholeResult struct {
	Seed       uint64
	Nodes      int
	Violations []Violation
	Total      int
	Events     uint64
	End        srp.Time
	Formed     srp.Time // when every node was last found on one ring of all N (the first formation, when a split did not break it)
	Healed     srp.Time // when the partition healed (0: there was none)
	Partition  srp.Time // when the network split (0: it did not)
	Lossy      srp.Time // when the network began to lose frames (0: it did not)
	Crashed    srp.Time // when a node's totemd crashed or stopped (0: none did)
	Stopped    bool     // it stopped cleanly (left the ring) instead
	LeftIn     srp.Time // after a clean stop: how soon every other node was on a ring without it
	Loss       float64  // the share of frames lost from then
	Dup        float64  // the share of frames duplicated from then
	Accepted   int      // ordinary multicasts acked OK
	Delivered  int      // deliveries to daemons, summed
	Restarts   int      // daemon detaches and crashes followed by an attach
	Rounds     int      // sync rounds activated, summed over daemons
	Aborts     int      // sync rounds aborted, summed over daemons
	TryAgains  int      // TryAgain acks the daemons got
	// Handovers are daemons stopped by SIGTERM whose successor resumed
	// the session within the grace, HandoversLate those detached when
	// the grace ended first; HeldFrames the frames the bus held for the
	// successors, summed, and HeldKinds those a successor resumed with,
	// by kind (HeldAcks, HeldSyncSteps).
	Handovers, HandoversLate, HeldFrames int
	HeldKinds                            map[ipcproto.Kind]int
	// ByCfg says the crash or stop was cfg's: "kill" (KILL_NODE from a
	// client of another node) or "shutdown" (a granted shutdown vote).
	ByCfg       string
	CfgAnswered int // answers simulated cfgtool clients got (TryAgain aside)
	CfgMessages int // cfg ring messages delivered to cfg cores, summed
}

// ReplayCommand is the command line that replays this run with a trace.
func (r WholeResult) ReplayCommand() string {
	return fmt.Sprintf("go run ./services/totemd/cmd/sim -whole -seed %d -nodes %d -trace", r.Seed, r.Nodes)
}

// Whole-run phases: daemons come and go until wholeChurnEnd; then every
// daemon is attached again and sends what it has until wholeDrain before
// the end, and at the end (wholeEnd, or later when the partition's
// reform bound needs it: wsim.end) the run stops and the checker's final
// checks run.
const (
	wholeStartSpread = 100 * time.Millisecond
	wholeChurnEnd    = 6 * time.Second
	wholeEnd         = 12 * time.Second
	wholeDrain       = 2 * time.Second // from the last send to the end
	// wholeDrainStep and wholeDrainMax: past the end, the run goes on a
	// step at a time while multicasts are still to be delivered and the
	// last step delivered some (drainMore), up to wholeDrainMax.
	wholeDrainStep = time.Second
	wholeDrainMax  = 30 * time.Second
	busDelay       = 20 * time.Microsecond // one bus hop, each way
	wholeMaxEvents = 20_000_000
	// wholeReformAttempts: see wholeReform.
	wholeReformAttempts = 4
)

// wholeReform bounds the time from the heal to one ring of all nodes
// again, in formation attempts of token + consensus each, the unit of
// the SRP simulator's bound (plan.go's formBy): a node notices its ring
// is gone within a token timeout (or sooner, by merge detection), and a
// gather ends within the consensus timeout, after which the commit token
// and recovery take a few rotations of a lossless ring. The SRP
// simulator allows 20 attempts because its network still loses, delays
// and reorders after faults come and go; here the heal leaves a whole,
// lossless network after one split, and the attempts are: the sides'
// rings noticing each other, one attempt each side may spoil by joining
// it late (a node whose token timer fires after the gather began), and
// the one that succeeds. The bound grows with the ring, as the timers
// do (300 ms + 30 ms a node above two): 2.9 s at 3 nodes, 6.3 s at 16,
// 19 s at 64 (a fixed 5 s was about one attempt at 64 nodes).
func wholeReform(cfg srp.Config) time.Duration {
	return wholeReformAttempts * (cfg.Token + cfg.Consensus)
}

// coreConfig is node self's srp configuration in this run.
func (s *wsim) coreConfig(self srp.NodeID) srp.Config {
	return timersConfig(s.opts.CorosyncTimers, self, s.ids, 1)
}

// wholeServices are the simulated daemons of every node: cmap and cpg, so
// that full rounds have two services in corosync's order.
var wholeServices = [...]uint16{0, 2}

// wnode is one totemd of the whole-node run.
type wnode struct {
	idx      int
	id       srp.NodeID
	st       *stack.Stack
	timerAt  srp.Time
	timerSet bool
	daemons  []*simDaemon
	ring     srp.RingID // the last ring installed
	ringAt   srp.Time   // when
	members  []srp.NodeID
	boot     uint32 // starts of its stack so far: a session belongs to one
	full     bool   // that ring has all N nodes
	broken   bool   // its srp's broken invariant is reported
	voting   bool   // a simulated shutdown vote runs on it (cfgclient.go)
}

// wevent is one entry of the whole run's virtual-time queue; events at
// one time run in the order they were scheduled.
type wevent struct {
	at  srp.Time
	seq uint64
	fn  func()
}

type wsim struct {
	opts   WholeOptions
	rng    *rand.Rand
	now    srp.Time
	seq    uint64
	q      minHeap[wevent]
	net    *network
	nodes  []*wnode
	ids    []srp.NodeID
	chk    *SvcChecker
	res    WholeResult
	events uint64
	formed bool
	failed bool
	// faultUntil: ring changes are the fault's until then.
	faultFrom, faultUntil srp.Time
	// stopped: the node that stopped cleanly, while its leave is being
	// noticed (nil before and after).
	stopped *wnode
	// end: the run stops after it; at least wholeEnd, and long enough
	// for the reform check at faultUntil and a drain after it. extra:
	// drainMore's steps past it; lastPending: the multicasts still to be
	// delivered at the last step.
	end         srp.Time
	extra       srp.Time
	lastPending int

	// The simulated cfgtool clients (cfgclient.go) by connection id and
	// in the order they connected, and the cfg checker.
	clients    map[cfg.ConnID]*cfgClient
	clientList []*cfgClient
	nextConn   uint64
	cfgc       *cfgChecker
	// cfgTarget is the node a planned KILL_NODE (cfgKill) or shutdown is
	// for, from the fault's start until its restart; cfgTargetDown: it
	// went down; cfgStalled: cfg answered one of the target's requests
	// with TRY_AGAIN while its ring was not synced (cfgclient.go).
	cfgTarget                          *wnode
	cfgKill, cfgTargetDown, cfgStalled bool
}

// HeldAcks are the held frames that were multicast acks (of multicasts
// the predecessor sent).
func (r WholeResult) HeldAcks() int { return r.HeldKinds[ipcproto.KindMcastAck] }

// HeldSyncSteps are the held frames that were sync steps (of rounds that
// went on while the daemon was parked).
func (r WholeResult) HeldSyncSteps() int {
	k := r.HeldKinds
	return k[ipcproto.KindSyncInit] + k[ipcproto.KindSyncProcess] + k[ipcproto.KindSyncActivate] + k[ipcproto.KindSyncAbort]
}

// RunWhole runs one whole-node simulation.
func RunWhole(opts WholeOptions) WholeResult {
	s := &wsim{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x77686f6c65)), net: newNetwork(opts.Nodes), q: minHeap[wevent]{less: weventLess}}
	s.res = WholeResult{Seed: opts.Seed, Nodes: opts.Nodes}
	s.chk = NewSvcChecker()
	s.clients, s.cfgc = map[cfg.ConnID]*cfgClient{}, newCfgChecker(s)
	s.net.base, s.net.jitter = 200*time.Microsecond, 300*time.Microsecond
	for i := range opts.Nodes {
		s.ids = append(s.ids, srp.NodeID(i+1))
	}
	for i := range opts.Nodes {
		n := &wnode{idx: i, id: srp.NodeID(i + 1)}
		s.nodes = append(s.nodes, n)
		for _, svc := range wholeServices {
			n.daemons = append(n.daemons, newSimDaemon(s, n, svc))
		}
		s.at(srp.Time(s.rng.Int64N(int64(wholeStartSpread))), func() { s.start(n) })
	}
	s.at(wholeChurnEnd, s.settle)
	s.end = wholeEnd
	if s.rng.IntN(2) == 0 {
		s.planPartition()
	} else if s.rng.IntN(2) == 0 {
		s.planLoss()
	} else if s.rng.IntN(2) == 0 {
		s.planCrash()
	}
	s.planCfgTraffic()
	s.planPload()
	for s.q.Len() > 0 && !s.failed {
		e := s.q.pop()
		if e.at > s.end+s.extra {
			if s.drainMore() {
				s.q.push(e)
				continue
			}
			break
		}
		s.now = e.at
		s.events++
		if limit := s.maxEvents(); s.events > limit {
			s.chk.report(KindLiveness, s.now, 0, "more than %d events: a node or daemon spins", limit)
			break
		}
		e.fn()
	}
	s.finish()
	s.res.Events, s.res.End = s.events, s.now
	s.res.Violations, s.res.Total = s.chk.Violations(), s.chk.Total()
	return s.res
}

// drainMore extends the run by wholeDrainStep while some attached
// daemon's accepted multicasts are still to be delivered and the last
// step delivered some of them: the backlog of a large busy ring (59 and 64
// nodes: seeds 70000889 and 70001082 of -nodes 3-64) takes longer than
// wholeDrain to drain. A ring that delivers nothing more in a step, or
// still has some at wholeDrainMax, is left to finish's checks, which
// report it.
func (s *wsim) drainMore() bool {
	if s.extra >= wholeDrainMax {
		return false
	}
	p := 0
	for _, n := range s.nodes {
		for _, d := range n.daemons {
			if d.ses != nil {
				n, _ := d.ses.obs.undelivered()
				p += n
			}
		}
	}
	if p == 0 || (s.extra > 0 && p >= s.lastPending) {
		return false
	}
	s.tracef(nil, "end: %d accepted multicasts still to be delivered, running %s more", p, wholeDrainStep)
	s.lastPending = p
	s.extra += wholeDrainStep
	return true
}

// maxEvents is the run's event budget: wholeMaxEvents for a run of
// wholeEnd at 16 nodes, more for a longer run (a fault's reform bound
// with corosync's timers is minutes) and for a larger ring (traffic grows
// with the square of the nodes).
func (s *wsim) maxEvents() uint64 {
	scale := max(1, float64(s.end)/float64(wholeEnd)) * max(1, float64(len(s.nodes)*len(s.nodes))/256)
	return uint64(float64(wholeMaxEvents) * scale)
}

// at schedules fn at time t; events at one time run in the order they
// were scheduled.
func (s *wsim) at(t srp.Time, fn func()) {
	s.seq++
	s.q.push(wevent{at: t, seq: s.seq, fn: fn})
}

func weventLess(a, b *wevent) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (s *wsim) tracef(n *wnode, format string, args ...any) {
	if s.opts.Trace == nil {
		return
	}
	who := "--"
	if n != nil {
		who = fmt.Sprintf("n%d", n.id)
	}
	fmt.Fprintf(s.opts.Trace, "%s %s %s\n", fmtTime(s.now), who, fmt.Sprintf(format, args...))
}

// start boots n's stack and schedules its daemons' first attach.
func (s *wsim) start(n *wnode) {
	cfg := s.coreConfig(n.id)
	cfg.Faults = s.opts.CoreFaults
	cfg.Rand = func(k int64) int64 {
		if k <= 0 {
			return 0
		}
		return s.rng.Int64N(k)
	}
	var log hclog.Logger = hclog.NewNullLogger()
	if s.opts.Trace != nil {
		log = hclog.New(&hclog.LoggerOptions{Output: s.opts.Trace, Level: hclog.Info, DisableTime: true,
			Name: fmt.Sprintf("n%d", n.id)})
	}
	cfg.Logger = log.Named("TOTEM")
	limit := cfgShutdownLimit
	st, err := stack.New(stack.Config{SRP: cfg, Logger: log, SyncLog: log.Named("SYNC"), Cfg: stack.CfgConfig{
		Enabled: true, Nodelist: s.cfgNodelist(), ShutdownTimeout: &limit, Observe: s.cfgc.observer(n, n.boot+1)},
		Pload: true})
	if err != nil {
		s.chk.report(KindCore, s.now, n.id, "cannot build the stack: %v", err)
		s.failed = true
		return
	}
	n.st = st
	n.boot++
	n.ring, n.full, n.timerSet, n.voting = srp.RingID{}, false, false, false
	s.tracef(n, "start")
	s.step(n, stack.Event{Kind: stack.Start})
	for _, d := range n.daemons {
		s.at(s.now+srp.Time(s.rng.Int64N(int64(300*time.Millisecond))), d.attach)
	}
}

// step hands n's stack one input and carries out what it is then ready
// to have done.
func (s *wsim) step(n *wnode, ev stack.Event) {
	if err := n.st.Step(s.now, ev); err != nil {
		s.chk.report(KindCore, s.now, n.id, "stack refused an input: %v", err)
	}
	s.flush(n)
}

// flush carries out n's Ready until it is empty.
func (s *wsim) flush(n *wnode) {
	for range stack.Passes {
		rd := n.st.Ready()
		if rd.Broken != nil && !n.broken {
			// srp found its own state broken and left; the daemon would
			// stop. A correct core never gets here.
			n.broken = true
			s.chk.report(KindInvariant, s.now, n.id, "%v", rd.Broken)
		}
		if rd.Empty() {
			s.arm(n)
			return
		}
		for _, snd := range rd.Sends {
			s.transmit(n, snd)
		}
		for _, o := range rd.Outs {
			s.carry(n, o)
		}
		for _, v := range rd.Views {
			s.view(n, v)
		}
		n.st.Advance(rd)
	}
	s.chk.report(KindCore, s.now, n.id, "the stack did not settle in %d passes", stack.Passes)
	s.failed = true
}

// carry takes one output of n's stack onto the simulated bus.
func (s *wsim) carry(n *wnode, o stack.Out) {
	switch o.Kind {
	case stack.OutService:
		ses := o.Session.(*simSession)
		m := o.Msg
		// The session's bus queue: the frame is written one bus hop
		// later, unless its daemon parked meanwhile (the bus then holds
		// it for the successor, handover.go).
		ses.queue = append(ses.queue, m)
		if ses.holding {
			if s.opts.Trace != nil {
				s.tracef(n, "→%s#%d held: %s", ses.d.name, ses.inc, describeBus(m))
			}
			return
		}
		if s.opts.Trace != nil {
			s.tracef(n, "→%s#%d %s", ses.d.name, ses.inc, describeBus(m))
		}
		s.at(s.now+busDelay, func() { s.write(ses) })
	case stack.OutSelf:
		s.chk.report(KindCore, s.now, n.id, "a %s for totemd itself, which no simulated daemon sends", o.Msg.Kind)
	case stack.OutCfgAction:
		s.cfgAction(n, o.Cfg)
	case stack.OutPload:
		s.ploadOut(n, o.Pload)
	}
}

// write writes the oldest frame of ses's bus queue to its daemon, unless
// the bus holds them (one write is planned per frame queued; those
// planned before a park find it holding and leave the frame queued, and
// the successor's resume plans them again).
func (s *wsim) write(ses *simSession) {
	if ses.holding || len(ses.queue) == 0 {
		return
	}
	m := ses.queue[0]
	ses.queue = ses.queue[1:]
	ses.d.receive(ses, m)
}

// fromDaemon is a bus message of a daemon's session reaching its stack.
func (s *wsim) fromDaemon(ses *simSession, m *ipcproto.Msg) {
	d := ses.d
	if d.parked && d.ses == ses && m.Kind != ipcproto.KindAttach {
		// The simulated daemon broke the contract: nothing after
		// KindPark but the handover (handover.go).
		s.chk.report(KindBus, s.now, d.node.id, "%s#%d sent %s while parked", d.name, ses.inc, m.Kind)
	}
	if s.opts.Trace != nil {
		s.tracef(d.node, "←%s#%d %s", d.name, ses.inc, describeBus(m))
	}
	s.at(s.now+busDelay, func() {
		if ses.boot == d.node.boot && d.node.st != nil {
			s.step(d.node, stack.BusEvent(ses, d.svc, d.name, m))
		}
	})
}

// endSession is a daemon's session ending, as its stack sees it.
func (s *wsim) endSession(ses *simSession, err error) {
	d := ses.d
	s.at(s.now+busDelay, func() {
		if ses.boot == d.node.boot && d.node.st != nil {
			s.step(d.node, stack.BusEnded(ses, d.svc, d.name, err))
		}
	})
}

// view takes a membership n installed. s.formed says whether every
// node's last regular membership is one ring of all N nodes; while it
// holds, outside a partition's window, the ring may not change (the
// network is whole).
func (s *wsim) view(n *wnode, v stack.Membership) {
	if v.Synced {
		return
	}
	s.tracef(n, "ring %x.%x members %v", v.Ring.Rep, v.Ring.Seq, v.Members)
	inFault := s.faultFrom > 0 && s.now >= s.faultFrom && s.now <= s.faultUntil
	if s.formed && v.Ring != n.ring && !inFault {
		s.chk.report(KindLiveness, s.now, n.id, "ring changed to %x.%x %v after the ring formed, on a whole network",
			v.Ring.Rep, v.Ring.Seq, v.Members)
	}
	n.ring, n.full = v.Ring, len(v.Members) == len(s.nodes)
	n.ringAt, n.members = s.now, v.Members
	if s.stopped != nil && s.allLeft(s.stopped) {
		s.res.LeftIn = s.now - s.res.Crashed
		s.tracef(nil, "every other node left n%d behind in %s", s.stopped.id, s.res.LeftIn)
		s.stopped = nil
	}
	was := s.formed
	s.formed = s.oneRing()
	if s.formed && !was {
		s.res.Formed = s.now
		s.tracef(nil, "formed ring %x.%x", v.Ring.Rep, v.Ring.Seq)
	}
}

// allLeft reports whether every node but gone installed a ring without
// it since it stopped.
func (s *wsim) allLeft(gone *wnode) bool {
	for _, m := range s.nodes {
		if m == gone {
			continue
		}
		if m.st == nil || m.ringAt < s.res.Crashed || slices.Contains(m.members, gone.id) {
			return false
		}
	}
	return true
}

// oneRing reports whether every node is up and its last regular
// membership is the same ring, of all N nodes.
func (s *wsim) oneRing() bool {
	for _, m := range s.nodes {
		if m.st == nil || !m.full || m.ring != s.nodes[0].ring {
			return false
		}
	}
	return true
}

// arm schedules n's timer for the stack's next deadline.
func (s *wsim) arm(n *wnode) {
	d, ok := n.st.NextDeadline()
	if !rearm(d, ok, s.now, &n.timerSet, &n.timerAt) {
		return
	}
	d = n.timerAt
	boot := n.boot
	s.at(d, func() {
		if !n.timerSet || n.timerAt != d || n.boot != boot || n.st == nil {
			return // re-armed since, or of a stack that crashed
		}
		n.timerSet = false
		s.step(n, stack.Event{Kind: stack.Tick})
	})
}

// transmit puts one datagram on the whole network: to one node, or to
// every node of the nodelist, self included, as udpu does.
func (s *wsim) transmit(n *wnode, snd srp.Send) {
	frame := slices.Clone(snd.Frame)
	send := func(to int) {
		copies, d1, d2 := s.net.fates(s.rng, n.idx, to)
		dst := s.nodes[to]
		delays := [2]srp.Time{d1, d2}
		for i := range copies {
			if i > 0 {
				s.tracef(n, "duplicate frame to n%d", dst.id)
			}
			s.at(s.now+delays[i], func() {
				if dst.st != nil {
					s.step(dst, stack.Event{Kind: stack.Datagram, Frame: frame})
				}
			})
		}
	}
	if snd.To == 0 {
		for to := range s.nodes {
			send(to)
		}
		return
	}
	to := int(snd.To) - 1
	if to < 0 || to >= len(s.nodes) {
		s.chk.report(KindCore, s.now, n.id, "sent to n%d, which is not in the nodelist", snd.To)
		return
	}
	send(to)
}

// planPartition splits the network in two during the churn and heals
// it; the ring may change from the split until wholeReform after the
// heal, by when every node must be on one ring of all N again. A split
// need not break the ring at all: srp declares the token lost only
// after the token timeout without it (300 ms + 30 ms a node above two:
// 630 ms at 13 nodes), and a split of half a second leaves the token
// waiting at the cut, retransmitted across it once the network heals,
// so no node installs anything. That is why the checks look at every
// node's last membership (oneRing), not at whether a ring was installed
// after the split.
func (s *wsim) planPartition() {
	split := srp.Time(1500*time.Millisecond) + srp.Time(s.rng.Int64N(int64(1500*time.Millisecond)))
	heal := split + srp.Time(500*time.Millisecond) + srp.Time(s.rng.Int64N(int64(time.Second)))
	cut := 1 + s.rng.IntN(len(s.nodes)-1) // nodes[:cut] against the rest, shuffled
	order := s.rng.Perm(len(s.nodes))
	s.res.Partition = split
	s.fault(split, heal, "the heal", func() {
		for i, idx := range order {
			if i < cut {
				s.net.group[idx] = 1
			}
		}
		var side []srp.NodeID
		for _, idx := range order[:cut] {
			side = append(side, s.nodes[idx].id)
		}
		slices.Sort(side)
		s.tracef(nil, "partition %v | the others", side)
	}, func() {
		s.net.heal()
		s.tracef(nil, "heal")
	})
}

// fault plans one fault: begin runs at from, end at until (when
// WholeResult.Healed is set). Ring changes are the fault's from from
// until wholeReform after until, by when every node must be on one ring
// of all N again (what names the end in the report).
func (s *wsim) fault(from, until srp.Time, what string, begin, end func()) {
	s.faultFrom, s.faultUntil = from, until+wholeReform(s.coreConfig(1))
	s.end = max(s.end, s.faultUntil+wholeDrain)
	s.at(from, begin)
	s.at(until, func() {
		s.res.Healed = s.now
		end()
	})
	var check func()
	check = func() {
		if s.now < s.faultUntil { // extended (extendFault)
			s.at(s.faultUntil, check)
			return
		}
		if !s.formed {
			s.chk.report(KindLiveness, s.now, 0, "no single ring of all %d nodes %s after %s", len(s.nodes), s.faultUntil-until, what)
		}
	}
	s.at(s.faultUntil, check)
}

// extendFault moves the fault's end to until: ring changes stay the
// fault's until wholeReform after it, and the run lasts long enough to
// check that.
func (s *wsim) extendFault(until srp.Time) {
	s.faultUntil = max(s.faultUntil, until+wholeReform(s.coreConfig(1)))
	s.end = max(s.end, s.faultUntil+wholeDrain)
}

// planLoss makes the whole network lose (1–10 %) and duplicate (0–2 %)
// frames for one to three seconds during the churn, then whole again. The
// ring may survive it (srp retransmits frames and the token) or reform,
// or split and merge when a node misses the token for a token timeout:
// ring changes are allowed from the start of the loss until wholeReform
// after its end, by when every node must be on one ring of all N again.
// What may never happen, lossy or not, is what the service checker
// checks: a daemon seeing another story than its peers, or losing a
// multicast it got an OK for.
func (s *wsim) planLoss() {
	from := srp.Time(time.Second) + srp.Time(s.rng.Int64N(int64(2*time.Second)))
	until := from + srp.Time(time.Second) + srp.Time(s.rng.Int64N(int64(2*time.Second)))
	loss := 0.01 + 0.09*s.rng.Float64()
	dup := 0.02 * s.rng.Float64()
	s.res.Lossy, s.res.Loss, s.res.Dup = from, loss, dup
	s.fault(from, until, "the loss ended", func() {
		s.net.loss, s.net.dup = loss, dup
		s.tracef(nil, "loss %.1f%% duplication %.1f%%", 100*loss, 100*dup)
	}, func() {
		s.net.loss, s.net.dup = 0, 0
		s.tracef(nil, "no more loss")
	})
}

// planCrash kills one node's totemd during the churn (its stack is gone
// with everything it held; its daemons lose their bus sessions, as a
// crashed totemd's daemons do) and starts a fresh one 200 ms to 1.5 s
// later, whose daemons attach again. A quarter of the time it is a clean
// stop instead: the stack multicasts its leave message first, as totemd
// does on SIGTERM. In another quarter a cfg client of another node kills
// it with KILL_NODE (it exits without a leave, like a crash), and in the
// last a client of its own asks it to shut down in a granted vote (it
// leaves cleanly) (cfgclient.go). The others must see it leave and come
// back, with nothing they accepted lost and every service telling one
// story; from the fault until wholeReform after the restart, ring
// changes are the fault's.
func (s *wsim) planCrash() {
	at := srp.Time(time.Second) + srp.Time(s.rng.Int64N(int64(3*time.Second)))
	back := at + srp.Time(200*time.Millisecond) + srp.Time(s.rng.Int64N(int64(1300*time.Millisecond)))
	n := s.nodes[s.rng.IntN(len(s.nodes))]
	how := s.rng.IntN(4) // 0 crash, 1 clean stop, 2 cfg kill, 3 cfg shutdown
	s.res.Crashed = at
	s.fault(at, back, fmt.Sprintf("n%d restarted", n.id), func() {
		switch how {
		case 2:
			s.res.ByCfg, s.cfgKill = "kill", true
			s.planCfgKill(n)
		case 3:
			s.res.ByCfg = "shutdown"
			s.planCfgShutdown(n)
		default:
			s.takeDown(n, how == 1)
		}
	}, func() {
		if how < 2 {
			s.start(n)
			return
		}
		s.cfgRestart(n, back)
	})
}

// cfgStallLimit bounds how long after its planned restart time a cfg kill
// or shutdown whose requests met an unsynced ring may still be carried
// out. cfg refuses every flow-controlled request with TRY_AGAIN until
// the ring is synced (as corosync's does), and a sync round waits for a
// daemon being handed over until its successor resumes or the bus's
// grace ends (handoverGrace): a ring change while one is parked holds
// every member's cfg that long (seed 72003335 at 32 nodes: 2.4 s).
func cfgStallLimit(c srp.Config) srp.Time {
	return srp.Time(handoverGrace) + wholeReform(c)
}

// cfgRestart restarts the target of a cfg kill or shutdown at its planned
// time once it went down. If it did not, that is a violation, unless its
// requests were held by an unsynced ring: then it is given until
// cfgStallLimit past the planned time (the fault's window grows with it)
// and restarted after the kill or shutdown is carried out.
func (s *wsim) cfgRestart(n *wnode, back srp.Time) {
	if s.cfgTargetDown {
		s.cfgTarget = nil
		if s.now == back {
			s.start(n)
		} else {
			s.at(s.now+srp.Time(200*time.Millisecond), func() { s.start(n) })
		}
		return
	}
	if s.cfgStalled && s.now < back+cfgStallLimit(s.coreConfig(1)) {
		again := s.now + 5*srp.Time(cfgRetry)
		s.extendFault(again)
		s.at(again, func() { s.cfgRestart(n, back) })
		return
	}
	s.cfgTarget = nil
	s.cfgTargetDown = true // no more tries
	s.chk.report(KindCfg, s.now, n.id, "cfg %s of n%d not carried out by its restart time (stalled by an unsynced ring: %v)", s.res.ByCfg, n.id, s.cfgStalled)
}

// takeDown ends n's totemd: cleanly (it leaves the ring first) or not.
func (s *wsim) takeDown(n *wnode, clean bool) {
	s.res.Crashed = s.now
	if clean {
		s.tracef(n, "totemd stops cleanly")
		s.res.Stopped, s.stopped = true, n
		s.step(n, stack.Event{Kind: stack.Leave})
		// A clean leave must reach every member: they re-form at
		// once, well inside the token timeout after which a
		// crash would be noticed.
		bound := s.coreConfig(1).Token
		s.at(s.now+bound, func() {
			if s.stopped == n {
				s.stopped = nil
				s.chk.report(KindLiveness, s.now, n.id, "clean stop not noticed within the token timeout (%s): its leave did not reach every member", bound)
			}
		})
	} else {
		s.tracef(n, "totemd crashes")
	}
	n.st, n.full, n.timerSet = nil, false, false
	s.formed = false
	for _, d := range n.daemons {
		if d.ses != nil {
			d.lost(d.ses)
		}
	}
}

// settle ends the churn: every daemon down restarts, and from now on
// daemons only send what they have.
func (s *wsim) settle() {
	s.tracef(nil, "settle: no more detaches or crashes")
	for _, n := range s.nodes {
		for _, d := range n.daemons {
			d.settle()
		}
	}
}

// finish runs the final checks: every node is on one ring of all, and every daemon
// attached at the end delivered every ordinary multicast it got an OK
// for.
func (s *wsim) finish() {
	if !s.formed && !s.failed {
		s.chk.report(KindLiveness, s.now, 0, "the nodes are not on one ring of all %d at the end", len(s.nodes))
	}
	for _, n := range s.nodes {
		for _, d := range n.daemons {
			d.finish()
		}
	}
	s.cfgc.finish()
	s.finishPload()
	s.chk.Finish(s.now)
}

// describeBus is a bus message in a trace line.
func describeBus(m *ipcproto.Msg) string {
	switch m.Kind {
	case ipcproto.KindConfChg:
		c := m.Conf
		return fmt.Sprintf("%s %v ring %x.%x members %v left %v joined %v ring-members %v", m.Kind, c.Type, c.Ring.Rep, c.Ring.Seq,
			c.Members, c.Left, c.Joined, c.RingMembers)
	case ipcproto.KindAttached:
		return fmt.Sprintf("%s ring %x.%x members %v ring-members %v", m.Kind, m.Ring.Rep, m.Ring.Seq, m.Members, m.RingMembers)
	case ipcproto.KindSyncInit:
		return fmt.Sprintf("%s %d %v ring %x.%x trans %v members %v", m.Kind, m.ID, m.SyncKind, m.Ring.Rep, m.Ring.Seq, m.Trans, m.Members)
	case ipcproto.KindSyncActivate:
		return fmt.Sprintf("%s %d %v members %v", m.Kind, m.ID, m.SyncKind, m.Members)
	case ipcproto.KindSyncProcess, ipcproto.KindSyncAbort, ipcproto.KindSyncDone:
		return fmt.Sprintf("%s %d", m.Kind, m.ID)
	case ipcproto.KindDeliver:
		if it, err := decodeSvcItem(m.Payload); err == nil {
			return fmt.Sprintf("%s %v", m.Kind, it)
		}
		return fmt.Sprintf("%s from n%d (%d bytes)", m.Kind, m.From, len(m.Payload))
	case ipcproto.KindMcast:
		return fmt.Sprintf("%s %d sync=%v", m.Kind, m.ID, m.Sync)
	case ipcproto.KindMcastAck:
		return fmt.Sprintf("%s %d sync=%v status %d", m.Kind, m.ID, m.Sync, m.Status)
	}
	return m.Kind.String()
}
