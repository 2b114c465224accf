// Package daemon is cpgd's adapter: the pure CPG core (internal/cpg) as a
// svchost.Service. It decodes libqb cpg requests (services/cpgd/wire),
// hands them and the ring's deliveries and sync rounds to the core, and
// carries out the core's Ready: ring multicasts through Host.Mcast, in
// order, and events encoded for their clients.
//
// Flow control follows corosync 3.1.7 (spec/client-api.md §4.3, addendum
// §5): while a sync round runs or the host's multicast backlog is
// congested, every cpg connection carries libqb's flow-control flag 2, so
// libcpg's cpg_mcast_joined fails at once with CS_ERR_TRY_AGAIN, and the
// flow-controlled requests that still arrive (JOIN, LEAVE, FINALIZE,
// PARTIAL_MCAST, zero-copy) get the generic TRY_AGAIN reply. Unlike 3.1.7
// an MCAST that slips through anyway is not dropped: the core queues it
// (held until the round ends) and it goes out in order — a multicast
// libcpg reported as sent is never lost while cpgd and totemd run.
//
// Zero-copy requests (9, 10, 11) are answered CS_ERR_NOT_SUPPORTED (id
// 14), as corosync after v3.1.10 does.
package daemon

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// serviceID is cpg's Corosync service id.
const serviceID = 2

// Flow-control flag values (libqb's QB_IPCS_RATE_* as corosync maps them).
const (
	fcOpen int32 = 0
	fcOff2 int32 = 2 // sync in progress or queue critical: only cpg mcasts are refused
)

// Defaults of the daemon.
const (
	// MaxBacklog is the number of multicasts waiting for totemd beyond
	// which clients are told to try again.
	MaxBacklog = 512
	// MaxBacklogBytes bounds the same queue in bytes, so large messages do
	// not pile up seconds of traffic in cpgd (corosync's totem queue is
	// bounded in bytes too).
	MaxBacklogBytes = 4 << 20
	// TickPeriod re-checks congestion (corosync's 1 ms timer re-checks
	// its queue level; a multicast's acceptance re-checks it too).
	TickPeriod = 10 * time.Millisecond
)

// Options are cpgd's svchost options.
func Options() svchost.Options {
	return svchost.Options{
		Program:    "cpgd",
		Usage:      "needle's cpg service daemon (corosync's closed process groups)",
		Service:    serviceID,
		Name:       "cpg",
		Endpoints:  []string{"cpg"},
		TickPeriod: TickPeriod,
		MaxBacklog: MaxBacklog,
		New:        func(c svchost.Config) (svchost.Service, error) { return newService(c), nil },
	}
}

// service is cpg as a svchost.Service. Owner goroutine only.
type service struct {
	log     hclog.Logger
	host    svchost.Host
	core    *cpg.Core
	clients map[cpg.ConnID]*svchost.Client
	fc      int32 // flag currently set on every client
	// failed are multicasts the host failed because the bus went away,
	// in order; they go back to the core (Requeue) when the bus is back.
	failed   [][]byte
	attached bool
	lost     uint64
	// mcasts and tryAgain count client multicasts accepted and requests
	// answered CS_ERR_TRY_AGAIN (metrics).
	mcasts, tryAgain, ringBytes uint64 // ringBytes: bytes the ring accepted
	// backlogBytes are the bytes handed to Host.Mcast and not yet done.
	backlogBytes int
	// evBuf is reused for every event: qbipc's SendEventCopy keeps no
	// reference to it (an event that has to wait is copied).
	evBuf []byte
}

func newService(c svchost.Config) *service {
	log := c.Log
	if c.Host != nil {
		log = c.Host.Logger("CPG")
	}
	return &service{log: log, host: c.Host, clients: map[cpg.ConnID]*svchost.Client{}, fc: fcOff2}
}

