package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// Factory builds one protocol node. The simulator calls it for every start
// and restart; the real one is srp.New.
type Factory func(cfg srp.Config) (srp.Interface, error)

// Options describe one run. A run depends on nothing else: the same options
// give the same events, trace and verdict.
type Options struct {
	Seed    uint64
	Nodes   int
	Profile Profile
	// Factory builds the nodes; nil means the real core (RealCore).
	Factory Factory
	// CoreFaults are handed to every node: deliberate protocol bugs that
	// the checker must catch.
	CoreFaults srp.Faults
	// Trace, when set, receives one line per event.
	Trace io.Writer
	// MaxEvents bounds the run; 0 means DefaultMaxEvents of the plan.
	MaxEvents uint64
	// CorosyncTimers runs the cores with corosync's default timers
	// (CorosyncConfig) instead of the simulator's shortened ones.
	CorosyncTimers bool
}

// DefaultMaxEvents bounds a run of n nodes whose ring must form within
// formBy of virtual time, so that a livelocked core cannot hang the
// simulator. The budget must not end a run before the liveness bound
// does: a healthy ring of n nodes costs about 13·n² events per virtual
// second (every frame reaches n-1 receivers, the token goes round n
// hops), and a 64-node ring with a 2 s token may take 90 s of virtual
// time to merge after the last fault and still be within the bound. So
// the budget is a fixed part plus 16·n² per second up to formBy. A run
// that hits it is reported with how long the nodes had been saturated and
// when the network last changed.
func DefaultMaxEvents(n int, formBy time.Duration) uint64 {
	return 3_000_000 + 30_000*uint64(n) + 16*uint64(n*n)*uint64(formBy/time.Second)
}

// Result is the outcome of one run.
type Result struct {
	Seed       uint64
	Nodes      int
	Profile    string
	CoreFaults srp.Faults
	Violations []Violation // the first DefaultViolationLimit of them
	Total      int         // number of violations
	Events     uint64
	End        srp.Time // virtual time the run ended
	Healed     srp.Time // when the last fault healed
	Formed     srp.Time // when all live nodes were on one ring (0 if never)
	Accepted   int      // messages the cores accepted
	Delivered  int      // message deliveries, summed over nodes
	Rings      int      // distinct regular configurations installed

	// Formation figures (see formation.go): the cold start's last start to
	// one ring (0 if not measured), the number of clean changes followed
	// by one ring within the bound, and the slowest of those.
	ColdFormation    srp.Time
	Formations       int
	SlowestFormation srp.Time
	SlowestChange    string
	SlowestStop      srp.Time // the slowest of those after a clean stop
}

// ReplayCommand is the command line that replays this run with a trace.
func (r Result) ReplayCommand() string {
	s := fmt.Sprintf("go run ./services/totemd/cmd/sim -seed %d -nodes %d", r.Seed, r.Nodes)
	if r.Profile != "mixed" {
		s += " -faults " + r.Profile
	}
	var broken []string
	if r.CoreFaults.SkipRetransmit {
		broken = append(broken, "skip-retransmit")
	}
	if r.CoreFaults.ReorderDelivery {
		broken = append(broken, "reorder-delivery")
	}
	if r.CoreFaults.SkipOldRingFlush {
		broken = append(broken, "skip-old-ring-flush")
	}
	if len(broken) > 0 {
		s += " -broken " + strings.Join(broken, ",")
	}
	return s + " -trace"
}

// node is one slot of the nodelist; its core is nil while it is down.
type node struct {
	idx       int32
	id        srp.NodeID
	core      srp.Interface
	inc       *Incarnation
	gen       uint32 // bumped at every start and stop; stale events carry an old one
	persisted uint64 // the ring seq "on disk"; survives crashes
	timerAt   srp.Time
	timerSet  bool
	spins     int // timer events at one instant, to catch a core that never disarms
	next      uint32
	pending   []byte // a payload Mcast refused, retried later
	rate      float64
	rxFree    srp.Time // when the node can take the next frame off its socket
	rxQueued  int      // frames waiting in its socket buffer
	tokenLost uint64   // its core's TokenTimeouts when the formation window opened
}

