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
// an attached service) are dropped.
func (e *Engine) startPending(out []Action) []Action {
	for e.cur == nil && len(e.pending) > 0 {
		c := e.pending[0]
		e.pending = e.pending[1:]
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