// Attached builds the core on the first attachment (the node id comes
// from totemd). A later attachment keeps it: the sync round that follows
// tells the other nodes our processes again.
func (s *service) Attached(h svchost.Host, a svchost.Attachment) {
	s.host = h
	s.attached = true
	if s.core != nil && s.core.NodeID() == a.NodeID {
		s.requeue()
		return
	}
	if s.core != nil {
		// totemd came back with another node id: nothing the old core knew
		// holds. Drop its clients; libcpg reports the loss to them.
		s.log.Warn("node id changed; dropping every client", "old", s.core.NodeID(), "new", a.NodeID)
		for _, c := range s.clients {
			c.Conn.Close()
		}
		s.clients = map[cpg.ConnID]*svchost.Client{}
		s.failed = nil
	}
	core, err := cpg.New(s.coreConfig(a.NodeID))
	if err != nil {
		h.Fatal(fmt.Errorf("cpg core: %w", err))
		return
	}
	s.core = core
	s.updateFlow()
}

// Detached: the core holds its ring messages until the round after the
// next attachment; multicasts the host failed come back to it then
// (mcastDone, requeue). Clients get flag 2 until the bus is back.
func (s *service) Detached() {
	s.attached = false
	if s.core != nil {
		s.core.Detached()
	}
	s.updateFlow()
}

// coreConfig is the core's configuration on node id.
func (s *service) coreConfig(id uint32) cpg.Config {
	return cpg.Config{NodeID: id, Warn: func(msg string, args ...any) { s.log.Warn(fmt.Sprintf(msg, args...)) }}
}

// requeue hands the failed multicasts back to the core, in order.
func (s *service) requeue() {
	if len(s.failed) > 0 && s.core != nil {
		s.log.Info("resending cpg messages the lost bus did not carry", "count", len(s.failed))
		s.core.Requeue(s.failed)
		s.failed = nil
	}
}

func (s *service) ConfChg(c ipcproto.Conf) {
	if s.core == nil {
		return
	}
	s.core.ConfChg(c.Type)
	s.flush()
}

func (s *service) Deliver(from uint32, payload []byte, swapped bool) {
	if s.core == nil {
		return
	}
	if err := s.core.Deliver(from, payload, swapped); err != nil {
		s.log.Warn("ring message refused", "from", from, "error", err)
	}
	s.flush()
}

func round(r svchost.SyncRound) cpg.Round {
	return cpg.Round{ID: r.ID, Ring: r.Ring, Members: r.Members, Trans: r.Trans, Service: r.Kind == svchost.ServiceSync}
}

func (s *service) SyncInit(r svchost.SyncRound) {
	if s.core == nil {
		return
	}
	s.core.SyncInit(round(r))
	s.flush()
}

func (s *service) SyncProcess(r svchost.SyncRound) bool {
	if s.core == nil {
		return true
	}
	done := s.core.SyncProcess(round(r))
	s.flush()
	return done
}

func (s *service) SyncActivate(r svchost.SyncRound) {
	if s.core == nil {
		return
	}
	s.core.SyncActivate(round(r))
	s.flush()
}

func (s *service) SyncAbort() {
	if s.core == nil {
		return
	}
	s.core.SyncAbort()
	s.flush()
}

// Connect registers a client; before the first attachment the client is
// refused with EAGAIN (libcpg: CS_ERR_TRY_AGAIN), as corosync refuses
// clients until it has initialised.
func (s *service) Connect(c *svchost.Client) error {
	if s.core == nil {
		return fmt.Errorf("cpg not ready: no ring yet: %w", syscall.EAGAIN)
	}
	id := cpg.ConnID(c.Conn.ID())
	if err := s.core.Connect(id); err != nil {
		return err
	}
	s.clients[id] = c
	if err := c.Conn.SetFlowControl(s.fc); err != nil {
		s.log.Debug("flow control flag", "conn", id, "error", err)
	}
	return nil
}

func (s *service) Disconnect(c *svchost.Client) {
	id := cpg.ConnID(c.Conn.ID())
	if _, ok := s.clients[id]; !ok {
		return
	}
	delete(s.clients, id)
	s.core.Disconnect(id)
	s.flush()
}

