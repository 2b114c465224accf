// Package node is totemd's driver: the one goroutine that owns the node
// stack (package stack: srp, pg, syncengine and the bus's decisions) and
// connects it to the world — transport sockets, the clock, the service
// bus, the ring-id file and the cfg service's libqb endpoint. Every input
// is stepped into the stack to completion, then what the stack is Ready
// to have done is carried out; nothing touches the stack from any other
// goroutine, so it stays deterministic and the driver stays thin.
package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/bus"
	"github.com/needle-cluster/needle/services/totemd/internal/ringid"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

// Config is what the daemon hands the driver.
type Config struct {
	SRP       srp.Config       // Self, Nodes, timers; hooks are set by the stack
	Transport transport.Config // sockets
	StateDir  string           // ringid_<nodeid> lives here
	BusPath   string           // unix socket the service daemons attach to ("" = no bus)
	Logger    hclog.Logger     // MAIN
	TotemLog  hclog.Logger     // TOTEM
	SyncLog   hclog.Logger     // SYNC
	CfgLog    hclog.Logger     // CFG
	PloadLog  hclog.Logger     // PLOAD
	// Pload serves the pload service (corosync's service 4) inside the
	// stack, its keys followed through cmapd (needs the bus).
	Pload bool
	Cfg   CfgConfig // the "cfg" client endpoint
	// Retune derives the totem settings and nodelist from cmap's keys,
	// which totemd follows to apply reloads and runtime writes as
	// corosync does; nil: the start-up configuration stays.
	Retune RetuneFunc
	// Relog re-applies a logging section from cmap's logging.* keys (a
	// reload changed them); nil: the start-up logging stays.
	Relog func(keys map[string]value.Value) error
}

// Membership is the ring as the node last installed it.
type Membership = stack.Membership

// Node runs one totemd.
type Node struct {
	cfg   Config
	log   hclog.Logger
	start time.Time

	st  *stack.Stack
	tr  *transport.Transport
	bus *bus.Server

	outs    []transport.Out // flush's scratch for the transport
	cfgs    *cfgState
	exit    error // set by cfg: leave the loop
	leaving bool  // the leave message is being sent

	reqSeq        uint64            // ids of totemd's own bus requests
	pendingReload map[uint64]uint64 // bus request id → cfg reload seq
	retune        retuneState       // cmap's totem keys, for Retune
	ploads        ploadState        // cmap's pload keys, for the stack's pload

	calls chan func()
	mu    sync.Mutex // guards view
	view  Membership
	// watchers are told about every installed membership (tests).
	watchers []chan Membership
}

// now is the stack's clock: time since the driver started.
func (n *Node) now() srp.Time { return time.Since(n.start) }

// New builds the stack; Run opens the sockets and runs it.
func New(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = hclog.NewNullLogger()
	}
	if cfg.TotemLog == nil {
		cfg.TotemLog = cfg.Logger.Named("TOTEM")
	}
	if cfg.SyncLog == nil {
		cfg.SyncLog = cfg.Logger.Named("SYNC")
	}
	if cfg.CfgLog == nil {
		cfg.CfgLog = cfg.Logger.Named("CFG")
	}
	if cfg.PloadLog == nil {
		cfg.PloadLog = cfg.Logger.Named("PLOAD")
	}
	n := &Node{cfg: cfg, log: cfg.Logger, start: time.Now(), calls: make(chan func(), 64),
		pendingReload: map[uint64]uint64{},
		retune:        retuneState{keys: svchost.NewMirror(), pending: map[uint64]string{}},
		ploads:        ploadState{keys: svchost.NewMirror()}}

	seq, err := ringid.Load(cfg.StateDir, uint32(cfg.SRP.Self))
	if err != nil {
		return nil, err
	}
	sc := cfg.SRP
	sc.RingSeq = seq
	sc.Logger = cfg.TotemLog
	n.st, err = stack.New(stack.Config{SRP: sc, Logger: cfg.Logger, SyncLog: cfg.SyncLog, Cfg: stack.CfgConfig{
		Enabled: cfg.Cfg.Enabled, Nodelist: cfg.Cfg.Nodelist, ShutdownTimeout: cfg.Cfg.ShutdownTimeout},
		Pload: cfg.Pload && cfg.BusPath != ""})
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Run opens the transport and the bus and runs until ctx ends; then it
// sends the leave message so peers re-form at once.
func (n *Node) Run(ctx context.Context) error {
	var err error
	tc := n.cfg.Transport
	tc.LocalLoop = true // own copies skip the kernel (served first in the loop below)
	n.tr, err = transport.Open(ctx, tc)
	if err != nil {
		return err
	}
	defer n.tr.Close()
	if n.cfg.BusPath != "" {
		var hosted []uint16
		if n.st.Ploading() {
			hosted = append(hosted, svcid.Pload)
		}
		if n.bus, err = bus.Listen(ctx, n.cfg.BusPath, n.log.Named("bus"), hosted...); err != nil {
			return err
		}
		defer n.bus.Close()
	}
	in := inputs{ctx: ctx, timer: time.NewTimer(time.Hour), ready: make(chan struct{})}
	close(in.ready)
	if n.bus != nil {
		in.bus = n.bus.Events()
	}

	if n.cfg.Cfg.Enabled {
		if err := n.startCfg(ctx); err != nil {
			return err
		}
	}
	n.step(stack.Event{Kind: stack.Start})
	n.flush()
	defer in.timer.Stop()
	in.stats = time.NewTicker(1500 * time.Millisecond) // cmapd polls its stats map at this period
	defer in.stats.Stop()
	tookPackets := false // the last pass received datagrams
	for {
		n.armTimer(in.timer)
		var stop bool
		if local := n.tr.TakeLocal(); len(local) > 0 {
			// This node's own copies of what it just sent, which the
			// loopback would have handed back at once; then whatever
			// else is ready, without waiting for it.
			n.receive(local)
			_, stop = n.serve(&in, false)
		} else {
			// Datagrams first after any other pass (a token waiting
			// behind the services' requests holds up the whole ring),
			// but never twice in a row: under a flood of datagrams the
			// fair select of serve still serves timers and services.
			ps, first := []transport.Packet(nil), false
			if !tookPackets {
				select {
				case ps = <-n.tr.Packets():
					first = true
				default:
				}
			}
			tookPackets = first
			if first {
				n.receiveMore(ps)
			} else {
				tookPackets, stop = n.serve(&in, true)
			}
		}
		if stop {
			n.leave()
			return nil
		}
		n.flush()
		switch n.exit {
		case nil:
		case errShutdown:
			n.log.Info("shutdown requested through cfg: leaving the ring")
			n.leave()
			return nil
		default:
			return n.exit
		}
	}
}