// frameJoin is the W3 message type of MEMB_JOIN (spec/totem.md §3.3).
const frameJoin = 3

// Each node spends rxService on every frame it receives and its socket
// buffer holds rxBuffer frames; more are dropped, as a full UDP receive
// buffer does. This is what bounds join storms (every join with news makes
// its receiver multicast a join), which a network without it would let grow
// without limit in zero time.
const (
	rxService = 40 * time.Microsecond
	rxBuffer  = 256
)

// Sim is one run in progress. It is single-threaded and owns everything.
type Sim struct {
	opts    Options
	rng     *rand.Rand
	now     srp.Time
	q       eventQueue
	net     *network
	nodes   []*node
	ids     []srp.NodeID
	actions []func()
	chk     *Checker
	fill    []byte
	events  uint64
	max     uint64
	trace   io.Writer

	token srp.Time // the ring's token timeout: the unit of fault timing
	gens  [numFaultKinds]uint64

	sending   bool
	healAt    srp.Time
	healed    bool
	restartBy srp.Time
	// faultFramesUntil is when the last frame sent before the heal
	// arrives: until then the faults (slow links, say) still act.
	faultFramesUntil srp.Time
	formBy           srp.Time
	formed           bool
	formedAt         srp.Time
	ring             srp.RingID
	sendStop         srp.Time
	drainBy          srp.Time
	delivered        uint64   // message deliveries so far, all nodes
	progressCount    uint64   // delivered at the last probe that saw progress
	progressAt       srp.Time // when that was
	done             bool
	quiescent        bool

	// join-storm detection (see stormed), at every probe of the run.
	joins      uint64   // join frames that reached a live node
	probeJoins uint64   // joins at the last probe
	saturated  srp.Time // start of the current saturation, 0 if none
	lastChange srp.Time // last fault, heal or restart

	form        formation // bounded formation after clean changes
	everStopped bool      // some node has stopped (crash or leave)
}

// probeEvery is how often the probe runs: storm detection all along,
// liveness after the heal.
const probeEvery = 25 * time.Millisecond

// Run executes one seeded run and checks it.
func Run(opts Options) Result {
	s := newSim(opts)
	if s.max == 0 {
		s.max = DefaultMaxEvents(opts.Nodes, 0) // heal raises it
	}
	s.plan()
	s.loop()
	s.chk.Finish(s.now, s.quiescent)
	res := Result{
		Seed:       opts.Seed,
		Nodes:      opts.Nodes,
		Profile:    s.opts.Profile.Name,
		CoreFaults: opts.CoreFaults,
		Violations: s.chk.Violations(),
		Total:      s.chk.Total(),
		Events:     s.events,
		End:        s.now,
		Healed:     s.healAt,
		Accepted:   len(s.chk.sent),
		Rings:      len(s.chk.rings),
	}
	if s.formed {
		res.Formed = s.formedAt
	}
	res.ColdFormation, res.Formations = s.form.coldTook, s.form.windows
	res.SlowestFormation, res.SlowestChange = s.form.slowest, s.form.slowWhy
	res.SlowestStop = s.form.slowStop
	for _, inc := range s.chk.incs {
		res.Delivered += len(inc.delivered)
	}
	return res
}

func newSim(opts Options) *Sim {
	if opts.Factory == nil {
		opts.Factory = RealCore
	}
	if opts.Profile.Name == "" {
		opts.Profile, _ = LookupProfile("mixed")
	}
	s := &Sim{
		opts:    opts,
		rng:     rand.New(rand.NewPCG(opts.Seed, 0x746f74656d73696d)),
		net:     newNetwork(opts.Nodes),
		chk:     NewChecker(),
		max:     opts.MaxEvents,
		trace:   opts.Trace,
		sending: true,
	}
	s.form.settled = true // no node is up: trivially one ring
	s.fill = make([]byte, MaxPayload)
	for i := range s.fill {
		s.fill[i] = byte(s.rng.Uint32())
	}
	for i := range opts.Nodes {
		id := srp.NodeID(i + 1)
		s.ids = append(s.ids, id)
		s.nodes = append(s.nodes, &node{idx: int32(i), id: id})
	}
	s.token = s.coreConfig(1, 1).Token
	return s
}

