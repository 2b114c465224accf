package syncengine

import (
	"slices"
)

// onServiceChange queues a needle member's attach/detach. Changes are
// applied one round at a time in delivery order, so every needle node runs
// the same per-service rounds in the same order.
func (e *Engine) onServiceChange(from uint32, m ServiceChange) []Action {
	if !e.needle[from] {
		// Only a needle member (one that sent a ServiceSet in this ring)
		// can send this; anything else is a sender bug.
		e.stats.OutOfPhase++
		return nil
	}
	e.pending = append(e.pending, change{from: from, svc: m.Service, attached: m.Attached})
	if e.cur != nil {
		return nil
	}
	return e.startPending(nil)
}

// startPending applies queued changes until one alters a service membership
// and starts that service's round. Changes that alter nothing (an attach of
// an attached service) are dropped, and so is an attach that needs a new
// ring (needsRing).
func (e *Engine) startPending(out []Action) []Action {
	for e.cur == nil && len(e.pending) > 0 {
		c := e.pending[0]
		e.pending = e.pending[1:]
		if c.attached && e.needsRing(c.svc) {
			// Every needle member decides alike, from agreed state: no
			// round, no view; the member that attached asks for the new
			// ring, whose ServiceSet carries the attachment.
			if c.from == e.cfg.Self && e.attached[c.svc] {
				out = append(out, NewRing{Service: c.svc})
			}
			continue
		}
		prev := e.membersOf(c.svc)
		set := slices.DeleteFunc(slices.Clone(e.sets[c.from]), func(s ServiceID) bool { return s == c.svc })
		if c.attached {
			set = uniqueSorted(append(set, c.svc))
		}
		e.sets[c.from] = set
		next := e.membersOf(c.svc)
		if slices.Equal(prev, next) {
			continue
		}
		var trans []uint32
		for _, m := range prev {
			if slices.Contains(next, m) {
				trans = append(trans, m)
			}
		}
		out = e.showServiceChange(out, c.svc, e.snapshot())
		// Only needle members run per-service rounds: a corosync node never
		// sees them (it ignores the needle ids) and keeps counting as
		// attached. Needle members without the daemon are placeholders.
		var parts []uint32
		for _, m := range e.members {
			if e.needle[m] {
				parts = append(parts, m)
			}
		}
		local := e.attached[c.svc] && slices.Contains(next, e.cfg.Self)
		e.seq++
		e.cur = &round{
			seq:          e.seq,
			kind:         ServiceRound,
			inited:       true,
			services:     []entry{{id: c.svc, local: local}},
			participants: parts,
			received:     map[uint32]bool{},
			svcMembers:   next,
		}
		if local {
			out = append(out, InitService{
				Service: c.svc, Round: e.seq, Kind: ServiceRound, Ring: e.ring,
				Trans: trans, Members: slices.Clone(next),
			})
		}
		out = e.enterProcess(out)
	}
	return out
}

// needsRing reports whether a daemon attaching for svc needs a full round
// rather than a per-service one: some member of the ring is a corosync
// node running svc (it listed svc in its SERVICE_BUILD and sent no
// ServiceSet). A corosync node sends a service's sync state (votequorum's
// NODEINFO, CPG's joinlist, ...) only in the full round after a ring
// change and never takes part in per-service rounds, so a daemon that
// attached after the ring's full round would not hear that state until
// the next ring change: the needle-only round would activate it with the
// corosync members' state missing (a restarted quorumd without their
// votes). A new ring of the same members gives every member the full
// round; to a corosync node it is an ordinary membership change without
// anyone joining or leaving.
func (e *Engine) needsRing(svc ServiceID) bool {
	for _, m := range e.members {
		if !e.needle[m] && slices.Contains(e.sets[m], svc) {
			return true
		}
	}
	return false
}

// onServiceBarrier counts a needle barrier for the running per-service
// round; one naming another service is ignored.
func (e *Engine) onServiceBarrier(from uint32, svc ServiceID) []Action {
	r := e.cur
	if r == nil || r.kind != ServiceRound || r.services[0].id != svc {
		e.stats.OutOfPhase++
		return nil
	}
	if !r.mark(from) {
		return nil
	}
	return e.barrierReached(nil)
}
