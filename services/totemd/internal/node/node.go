// Package node is totemd's driver: the one goroutine that owns the pure
// cores (srp, pg, syncengine) and connects them to the world — transport
// sockets, the clock, the service bus and the ring-id file. Every input is
// handled to completion, then the cores' outputs are carried out; no core
// is touched from any other goroutine, so the cores stay deterministic and
// the driver stays thin.
package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/bus"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/ringid"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/syncengine"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

// Config is what the daemon hands the driver.
type Config struct {
	SRP       srp.Config       // Self, Nodes, timers; hooks are set by the driver
	Transport transport.Config // sockets
	StateDir  string           // ringid_<nodeid> lives here
	BusPath   string           // unix socket the service daemons attach to ("" = no bus)
	Logger    hclog.Logger     // MAIN
	TotemLog  hclog.Logger     // TOTEM
	SyncLog   hclog.Logger     // SYNC
	CfgLog    hclog.Logger     // CFG
	Cfg       CfgConfig        // the "cfg" client endpoint
	// Retune derives the totem settings and nodelist from cmap's keys,
	// which totemd follows to apply reloads and runtime writes as
	// corosync does; nil: the start-up configuration stays.
	Retune RetuneFunc
	// Relog re-applies a logging section from cmap's logging.* keys (a
	// reload changed them); nil: the start-up logging stays.
	Relog func(keys map[string]value.Value) error
}

// Membership is the ring as the node last installed it.
type Membership struct {
	Ring    srp.RingID
	Members []srp.NodeID
	Synced  bool // the service sync after the last change has completed
}

// Node runs one totemd.
type Node struct {
	cfg   Config
	log   hclog.Logger
	start time.Time

	srp    *srp.Node
	packer *pg.Packer
	recv   *pg.Receiver
	groups pg.Groups
	sync   *syncengine.Engine
	tr     *transport.Transport
	bus    *bus.Server

	held    []heldDelivery // service deliveries held until the ring's views (syncengine.HoldDeliveries)
	holding bool
	outs    []transport.Out // flush's scratch for the transport
	outbox  [][]byte        // sync messages waiting for room in the queue
	outboxA [][]byte        // service-group messages of totemd's own services (cfg), likewise
	cfgs    *cfgState
	exit    error // set by cfg: leave the loop
	leaving bool  // the leave message is being sent

	reqSeq        uint64            // ids of totemd's own bus requests
	pendingReload map[uint64]uint64 // bus request id → cfg reload seq
	retune        retuneState       // cmap's totem keys, for Retune
	ring          srp.RingID
	members       []srp.NodeID
	synced        bool
	services      map[uint16]*bus.Service
	refused       map[uint16]uint64     // per service: ID of the mcast refused with TryAgain, until it is sent again
	waiting       map[uint16]*mcastWait // per service: multicasts waiting for room in srp's queue (mcastwait.go)
	gated         map[uint16]bool       // services in their sync round: ordinary multicasts refused (syncgate.go)
	refusedSync   map[uint16]uint64     // per service: ID of the sync message refused with TryAgain

	calls chan func()
	mu    sync.Mutex // guards view
	view  Membership
	// watchers are told about every installed membership (tests, cfg).
	watchers []chan Membership
}

// heldDelivery is a service message waiting for its ring's views.
type heldDelivery struct {
	svc uint16
	msg *ipcproto.Msg
}

// now is the cores' clock: time since the driver started.
func (n *Node) now() srp.Time { return time.Since(n.start) }

