package stack

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/syncengine"
)

// SelfService is the service id totemd itself answers on the bus (it
// hosts cfg, service 1): requests to it and responses for it are the
// driver's (OutSelf).
const SelfService = pg.ServiceCfg

// toService queues m for the daemon of service id, if one is attached.
func (s *Stack) toService(id uint16, m *ipcproto.Msg) {
	if ses, ok := s.services[id]; ok {
		s.send(ses, m)
	}
}

// send queues m for session ses.
func (s *Stack) send(ses Session, m *ipcproto.Msg) {
	s.outs = append(s.outs, Out{Kind: OutService, Session: ses, Msg: m})
}

// handleBus reacts to what a service daemon did.
func (s *Stack) handleBus(ev Event) {
	id, ses := ev.Service, ev.Session
	if ses == nil {
		panic("stack: bus event without a session")
	}
	if ev.Msg == nil {
		if s.services[id] == ses {
			s.detach(ev)
		}
		return
	}
	m := ev.Msg
	switch m.Kind {
	case ipcproto.KindAttach:
		s.attach(ev)
	case ipcproto.KindMcast:
		if m.Sync {
			s.mcastSync(id, ses, m)
			break
		}
		if s.refuseInRound(id, ses, m) {
			break
		}
		if st, now := s.mcast(id, ses, m); now {
			s.send(ses, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: st})
		}
	case ipcproto.KindSyncDone:
		s.apply(s.sync.ServiceDone(syncengine.ServiceID(id), m.ID))
	case ipcproto.KindRequest, ipcproto.KindResponse:
		s.route(id, ses, m)
	default:
		s.send(ses, &ipcproto.Msg{Kind: ipcproto.KindError, Text: fmt.Sprintf("unexpected %s from a service", m.Kind)})
	}
}

// attach takes a daemon's session: it is told the views as the daemons
// already attached were last told them, and its service's round starts.
func (s *Stack) attach(ev Event) {
	id, ses := ev.Service, ev.Session
	s.services[id] = ses
	delete(s.refused, id)
	delete(s.waiting, id)
	delete(s.refusedSync, id)
	s.gate(id) // until the activation of its first round
	s.log.Info("service attached", "service", ev.Name, "id", id)
	ring, ringMembers, members := s.sync.View(syncengine.ServiceID(id))
	s.send(ses, &ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: uint32(s.cfg.SRP.Self),
		Ring: &ring, RingMembers: ringMembers, Members: members})
	acts, err := s.sync.ServiceAttached(syncengine.ServiceID(id))
	s.logErr("service attach", err)
	s.apply(acts)
}

// detach drops the daemon's session; the ring learns of it.
func (s *Stack) detach(ev Event) {
	id := ev.Service
	delete(s.services, id)
	delete(s.refused, id)
	delete(s.waiting, id)
	delete(s.gated, id)
	delete(s.refusedSync, id)
	s.log.Info("service detached", "service", ev.Name, "id", id, "error", ev.Err)
	acts, err := s.sync.ServiceDetached(syncengine.ServiceID(id))
	s.logErr("service detach", err)
	s.apply(acts)
}

// route forwards a local request or response between services: Service
// names the destination on the way in and the other end on the way out.
func (s *Stack) route(id uint16, src Session, m *ipcproto.Msg) {
	if m.Service == SelfService {
		s.outs = append(s.outs, Out{Kind: OutSelf, Session: src, Msg: m})
		return
	}
	dst, ok := s.services[m.Service]
	if !ok {
		if m.Kind == ipcproto.KindRequest {
			s.send(src, &ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: cs.ErrNotExist,
				Text: fmt.Sprintf("service %d is not attached on this node", m.Service)})
		}
		return
	}
	fwd := *m
	fwd.Service = id
	s.send(dst, &fwd)
}

// deliverService routes a group "a" message to the daemon of its service.
func (s *Stack) deliverService(from uint32, body []byte, swapped bool) {
	h, err := pg.DecodeExecHeader(body, swapped)
	if err != nil {
		s.log.Debug("service message dropped", "from", from, "error", err)
		return
	}
	if h.Service == pg.ServiceCfg {
		s.deliverCfg(from, body, swapped)
		return
	}
	if h.Service == pg.ServicePload && s.pload != nil {
		s.deliverPload(from, body, swapped)
		return
	}
	m := &ipcproto.Msg{Kind: ipcproto.KindDeliver, From: from, Payload: slices.Clone(body), Swapped: swapped}
	if s.holding {
		// The new ring's service views are not known yet: the message
		// goes out after them (syncengine's HoldDeliveries).
		s.held = append(s.held, heldDelivery{svc: h.Service, msg: m})
		return
	}
	s.toService(h.Service, m)
}

func (s *Stack) logErr(what string, err error) {
	if err != nil {
		s.slog.Warn(what+" rejected", "error", err)
	}
}
