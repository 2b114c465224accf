package stack

import (
	"errors"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
)

// mcast queues a service's multicast for the ring and reports its ack, or
// now == false when the multicast waits for room in srp's queue: it is
// acknowledged when it gets in (drainWaiting), after every earlier one of
// its service. A service may have many multicasts in flight; only when a
// service's waiting list is full are they refused with TryAgain, and so
// that none overtakes one refused, every later one is refused too until
// the refused one comes again (the bus contract in ipcproto: resend from
// the first refused message on).
//
// An ordinary multicast acked OK before the ring broke but not yet
// sequenced by the old ring may be sent in the new ring, inside its
// service's round (gate.go says why).
func (s *Stack) mcast(id uint16, ses Session, m *ipcproto.Msg) (st cs.Error, now bool) {
	if refused, ok := s.refused[id]; ok && m.ID != refused {
		return cs.ErrTryAgain, true
	}
	w := s.waiting[id]
	if w == nil || w.empty() {
		if st, full := s.pack(m.Payload); !full {
			delete(s.refused, id)
			return st, true
		}
	}
	if w == nil {
		w = &mcastWait{}
		s.waiting[id] = w
	}
	if !w.push(ses, m.ID, m.Payload) {
		s.refused[id] = m.ID
		return cs.ErrTryAgain, true
	}
	delete(s.refused, id)
	return 0, false
}

// pack hands a service multicast to the packer: its ack status, or full
// when srp's queue has no room for it now.
func (s *Stack) pack(payload []byte) (st cs.Error, full bool) {
	err := s.packer.Send(s.groupA, payload)
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
func (s *Stack) drainWaiting() {
	if len(s.waiting) == 0 {
		return
	}
	for _, id := range sortedIDs(&s.idBuf, s.waiting) {
		w := s.waiting[id]
		if s.services[id] != w.svc {
			delete(s.waiting, id) // the service went away: nothing was acked
			continue
		}
		for !w.empty() {
			it := w.head()
			st, full := s.pack(it.payload)
			if full {
				break
			}
			w.pop()
			s.send(w.svc, &ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: it.id, Status: st})
		}
		if w.empty() {
			delete(s.waiting, id)
		}
	}
}

// pushOutbox moves the stack's own staged messages (sync, then cfg's)
// into the packer while it takes them.
func (s *Stack) pushOutbox() {
	for len(s.outbox) > 0 {
		if err := s.packer.Send(s.groupSync, s.outbox[0]); err != nil {
			break
		}
		s.outbox = s.outbox[1:]
	}
	for len(s.outboxA) > 0 {
		if err := s.packer.Send(s.groupA, s.outboxA[0]); err != nil {
			break
		}
		s.outboxA = s.outboxA[1:]
	}
}

// sortedIDs are m's keys in order, in a buffer reused by the next call:
// the stack visits services in one order on every run (map order is
// random, and the simulator replays runs).
func sortedIDs[V any](buf *[]uint16, m map[uint16]V) []uint16 {
	ids := (*buf)[:0]
	for id := range m {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	*buf = ids
	return ids
}

// onTokenReceived is srp's hook: push staged messages into the ring.
func (s *Stack) onTokenReceived() {
	s.pushOutbox()
	s.drainWaiting()
	s.ploadFill()
	s.packer.Flush()
}

// onTokenSent is srp's hook: the sync engine's worker runs here.
func (s *Stack) onTokenSent() {
	s.apply(s.sync.TokenSent())
}