func (s *service) Tick(time.Time) { s.updateFlow() }

// flush carries out the core's Ready and re-evaluates flow control.
func (s *service) flush() {
	if s.core.HasReady() {
		rd := s.core.Ready()
		for _, m := range rd.Mcasts {
			s.backlogBytes += len(m)
			s.host.Mcast(m, func(e cs.Error) { s.mcastDone(m, e) })
		}
		for _, e := range rd.Events {
			s.sendEvent(e)
		}
	}
	s.updateFlow()
}

// mcastDone is the ring's verdict on one multicast. A lost bus fails it
// with CS_ERR_LIBRARY (the host retries TRY_AGAIN itself): it is kept and
// given back to the core when the bus returns, so an accepted multicast
// is not lost. Anything else (a message too big for the ring) is logged.
func (s *service) mcastDone(m []byte, e cs.Error) {
	s.backlogBytes -= len(m)
	switch e {
	case cs.OK:
		s.ringBytes += uint64(len(m))
	case cs.ErrLibrary:
		s.failed = append(s.failed, m)
		if s.attached {
			s.requeue() // failed after the new attachment began
		}
	default:
		s.lost++
		s.log.Error("ring refused a cpg message", "error", e, "bytes", len(m), "lost_so_far", s.lost)
	}
	s.updateFlow()
}

// congested is corosync's "sync in progress or queue critical".
func (s *service) congested() bool {
	return s.core == nil || s.core.InSync() || s.host == nil || s.host.Congested() || s.backlogBytes >= MaxBacklogBytes
}

// updateFlow sets libqb's flag on every client when the state changed.
func (s *service) updateFlow() {
	want := fcOpen
	if s.congested() {
		want = fcOff2
	}
	if want == s.fc {
		return
	}
	s.fc = want
	for id, c := range s.clients {
		if err := c.Conn.SetFlowControl(want); err != nil {
			s.log.Debug("flow control flag", "conn", id, "error", err)
		}
	}
}

// sendEvent encodes one core event for its client, into s.evBuf. A
// client in s.clients is not gone (Disconnect removes it), so the
// connection's SendEventCopy is what svchost's Client.SendEvent would do,
// without the buffer being kept.
func (s *service) sendEvent(e cpg.Event) {
	c := s.clients[e.Target()]
	if c == nil {
		return
	}
	s.evBuf = encodeEventInto(s.evBuf, e)
	if err := c.Conn.SendEventCopy(s.evBuf); err != nil && !errors.Is(err, qbipc.ErrClosed) {
		s.log.Warn("event not queued", "conn", e.Target(), "error", err)
	}
}

func addrs(in []cpg.Address) []wire.Address {
	out := make([]wire.Address, len(in))
	for i, a := range in {
		out[i] = wire.Address{NodeID: a.NodeID, PID: a.PID, Reason: uint32(a.Reason)}
	}
	return out
}

// encodeEventInto encodes e into buf's array if it is large enough.
func encodeEventInto(buf []byte, e cpg.Event) []byte {
	switch e := e.(type) {
	case cpg.ConfChgEvent:
		return wire.ConfChg{Group: e.Group, Members: addrs(e.Members), Left: addrs(e.Left), Joined: addrs(e.Joined)}.EncodeInto(buf)
	case cpg.DeliverEvent:
		return wire.Deliver{Group: e.Group, NodeID: e.NodeID, PID: e.PID, Msg: e.Data}.EncodeInto(buf)
	case cpg.PartialDeliverEvent:
		return wire.PartialDeliver{Group: e.Group, MsgLen: e.MsgLen, NodeID: e.NodeID, PID: e.PID, Type: uint32(e.Type), Frag: e.Data}.EncodeInto(buf)
	case cpg.TotemConfChgEvent:
		return wire.TotemConfChg{Ring: wire.RingID{NodeID: e.Ring.Rep, Seq: e.Ring.Seq}, Members: e.Members}.EncodeInto(buf)
	}
	panic(fmt.Sprintf("cpgd: unknown core event %T", e))
}
