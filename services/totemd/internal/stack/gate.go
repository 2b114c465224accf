package stack

import (
	"errors"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
)

// Multicasts during a service's sync round (libs/ipcproto's doc,
// "Multicasts during a sync round"): from the ring change (every
// configuration change), the local attach of its daemon, or the views of
// a service round (ServiceConfChg), until that service's ActivateService
// here, totemd takes from it only its sync messages (KindMcast with
// Sync). Its ordinary multicasts are refused with TryAgain through the
// ordinary stream's refusal (refused), so the daemon resends them, in
// order, and they are accepted once it was activated. That keeps every
// service's ordinary messages out of its own sync round, as corosync
// 3.1.7 does by refusing IPC requests during sync, without dropping any.
//
// Remaining window: an ordinary multicast acked OK before the ring broke
// but not yet sequenced by the old ring (in srp's new-message queue or
// the packer's buffer) is sent in the new ring, possibly inside the
// round. srp keeps its new-message queue across a ring change, as
// corosync's totemsrp does; corosync holds that queue behind its
// trans-ack gate until sync completes, needle runs srp without it
// (srp.Config.ManualTransAck is off), see the report of this change.

// gate starts the round of service id: ordinary multicasts are refused
// until ungate. The ordinary multicasts held unacknowledged for room in
// srp's queue are refused now, in order; the first of them becomes the
// one every later one waits for.
func (s *Stack) gate(id uint16) {
	if _, ok := s.services[id]; !ok {
		return
	}
	s.gated[id] = true
	w := s.waiting[id]
	if w == nil || w.empty() {
		return
	}
	s.refused[id] = w.head().id
	for !w.empty() {
		it := w.head()
		w.pop()
		s.send(w.svc, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: it.id, Status: cs.ErrTryAgain})
	}
	delete(s.waiting, id)
}

// gateAll starts a round for every attached service (a ring change).
func (s *Stack) gateAll() {
	for _, id := range sortedIDs(&s.idBuf, s.services) {
		s.gate(id)
	}
}

// ungate ends the round of service id (its ActivateService).
func (s *Stack) ungate(id uint16) { delete(s.gated, id) }

// refuseInRound answers an ordinary multicast of a service in its sync
// round: TryAgain, and the first one refused is the one every later one
// waits for (the ordinary stream's order, ipcproto's pipelining rule).
func (s *Stack) refuseInRound(id uint16, ses Session, m *ipcproto.Msg) bool {
	if !s.gated[id] {
		return false
	}
	if _, ok := s.refused[id]; !ok {
		s.refused[id] = m.ID
	}
	s.send(ses, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.ErrTryAgain})
	return true
}

// mcastSync takes a sync message (KindMcast with Sync): its own stream,
// accepted whether or not a round runs, never held; when srp's queue is
// full it is refused with TryAgain and every later sync message of the
// service until the refused one comes again.
func (s *Stack) mcastSync(id uint16, ses Session, m *ipcproto.Msg) {
	st := cs.ErrTryAgain
	if refused, ok := s.refusedSync[id]; !ok || m.ID == refused {
		err := s.packer.Send(s.groupA, m.Payload)
		switch {
		case err == nil:
			st = cs.OK
		case errors.Is(err, pg.ErrTooLarge):
			st = cs.ErrTooBig
		}
		if st == cs.ErrTryAgain {
			s.refusedSync[id] = m.ID
		} else {
			delete(s.refusedSync, id)
		}
	}
	s.send(ses, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: st, Sync: true})
}