// inputs are the loop's channels besides the transport's.
type inputs struct {
	ctx   context.Context
	timer *time.Timer
	stats *time.Ticker
	bus   <-chan bus.Event // nil without a bus
	ready chan struct{}    // closed: serve's way not to wait
}

// serve handles one input: the first to come with wait, or one already
// there without (then it may also return having handled nothing: the
// closed ready channel stands in for select's default, and competes with
// the inputs ready at the same time, which only costs a pass of the
// loop). It says whether datagrams were taken, and stop when ctx ended.
func (n *Node) serve(in *inputs, wait bool) (packets, stop bool) {
	var poll <-chan struct{}
	if !wait {
		poll = in.ready
	}
	select {
	case <-in.ctx.Done():
		return false, true
	case ps := <-n.tr.Packets():
		n.receiveMore(ps)
		return true, false
	case <-in.timer.C:
		n.step(stack.Event{Kind: stack.Tick})
	case ev := <-in.bus:
		n.busMore(ev, in.bus)
	case f := <-n.calls:
		f()
	case <-in.stats.C:
		n.publishStats()
	case <-poll:
	}
	return false, false
}

// step hands the stack one input now.
func (n *Node) step(ev stack.Event) {
	if err := n.st.Step(n.now(), ev); err != nil {
		n.log.Error("stack refused an input", "kind", ev.Kind, "error", err)
	}
}

// maxReceiveBatch bounds the datagrams one pass of the loop takes (a
// window's worth, give or take the last batch): timers, the bus and calls
// are served between passes.
const maxReceiveBatch = 64

// receiveMore receives a batch and every datagram that already arrived
// after it, before carrying out what they produced: a token visit's
// frames then reach the services as one bus write, and the token goes on
// with the frames this node sends in one system call, instead of a flush
// (and a wake-up of each writer) per datagram.
func (n *Node) receiveMore(ps []transport.Packet) {
	taken := n.receive(ps)
	for taken < maxReceiveBatch {
		select {
		case ps := <-n.tr.Packets():
			taken += n.receive(ps)
			continue
		default:
		}
		break
	}
}

// maxBusBatch bounds the service requests one pass of the loop handles.
const maxBusBatch = 64

// busMore handles a service event and those already queued behind it (a
// service's stream of multicasts), before carrying out what they
// produced: one pass of the loop, not one per multicast. A request to
// leave the loop (n.exit) ends the batch.
func (n *Node) busMore(ev bus.Event, events <-chan bus.Event) {
	n.handleBus(ev)
	for more := maxBusBatch - 1; more > 0 && n.exit == nil; more-- {
		select {
		case ev := <-events:
			n.handleBus(ev)
			continue
		default:
		}
		break
	}
}

// handleBus steps what a service daemon did into the stack.
func (n *Node) handleBus(ev bus.Event) {
	if ev.Msg == nil {
		n.step(stack.BusEnded(ev.Svc, ev.Svc.ID, ev.Svc.Name, ev.Err))
		return
	}
	n.step(stack.BusEvent(ev.Svc, ev.Svc.ID, ev.Svc.Name, ev.Msg))
}

// receive feeds a batch of datagrams to the stack and says how many
// there were.
func (n *Node) receive(ps []transport.Packet) int {
	for _, p := range ps {
		if err := n.st.Step(n.now(), stack.Event{Kind: stack.Datagram, Frame: p.Frame}); err != nil {
			n.log.Trace("frame dropped", "from", p.From, "error", err)
		}
	}
	return len(ps)
}

// leave multicasts the leave message, so that the other nodes re-form at
// once instead of waiting out the token timeout. The transport's sockets
// stay open until Run returns (transport.Open), however the node was
// stopped.
func (n *Node) leave() {
	n.leaving = true
	n.step(stack.Event{Kind: stack.Leave})
	n.flush()
}

func (n *Node) armTimer(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	if dl, ok := n.st.NextDeadline(); ok {
		t.Reset(max(dl-n.now(), 0))
	} else {
		t.Reset(time.Hour)
	}
}

// flush carries out what the stack is ready to have done, until it has
// nothing more (stack.Passes bounds it).
func (n *Node) flush() {
	for i := 0; i < stack.Passes; i++ {
		rd := n.st.Ready()
		if rd.Broken != nil && n.exit == nil {
			// srp found its own state inconsistent and left the ring
			// (its leave is in rd.Sends): deliver nothing more, stop,
			// and let the service manager start a fresh node.
			n.log.Error("Totem's state is inconsistent: left the ring and stopping", "error", rd.Broken)
			n.exit = fmt.Errorf("node: %w", rd.Broken)
		}
		if rd.Empty() {
			return
		}
		if rd.PersistRingSeq != 0 {
			if err := ringid.Store(n.cfg.StateDir, uint32(n.cfg.SRP.Self), rd.PersistRingSeq); err != nil {
				n.log.Error("cannot store ring id", "error", err)
			}
		}
		if len(rd.Sends) > 0 {
			n.send(rd.Sends)
		}
		for _, o := range rd.Outs {
			n.carry(o)
		}
		for _, v := range rd.Views {
			n.publish(v)
		}
		n.st.Advance(rd)
	}
	n.log.Error("the node stack did not settle", "passes", stack.Passes)
}

// send transmits srp's datagrams as one batch: a token visit's frames and
// the token leave with a system call per socket, not per datagram
// (SendBatch).
func (n *Node) send(sends []srp.Send) {
	outs := n.outs[:0]
	for _, s := range sends {
		outs = append(outs, transport.Out{To: uint32(s.To), Frame: s.Frame})
	}
	err := n.tr.SendBatch(outs)
	clear(outs)
	n.outs = outs[:0]
	if err != nil && n.leaving {
		n.log.Warn("leave message not sent: the other nodes will wait out the token timeout", "error", err)
	} else if err != nil {
		n.log.Trace("send failed", "error", err)
	}
}

// carry carries out one output of the stack.
func (n *Node) carry(o stack.Out) {
	switch o.Kind {
	case stack.OutService:
		n.sendSvc(o.Session.(*bus.Service), o.Msg)
	case stack.OutSelf:
		if o.Msg.Kind == ipcproto.KindResponse {
			n.ownResponse(o.Msg)
			return
		}
		n.sendSvc(o.Session.(*bus.Service), n.ownRequest(o.Msg)) // cmapd's hello and uidgid changes (cfg.go)
	case stack.OutCfgAction:
		n.cfgAction(o.Cfg)
	case stack.OutPload:
		n.ploadOut(o.Pload)
	default:
		panic(fmt.Sprintf("node: unknown stack output %d", o.Kind))
	}
}

// service is the session of service id's daemon, nil when none is
// attached.
func (n *Node) service(id uint16) *bus.Service {
	if s, ok := n.st.Attached(id).(*bus.Service); ok {
		return s
	}
	return nil
}

func (n *Node) sendSvc(svc *bus.Service, m *ipcproto.Msg) {
	if err := svc.Send(m); err != nil {
		n.log.Warn("service dropped", "service", svc.Name, "error", err)
	}
}

// publish makes a membership the stack installed visible to Membership
// and the watchers.
func (n *Node) publish(v Membership) {
	n.mu.Lock()
	n.view = v
	ws := n.watchers
	n.mu.Unlock()
	for _, w := range ws {
		select {
		case w <- v:
		default:
		}
	}
}

// Membership returns the ring last installed; safe from any goroutine.
func (n *Node) Membership() Membership {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.view
}

// Watch returns a channel that receives every membership installed from now
// on (a slow reader misses intermediate ones, never the latest).
func (n *Node) Watch() <-chan Membership {
	ch := make(chan Membership, 16)
	n.mu.Lock()
	n.watchers = append(n.watchers, ch)
	n.mu.Unlock()
	return ch
}

// Do runs f on the node goroutine (for status queries that read the stack)
// and waits for it.
func (n *Node) Do(ctx context.Context, f func()) error {
	done := make(chan struct{})
	select {
	case n.calls <- func() { f(); close(done) }:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status reads the SRP core's status on the node goroutine.
func (n *Node) Status(ctx context.Context) (srp.Status, error) {
	var st srp.Status
	err := n.Do(ctx, func() { st = n.st.Status() })
	return st, err
}

// TransportStats returns the socket counters.
func (n *Node) TransportStats() transport.Stats {
	if n.tr == nil {
		return transport.Stats{}
	}
	return n.tr.Stats()
}