// New builds the cores; Run opens the sockets and runs them.
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
	n := &Node{cfg: cfg, log: cfg.Logger, start: time.Now(), calls: make(chan func(), 64),
		services: map[uint16]*bus.Service{}, refused: map[uint16]uint64{}, waiting: map[uint16]*mcastWait{},
		gated: map[uint16]bool{}, refusedSync: map[uint16]uint64{}, pendingReload: map[uint64]uint64{},
		retune: retuneState{keys: svchost.NewMirror(), pending: map[uint64]string{}}}

	seq, err := ringid.Load(cfg.StateDir, uint32(cfg.SRP.Self))
	if err != nil {
		return nil, err
	}
	sc := cfg.SRP
	sc.RingSeq = seq
	sc.Logger = cfg.TotemLog
	sc.OnTokenReceived = n.onTokenReceived
	sc.OnTokenSent = n.onTokenSent
	if n.srp, err = srp.New(sc); err != nil {
		return nil, fmt.Errorf("totem: %w", err)
	}
	n.packer, err = pg.NewPacker(pg.Config{
		NetMTU: sc.NetMTU,
		Mcast:  func(f []byte) error { return n.srp.Mcast(n.now(), f) },
		Signal: func() { n.srp.Signal(n.now()) },
		Avail:  n.srp.Avail,
	})
	if err != nil {
		return nil, fmt.Errorf("totempg: %w", err)
	}
	n.recv = pg.NewReceiver(n.groups.Deliver)
	if err := n.groups.Join(n.deliverService, "a"); err != nil {
		return nil, err
	}
	if err := n.groups.Join(n.deliverSync, "sync"); err != nil {
		return nil, err
	}
	n.sync, err = syncengine.New(syncengine.Config{Self: uint32(sc.Self), Announce: syncengine.DefaultAnnounce()})
	if err != nil {
		return nil, fmt.Errorf("sync: %w", err)
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
		if n.bus, err = bus.Listen(ctx, n.cfg.BusPath, n.log.Named("bus")); err != nil {
			return err
		}
		defer n.bus.Close()
	}
	var busEvents <-chan bus.Event
	if n.bus != nil {
		busEvents = n.bus.Events()
	}

	if n.cfg.Cfg.Enabled {
		if err := n.startCfg(ctx); err != nil {
			return err
		}
	}
	n.srp.Start(n.now())
	n.flush()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	stats := time.NewTicker(1500 * time.Millisecond) // cmapd polls its stats map at this period
	defer stats.Stop()
	tookPackets := false // the last pass received datagrams
	for {
		n.armTimer(timer)
		if local := n.tr.TakeLocal(); len(local) > 0 {
			// This node's own copies of what it just sent, which the
			// loopback would have handed back at once; then whatever
			// else is ready, without waiting for it.
			n.receive(local)
			select {
			case <-ctx.Done():
				n.leave()
				return nil
			case ps := <-n.tr.Packets():
				n.receiveMore(ps)
			case <-timer.C:
				n.srp.Tick(n.now())
			case ev := <-busEvents:
				n.busMore(ev, busEvents)
			case f := <-n.calls:
				f()
			case <-stats.C:
				n.publishStats()
			default:
			}
		} else {
			// Datagrams first after any other pass (a token waiting
			// behind the services' requests holds up the whole ring),
			// but never twice in a row: under a flood of datagrams the
			// fair select below still serves timers and services.
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
				select {
				case <-ctx.Done():
					n.leave()
					return nil
				case ps := <-n.tr.Packets():
					n.receiveMore(ps)
					tookPackets = true
				case <-timer.C:
					n.srp.Tick(n.now())
				case ev := <-busEvents:
					n.busMore(ev, busEvents)
				case f := <-n.calls:
					f()
				case <-stats.C:
					n.publishStats()
				}
			}
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

// receive feeds a batch of datagrams to srp and says how many there were.
func (n *Node) receive(ps []transport.Packet) int {
	for _, p := range ps {
		if err := n.srp.Receive(n.now(), p.Frame); err != nil {
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
	n.srp.Leave(n.now())
	n.flush()
}

func (n *Node) armTimer(t *time.Timer) {
	if !t.Stop() {
		select {
		case <-t.C:
		default:
		}
	}
	if dl, ok := n.srp.NextDeadline(); ok {
		t.Reset(max(dl-n.now(), 0))
	} else {
		t.Reset(time.Hour)
	}
}

// flush carries out what the cores produced. Deliveries can make the sync
// engine multicast, which is queued in srp for a later token, so one pass
// of Ready per input is enough; the loop guards against anything else.
func (n *Node) flush() {
	for i := 0; i < 8; i++ {
		rd := n.srp.Ready()
		if rd.PersistRingSeq == 0 && len(rd.Sends) == 0 && len(rd.Deliveries) == 0 {
			return
		}
		if rd.PersistRingSeq != 0 {
			if err := ringid.Store(n.cfg.StateDir, uint32(n.cfg.SRP.Self), rd.PersistRingSeq); err != nil {
				n.log.Error("cannot store ring id", "error", err)
			}
		}
		if len(rd.Sends) > 0 {
			// One batch: a token visit's frames and the token leave with
			// a system call per socket, not per datagram (SendBatch).
			outs := n.outs[:0]
			for _, s := range rd.Sends {
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
		for _, d := range rd.Deliveries {
			if d.Conf != nil {
				n.confChange(d.Conf)
				continue
			}
			if err := n.recv.Receive(uint32(d.From), d.Payload, d.Swapped); err != nil {
				n.log.Debug("totempg frame dropped", "from", d.From, "error", err)
			}
		}
	}
}

// onTokenReceived is srp's hook: push staged messages into the ring.
func (n *Node) onTokenReceived() {
	n.pushOutbox()
	n.drainWaiting()
	n.packer.Flush()
}

// onTokenSent is srp's hook: the sync engine's worker runs here.
func (n *Node) onTokenSent() {
	n.apply(n.sync.TokenSent())
}

func (n *Node) pushOutbox() {
	for len(n.outbox) > 0 {
		if err := n.packer.Send([]string{"sync"}, n.outbox[0]); err != nil {
			break
		}
		n.outbox = n.outbox[1:]
	}
	for len(n.outboxA) > 0 {
		if err := n.packer.Send([]string{"a"}, n.outboxA[0]); err != nil {
			break
		}
		n.outboxA = n.outboxA[1:]
	}
}

// confChange hands a Totem configuration to the sync engine, which turns it
// into each attached service's view (syncengine/view.go): the services
// see their configuration changes through apply, in delivery order.
func (n *Node) confChange(c *srp.ConfChange) {
	n.gateAll() // every service's round starts with the ring change (syncgate.go)
	ids := toU32(c.Members)
	ring := syncengine.RingID{Rep: uint32(c.Ring.Rep), Seq: c.Ring.Seq}
	if c.Type == srp.Transitional {
		n.recv.ConfChange(toU32(c.Left))
		acts, err := n.sync.ConfChange(syncengine.Transitional, ids, ring)
		n.logErr("transitional configuration", err)
		n.apply(acts)
		return
	}
	n.ring, n.members, n.synced = c.Ring, slices.Clone(c.Members), false
	if n.cfgs != nil {
		for _, m := range c.Members {
			n.cfgs.everSeen[uint32(m)] = true
		}
	}
	n.publish()
	n.log.Info("new membership", "ring", fmt.Sprintf("%x.%x", c.Ring.Rep, c.Ring.Seq), "members", c.Members,
		"joined", c.Joined, "left", c.Left)
	acts, err := n.sync.ConfChange(syncengine.Regular, ids, ring)
	n.logErr("regular configuration", err)
	n.apply(acts)
}

// apply carries out sync engine actions.
func (n *Node) apply(acts []syncengine.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case syncengine.Multicast:
			n.outbox = append(n.outbox, a.Payload)
			n.pushOutbox()
		case syncengine.NewRing:
			// Called from a delivery, never from a token hook: srp is
			// not in the middle of a token visit.
			n.log.Info("forming a new ring of the same members: corosync members send their sync state only in a full round",
				"service", a.Service)
			n.srp.Reform(n.now())
		case syncengine.SyncStarted:
			n.cfg.SyncLog.Debug("sync started", "ring", ringString(a.Ring))
		case syncengine.SyncComplete:
			n.synced = true
			n.publish()
			n.cfg.SyncLog.Info("Completed service synchronization, ready to provide service.")
		case syncengine.ServiceConfChg:
			conf := a.Conf
			n.gate(uint16(a.Service))
			n.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &conf})
		case syncengine.HoldDeliveries:
			n.holding = true
		case syncengine.ReleaseDeliveries:
			n.holding = false
			held := n.held
			n.held = nil
			for _, h := range held {
				n.toService(h.svc, h.msg)
			}
		case syncengine.InitService:
			n.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: a.Round, SyncKind: syncKind(a.Kind),
				Ring: &ipcproto.Ring{Rep: a.Ring.Rep, Seq: a.Ring.Seq}, Trans: a.Trans, Members: a.Members})
		case syncengine.ProcessService:
			n.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: a.Round,
				SyncKind: syncKind(a.Kind), Ring: &ipcproto.Ring{Rep: uint32(n.ring.Rep), Seq: n.ring.Seq}})
		case syncengine.ActivateService:
			n.ungate(uint16(a.Service))
			n.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: a.Round, SyncKind: syncKind(a.Kind),
				Ring: &ipcproto.Ring{Rep: uint32(n.ring.Rep), Seq: n.ring.Seq}, Members: a.Members})
		case syncengine.AbortService:
			n.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncAbort, ID: a.Round})
		}
	}
}

