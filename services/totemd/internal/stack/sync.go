package stack

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/syncengine"
)

// deliverSync feeds group "sync" messages to the sync engine.
func (s *Stack) deliverSync(from uint32, body []byte, _ bool) {
	acts, err := s.sync.Deliver(from, body)
	s.logErr("sync message", err)
	s.apply(acts)
}

// confChange hands a Totem configuration to the sync engine, which turns it
// into each attached service's view (syncengine/view.go): the services
// see their configuration changes through apply, in delivery order.
func (s *Stack) confChange(c *srp.ConfChange) {
	s.gateAll() // every service's round starts with the ring change (gate.go)
	ids := toU32(c.Members)
	ring := syncengine.RingID{Rep: uint32(c.Ring.Rep), Seq: c.Ring.Seq}
	if c.Type == srp.Transitional {
		s.recv.ConfChange(toU32(c.Left))
		acts, err := s.sync.ConfChange(syncengine.Transitional, ids, ring)
		s.logErr("transitional configuration", err)
		s.apply(acts)
		return
	}
	// A message of this node that straddles the change goes out again
	// whole; then every partial message is dropped, here as on every
	// other member (straddle.go, pg's doc).
	s.repackStraddle()
	s.recv.DiscardPartial()
	s.ring, s.members, s.synced = c.Ring, slices.Clone(c.Members), false
	s.cfgSeen(c.Members)
	s.publish()
	s.log.Info("new membership", "ring", fmt.Sprintf("%x.%x", c.Ring.Rep, c.Ring.Seq), "members", c.Members,
		"joined", c.Joined, "left", c.Left)
	acts, err := s.sync.ConfChange(syncengine.Regular, ids, ring)
	s.logErr("regular configuration", err)
	s.apply(acts)
}

// publish reports the ring and its sync state in the next Ready.
func (s *Stack) publish() {
	s.views = append(s.views, s.Membership())
}

// apply carries out sync engine actions.
func (s *Stack) apply(acts []syncengine.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case syncengine.Multicast:
			s.outbox = append(s.outbox, a.Payload)
			s.pushOutbox()
		case syncengine.NewRing:
			// Called from a delivery, never from a token hook: srp is
			// not in the middle of a token visit.
			s.log.Info("forming a new ring of the same members: corosync members send their sync state only in a full round",
				"service", a.Service)
			s.srp.Reform(s.now)
		case syncengine.SyncStarted:
			s.slog.Debug("sync started", "ring", ringString(a.Ring))
		case syncengine.SyncComplete:
			s.synced = true
			s.publish()
			s.slog.Info("Completed service synchronization, ready to provide service.")
		case syncengine.ServiceConfChg:
			conf := a.Conf
			s.gate(uint16(a.Service))
			s.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &conf})
		case syncengine.HoldDeliveries:
			s.holding = true
		case syncengine.ReleaseDeliveries:
			s.holding = false
			held := s.held
			s.held = nil
			for _, h := range held {
				s.toService(h.svc, h.msg)
			}
		case syncengine.InitService:
			s.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: a.Round, SyncKind: syncKind(a.Kind),
				Ring: &ipcproto.Ring{Rep: a.Ring.Rep, Seq: a.Ring.Seq}, Trans: a.Trans, Members: a.Members})
		case syncengine.ProcessService:
			s.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: a.Round,
				SyncKind: syncKind(a.Kind), Ring: &ipcproto.Ring{Rep: uint32(s.ring.Rep), Seq: s.ring.Seq}})
		case syncengine.ActivateService:
			s.ungate(uint16(a.Service))
			s.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: a.Round, SyncKind: syncKind(a.Kind),
				Ring: &ipcproto.Ring{Rep: uint32(s.ring.Rep), Seq: s.ring.Seq}, Members: a.Members})
		case syncengine.AbortService:
			s.toService(uint16(a.Service), &ipcproto.Msg{Kind: ipcproto.KindSyncAbort, ID: a.Round})
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

func toU32(ids []srp.NodeID) []uint32 {
	out := make([]uint32, len(ids))
	for i, id := range ids {
		out[i] = uint32(id)
	}
	return out
}

func ringString(r syncengine.RingID) string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }
