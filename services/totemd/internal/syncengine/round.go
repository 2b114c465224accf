package syncengine

// round is one run of the barrier protocol: a full round over the union
// service list, or a per-service round over one service.
type round struct {
	seq      uint64
	kind     RoundKind
	building bool // full round: waiting for every member's SERVICE_BUILD
	inited   bool // the local services got their InitService

	services []entry // ascending id; a per-service round has one
	idx      int     // the service being processed

	participants []uint32        // who must send each barrier
	received     map[uint32]bool // participants heard from in this step

	worker bool // run on the next TokenSent (corosync's schedwrk)
	asked  bool // ProcessService was returned for services[idx]

	svcMembers []uint32 // per-service round: the new service membership
}

// entry is one service of a round.
type entry struct {
	id        ServiceID
	local     bool // initialised in this round and its daemon still attached
	activated bool
}

// abort ends the round in progress (a configuration change arrived). Every
// local service initialised in it and not yet activated is aborted. Corosync
// calls sync_abort only for the current service and only while its worker
// runs; a superset costs nothing (all 3.1.7 aborts drop partial state at
// most) and gives daemons a simple contract: each InitService is closed by
// one ActivateService or AbortService, unless the daemon detached. A full
// round aborted while building initialised nobody and aborts nobody.
func (e *Engine) abort(out []Action) []Action {
	r := e.cur
	if r == nil {
		return out
	}
	for _, s := range r.services {
		if r.inited && s.local && !s.activated {
			out = append(out, AbortService{Service: s.id, Round: r.seq})
		}
	}
	e.cur = nil
	return out
}

// mark records that from reached this step and reports whether every
// participant has. Senders outside the participants are not counted.
func (r *round) mark(from uint32) bool {
	for _, p := range r.participants {
		if p == from {
			r.received[p] = true
		}
	}
	for _, p := range r.participants {
		if !r.received[p] {
			return false
		}
	}
	return true
}

// enterProcess starts the step for services[idx] (corosync's
// sync_process_enter): clear the barrier count, run the worker from the next
// token-sent event.
func (e *Engine) enterProcess(out []Action) []Action {
	r := e.cur
	r.building = false
	if r.idx >= len(r.services) {
		return e.finish(out)
	}
	clear(r.received)
	r.worker, r.asked = true, false
	return out
}

// sendBarrier stops the worker and multicasts this node's barrier for the
// current step.
func (e *Engine) sendBarrier(out []Action) []Action {
	r := e.cur
	r.worker = false
	var p []byte
	if r.kind == FullRound {
		p = Barrier{Ring: e.ring}.Marshal()
	} else {
		p = ServiceBarrier{Ring: e.ring, Service: r.services[r.idx].id}.Marshal()
	}
	return append(out, Multicast{Payload: p})
}

// barrierReached activates the current service (if local) and moves to the
// next one or ends the round.
func (e *Engine) barrierReached(out []Action) []Action {
	r := e.cur
	s := &r.services[r.idx]
	if s.local {
		s.activated = true
		members := r.svcMembers
		if r.kind == FullRound {
			members = e.membersOf(s.id)
		}
		out = append(out, ActivateService{Service: s.id, Round: r.seq, Kind: r.kind, Members: members})
	}
	r.idx++
	return e.enterProcess(out)
}

// finish ends the current round; a full round also ends "sync in progress".
// Queued per-service rounds start right away: every node reaches this point
// at the same message of the total order, so they start in step.
func (e *Engine) finish(out []Action) []Action {
	r := e.cur
	e.cur = nil
	if r.kind == FullRound {
		e.inSync = false
		out = append(out, SyncComplete{Ring: e.ring})
	}
	return e.startPending(out)
}