// syncKind is the bus form of a round kind.
func syncKind(k syncengine.RoundKind) ipcproto.SyncKind {
	if k == syncengine.ServiceRound {
		return ipcproto.SyncService
	}
	return ipcproto.SyncFull
}

func (n *Node) toService(id uint16, m *ipcproto.Msg) {
	if svc, ok := n.services[id]; ok {
		n.sendSvc(svc, m)
	}
}

func (n *Node) sendSvc(svc *bus.Service, m *ipcproto.Msg) {
	if err := svc.Send(m); err != nil {
		n.log.Warn("service dropped", "service", svc.Name, "error", err)
	}
}

// deliverService routes a group "a" message to the daemon of its service.
func (n *Node) deliverService(from uint32, body []byte, swapped bool) {
	h, err := pg.DecodeExecHeader(body, swapped)
	if err != nil {
		n.log.Debug("service message dropped", "from", from, "error", err)
		return
	}
	if h.Service == pg.ServiceCfg {
		n.deliverCfg(from, body, swapped)
		return
	}
	m := &ipcproto.Msg{Kind: ipcproto.KindDeliver, From: from, Payload: slices.Clone(body), Swapped: swapped}
	if n.holding {
		// The new ring's service views are not known yet: the message
		// goes out after them (syncengine's HoldDeliveries).
		n.held = append(n.held, heldDelivery{svc: h.Service, msg: m})
		return
	}
	n.toService(h.Service, m)
}