func (s *Sim) loop() {
	for s.q.Len() > 0 && !s.done {
		e := s.q.pop()
		s.now = e.at
		s.events++
		if s.events > s.max {
			sat := "not saturated"
			if s.saturated > 0 {
				sat = "saturated since " + fmtTime(s.saturated)
			}
			s.chk.report(KindLiveness, s.now, 0, "event budget of %d exhausted (livelock?): heal due at %s, last fault change %s, nodes %s",
				s.max, fmtTime(s.healAt), fmtTime(s.lastChange), sat)
			return
		}
		switch e.kind {
		case evArrive:
			s.arrive(e)
		case evReceive:
			s.queued(e)
		case evTimer:
			s.timer(e)
		case evSend:
			s.appSend(e)
		case evAction:
			s.actions[e.action]()
		case evProbe:
			s.probe()
		}
	}
}

// at schedules fn at time t.
func (s *Sim) at(t srp.Time, fn func()) {
	s.actions = append(s.actions, fn)
	s.q.push(event{at: t, kind: evAction, action: int32(len(s.actions) - 1)})
}

func (s *Sim) tracef(n *node, format string, args ...any) {
	if s.trace == nil {
		return
	}
	state := "DOWN"
	ring, aru := "-", "-"
	if n != nil && n.core != nil {
		st := n.core.Status()
		state, ring, aru = stateName(st.State), fmtRing(st.Ring), fmt.Sprintf("%d/%d", st.MyAru, st.HighSeq)
	}
	who := "net"
	if n != nil {
		who = fmt.Sprintf("n%d", n.id)
	}
	fmt.Fprintf(s.trace, "%s %-3s %s %-6s a=%-9s %s\n", fmtTime(s.now), who, state, ring, aru, fmt.Sprintf(format, args...))
}

// coreConfig is node self's srp configuration in this run.
func (s *Sim) coreConfig(self srp.NodeID, ringSeq uint64) srp.Config {
	return timersConfig(s.opts.CorosyncTimers, self, s.ids, ringSeq)
}

// start boots a fresh core on n, as corosync does after a (re)start: ring
// seq loaded from disk plus one.
func (s *Sim) start(n *node) {
	if n.core != nil {
		return
	}
	cfg := s.coreConfig(n.id, n.persisted+1)
	cfg.Faults = s.opts.CoreFaults
	cfg.Rand = func(k int64) int64 {
		if k <= 0 {
			return 0
		}
		return s.rng.Int64N(k)
	}
	if s.trace != nil {
		cfg.Logger = hclog.New(&hclog.LoggerOptions{
			Output:      &traceLog{s: s, n: n},
			Level:       hclog.Debug,
			DisableTime: true,
		})
	}
	core, err := s.opts.Factory(cfg)
	if err != nil {
		s.chk.report(KindCore, s.now, n.id, "cannot build node: %v", err)
		return
	}
	n.core, n.gen, n.timerSet, n.pending, n.next = core, n.gen+1, false, nil, 0
	n.inc = s.chk.Start(n.id)
	core.Start(s.now)
	n.tokenLost = 0
	s.tracef(n, "start incarnation %d ringseq=%x", n.inc.Num, cfg.RingSeq)
	s.cleanChange(fmt.Sprintf("start of n%d", n.id), false)
	s.after(n)
	s.scheduleSend(n, s.sendGap(n))
}

// stop takes n down (crash, or the end of a graceful leave).
func (s *Sim) stop(n *node, why string) {
	if n.core == nil {
		return
	}
	s.tracef(n, "%s", why)
	n.core, n.gen, n.timerSet, n.pending = nil, n.gen+1, false, nil
	n.rxFree, n.rxQueued = 0, 0
	s.chk.Stop(n.inc)
	s.everStopped = true
	if why == faultLeave.String() {
		s.cleanChange(fmt.Sprintf("clean stop of n%d", n.id), true)
	} else {
		s.uncleanChange()
	}
}

// arrive puts a frame that reached n into its socket buffer, or takes it
// straight in if n is idle.
func (s *Sim) arrive(e event) {
	n := s.nodes[e.node]
	if n.core == nil {
		return
	}
	if len(e.frame) > 3 && e.frame[3] == frameJoin {
		s.joins++
	}
	if n.rxFree > s.now {
		if n.rxQueued >= rxBuffer {
			if s.trace != nil {
				s.tracef(n, "overflow drops %s", describeFrame(e.frame))
			}
			return
		}
		n.rxQueued++
		e.kind, e.at, e.gen = evReceive, n.rxFree, n.gen
		n.rxFree += rxService
		s.q.push(e)
		return
	}
	n.rxFree = s.now + rxService
	s.receive(n, e)
}

// queued takes a frame out of n's socket buffer.
func (s *Sim) queued(e event) {
	n := s.nodes[e.node]
	if n.core == nil || e.gen != n.gen {
		return // the buffer died with the process
	}
	n.rxQueued--
	s.receive(n, e)
}

func (s *Sim) receive(n *node, e event) {
	if err := n.core.Receive(s.now, e.frame); err != nil {
		s.chk.report(KindCore, s.now, n.id, "rejected a frame from n%d (%s): %v", e.from+1, describeFrame(e.frame), err)
	}
	if s.trace != nil {
		s.tracef(n, "recv %s", describeFrame(e.frame))
	}
	s.after(n)
}

func (s *Sim) timer(e event) {
	n := s.nodes[e.node]
	if n.core == nil || e.gen != n.gen || !n.timerSet || e.at != n.timerAt {
		return // stale
	}
	n.timerSet = false
	n.core.Tick(s.now)
	s.tracef(n, "tick")
	s.after(n)
	if n.timerSet && n.timerAt <= s.now {
		n.spins++
		if n.spins > 1000 {
			s.chk.report(KindCore, s.now, n.id, "timer deadline stays at %s after Tick", fmtTime(n.timerAt))
			s.done = true
		}
	} else {
		n.spins = 0
	}
}

// after drains n's Ready: persist, send, deliver, re-arm its timer.
func (s *Sim) after(n *node) {
	rd := n.core.Ready()
	installed := false
	if rd.PersistRingSeq != 0 {
		n.persisted = rd.PersistRingSeq
	}
	for _, snd := range rd.Sends {
		s.transmit(n, snd)
	}
	for _, d := range rd.Deliveries {
		if s.trace != nil {
			if d.Conf != nil {
				s.tracef(n, "%s", describeConf(d.Conf))
			} else if id, _, err := DecodePayload(d.Payload); err == nil {
				s.tracef(n, "deliver %v from n%d", id, d.From)
			} else {
				s.tracef(n, "deliver undecodable message from n%d", d.From)
			}
		}
		if d.Conf == nil {
			s.delivered++
		} else if d.Conf.Type == srp.Regular {
			installed = true
		}
		s.chk.Deliver(n.inc, s.now, d)
	}
	if installed {
		s.formationInstalled()
	}
	s.arm(n)
	if rd.Broken != nil {
		// The core found its own state broken and left (its leave went
		// out above); the daemon would stop here. A correct core never
		// gets here, so the run fails with its seed.
		s.chk.report(KindInvariant, s.now, n.id, "%v", rd.Broken)
		s.stop(n, "broken invariant")
	}
}

func (s *Sim) arm(n *node) {
	d, ok := n.core.NextDeadline()
	if rearm(d, ok, s.now, &n.timerSet, &n.timerAt) {
		s.q.push(event{at: n.timerAt, kind: evTimer, node: n.idx, gen: n.gen})
	}
}

// rearm is both simulators' timer bookkeeping for a core whose next
// deadline is d (ok false: none armed): it records the timer and says
// whether an event must be scheduled for it at *at (the deadline moved;
// an event already queued for an older deadline is then stale).
func rearm(d srp.Time, ok bool, now srp.Time, set *bool, at *srp.Time) bool {
	if !ok {
		*set = false
		return false
	}
	d = max(d, now)
	if *set && *at == d {
		return false
	}
	*set, *at = true, d
	return true
}

// transmit puts one frame on the virtual wire: to one node, or (To == 0) to
// every node of the nodelist, self included, as udpu does.
func (s *Sim) transmit(n *node, snd srp.Send) {
	frame := slices.Clone(snd.Frame)
	var lost, dup []srp.NodeID
	send := func(to int) {
		copies, d1, d2 := s.net.fates(s.rng, int(n.idx), to)
		if copies == 0 {
			lost = append(lost, srp.NodeID(to+1))
		}
		if copies >= 1 {
			s.q.push(event{at: s.now + d1, kind: evArrive, node: int32(to), from: n.idx, frame: frame})
		}
		if copies == 2 {
			dup = append(dup, srp.NodeID(to+1))
			s.q.push(event{at: s.now + d2, kind: evArrive, node: int32(to), from: n.idx, frame: frame})
		}
		if !s.healed {
			s.faultFramesUntil = max(s.faultFramesUntil, s.now+max(d1, d2))
		}
	}
	dest := "all"
	if snd.To == 0 {
		for to := range s.nodes {
			send(to)
		}
	} else {
		to := int(snd.To) - 1
		if to < 0 || to >= len(s.nodes) {
			s.chk.report(KindCore, s.now, n.id, "sent to n%d, which is not in the nodelist", snd.To)
			return
		}
		dest = fmt.Sprintf("n%d", snd.To)
		send(to)
	}
	if s.trace != nil {
		var extra strings.Builder
		if len(lost) > 0 {
			fmt.Fprintf(&extra, " lost=%v", lost)
		}
		if len(dup) > 0 {
			fmt.Fprintf(&extra, " dup=%v", dup)
		}
		s.tracef(n, "send→%s %s%s", dest, describeFrame(frame), extra.String())
	}
}

// sendGap is the time to n's next application send (exponential).
func (s *Sim) sendGap(n *node) srp.Time {
	if n.rate <= 0 {
		return 0
	}
	return srp.Time(s.rng.ExpFloat64() / n.rate * float64(time.Second))
}

func (s *Sim) scheduleSend(n *node, gap srp.Time) {
	if n.rate <= 0 && n.pending == nil {
		return
	}
	s.q.push(event{at: s.now + gap, kind: evSend, node: n.idx, gen: n.gen})
}

// payloadSize picks a message size: mostly small, some medium, a few full.
func (s *Sim) payloadSize() int {
	switch u := s.rng.Float64(); {
	case u < 0.70:
		return MinPayload + s.rng.IntN(200)
	case u < 0.95:
		return 200 + s.rng.IntN(800)
	default:
		return 1000 + s.rng.IntN(MaxPayload-1000+1)
	}
}

func (s *Sim) appSend(e event) {
	n := s.nodes[e.node]
	if n.core == nil || e.gen != n.gen || !s.sending {
		return
	}
	s.mcast(n)
	if n.pending != nil {
		s.scheduleSend(n, time.Duration(10+s.rng.IntN(40))*time.Millisecond)
		return
	}
	if n.rate > 0 {
		s.scheduleSend(n, s.sendGap(n))
	}
}

// mcast offers one message (the refused one first) to n's core. It reports
// whether the core took it.
func (s *Sim) mcast(n *node) bool {
	payload := n.pending
	if payload == nil {
		n.next++
		payload = EncodePayload(NewMsgID(n.id, n.inc.Num, n.next), s.payloadSize(), s.fill)
	}
	err := n.core.Mcast(s.now, payload)
	ok := err == nil
	switch {
	case ok:
		s.chk.Accepted(n.inc, s.now, payload)
		n.pending = nil
	case errors.Is(err, srp.ErrQueueFull):
		n.pending = payload
	default:
		s.chk.report(KindCore, s.now, n.id, "Mcast of %d bytes: %v", len(payload), err)
		n.pending = nil
	}
	if s.trace != nil {
		id, _, _ := DecodePayload(payload)
		if ok {
			s.tracef(n, "mcast %v (%d bytes)", id, len(payload))
		} else {
			s.tracef(n, "mcast %v refused: %v", id, err)
		}
	}
	s.after(n)
	return ok
}

// traceLog puts the core's log lines into the trace, stamped with virtual
// time and node (the core logs only through cfg.Logger).
type traceLog struct {
	s *Sim
	n *node
}

func (w *traceLog) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		fmt.Fprintf(w.s.trace, "%s n%-2d log %s\n", fmtTime(w.s.now), w.n.id, line)
	}
	return len(p), nil
}