// deliverSync feeds group "sync" messages to the sync engine.
func (n *Node) deliverSync(from uint32, body []byte, _ bool) {
	acts, err := n.sync.Deliver(from, body)
	n.logErr("sync message", err)
	n.apply(acts)
}

// handleBus reacts to what a service daemon did.
func (n *Node) handleBus(ev bus.Event) {
	svc := ev.Svc
	if ev.Msg == nil {
		if n.services[svc.ID] == svc {
			delete(n.services, svc.ID)
			delete(n.refused, svc.ID)
			delete(n.waiting, svc.ID)
			delete(n.gated, svc.ID)
			delete(n.refusedSync, svc.ID)
			n.log.Info("service detached", "service", svc.Name, "id", svc.ID, "error", ev.Err)
			acts, err := n.sync.ServiceDetached(syncengine.ServiceID(svc.ID))
			n.logErr("service detach", err)
			n.apply(acts)
		}
		return
	}
	m := ev.Msg
	switch m.Kind {
	case ipcproto.KindAttach:
		n.services[svc.ID] = svc
		delete(n.refused, svc.ID)
		delete(n.waiting, svc.ID)
		delete(n.refusedSync, svc.ID)
		n.gate(svc.ID) // until the activation of its first round
		n.log.Info("service attached", "service", svc.Name, "id", svc.ID)
		ring, ringMembers, members := n.sync.View(syncengine.ServiceID(svc.ID))
		n.sendSvc(svc, &ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: uint32(n.cfg.SRP.Self),
			Ring: &ring, RingMembers: ringMembers, Members: members})
		acts, err := n.sync.ServiceAttached(syncengine.ServiceID(svc.ID))
		n.logErr("service attach", err)
		n.apply(acts)
	case ipcproto.KindMcast:
		if m.Sync {
			n.mcastSync(svc, m)
			break
		}
		if n.refuseInRound(svc, m) {
			break
		}
		if st, now := n.mcast(svc, m); now {
			n.sendSvc(svc, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: st})
		}
	case ipcproto.KindSyncDone:
		n.apply(n.sync.ServiceDone(syncengine.ServiceID(svc.ID), m.ID))
	case ipcproto.KindRequest, ipcproto.KindResponse:
		n.route(svc, m)
	default:
		n.sendSvc(svc, &ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("unexpected %s from a service", m.Kind)})
	}
}

// mcast queues a service's multicast for the ring and reports its ack, or
// now == false when the multicast waits for room in srp's queue: it is
// acknowledged when it gets in (drainWaiting), after every earlier one of
// its service. A service may have many multicasts in flight; only when a
// service's waiting list is full are they refused with TryAgain, and so
// that none overtakes one refused, every later one is refused too until
// the refused one comes again (the bus contract in ipcproto: resend from
// the first refused message on).
func (n *Node) mcast(svc *bus.Service, m *ipcproto.Msg) (st cs.Error, now bool) {
	if id, ok := n.refused[svc.ID]; ok && m.ID != id {
		return cs.ErrTryAgain, true
	}
	w := n.waiting[svc.ID]
	if w == nil || w.empty() {
		if st, full := n.pack(m.Payload); !full {
			delete(n.refused, svc.ID)
			return st, true
		}
	}
	if w == nil {
		w = &mcastWait{}
		n.waiting[svc.ID] = w
	}
	if !w.push(svc, m.ID, m.Payload) {
		n.refused[svc.ID] = m.ID
		return cs.ErrTryAgain, true
	}
	delete(n.refused, svc.ID)
	return 0, false
}

// pack hands a service multicast to the packer: its ack status, or full
// when srp's queue has no room for it now.
func (n *Node) pack(payload []byte) (st cs.Error, full bool) {
	err := n.packer.Send([]string{"a"}, payload)
	switch {
	case err == nil:
		return cs.OK, false
	case errors.Is(err, pg.ErrTooLarge):
		return cs.ErrTooBig, false // never fits: not to be resent
	case errors.Is(err, pg.ErrQueueFull):
		return 0, true
	}
	return cs.ErrTryAgain, false
}

// drainWaiting moves waiting multicasts into the packer while srp has
// room, acknowledging each; it runs on every token visit, before the
// packer's flush, so they leave with this visit's frames.
func (n *Node) drainWaiting() {
	for id, w := range n.waiting {
		if n.services[id] != w.svc {
			delete(n.waiting, id) // the service went away: nothing was acked
			continue
		}
		for !w.empty() {
			it := w.head()
			st, full := n.pack(it.payload)
			if full {
				break
			}
			w.pop()
			n.sendSvc(w.svc, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: it.id, Status: st})
		}
		if w.empty() {
			delete(n.waiting, id)
		}
	}
}

// route forwards a local request or response between services: Service
// names the destination on the way in and the other end on the way out.
func (n *Node) route(src *bus.Service, m *ipcproto.Msg) {
	if m.Kind == ipcproto.KindResponse && m.Service == selfService {
		n.ownResponse(m)
		return
	}
	if m.Kind == ipcproto.KindRequest && m.Service == selfService {
		n.sendSvc(src, n.ownRequest(m)) // cmapd's hello and uidgid changes (cfg.go)
		return
	}
	dst, ok := n.services[m.Service]
	if !ok {
		if m.Kind == ipcproto.KindRequest {
			n.sendSvc(src, &ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: cs.ErrNotExist,
				Text: fmt.Sprintf("service %d is not attached on this node", m.Service)})
		}
		return
	}
	fwd := *m
	fwd.Service = src.ID
	n.sendSvc(dst, &fwd)
}

func (n *Node) logErr(what string, err error) {
	if err != nil {
		n.cfg.SyncLog.Warn(what+" rejected", "error", err)
	}
}

func (n *Node) publish() {
	v := Membership{Ring: n.ring, Members: slices.Clone(n.members), Synced: n.synced}
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

// Do runs f on the node goroutine (for status queries that read the cores)
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
	err := n.Do(ctx, func() { st = n.srp.Status() })
	return st, err
}

// TransportStats returns the socket counters.
func (n *Node) TransportStats() transport.Stats {
	if n.tr == nil {
		return transport.Stats{}
	}
	return n.tr.Stats()
}

func srpID(id uint32) srp.NodeID { return srp.NodeID(id) }

func toU32(ids []srp.NodeID) []uint32 {
	out := make([]uint32, len(ids))
	for i, id := range ids {
		out[i] = uint32(id)
	}
	return out
}

func ringString(r syncengine.RingID) string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }
