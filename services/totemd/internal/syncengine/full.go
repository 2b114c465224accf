package syncengine

import (
	"cmp"
	"slices"
)

// startFull begins the round after a regular configuration (corosync's
// sync_start): announce our services, initialise the local ones, then wait
// for every member's SERVICE_BUILD.
func (e *Engine) startFull(out []Action, members []uint32, ring RingID) ([]Action, error) {
	e.ring = ring
	e.members = slices.Clone(members)
	// Corosync passes sync_init the transitional members that are also in
	// the new ring, in transitional order.
	var trans []uint32
	for _, t := range e.trans {
		if slices.Contains(members, t) {
			trans = append(trans, t)
		}
	}
	e.trans = trans
	clear(e.needle)
	clear(e.sets)

	att := e.attachedList()
	list := slices.Clone(e.cfg.Announce)
	for _, s := range att {
		if !slices.Contains(list, s) && len(list) < MaxServiceList {
			list = append(list, s)
		}
	}
	slices.Sort(list)

	e.seq++
	r := &round{
		seq:          e.seq,
		kind:         FullRound,
		building:     true,
		participants: slices.Clone(members),
		received:     map[uint32]bool{},
	}
	for _, s := range list {
		r.services = append(r.services, entry{id: s, local: e.attached[s]})
	}
	e.cur = r

	set, err := ServiceSet{Ring: ring, Services: att}.Marshal()
	if err != nil {
		return out, err
	}
	build, err := ServiceBuild{Ring: ring, Services: list}.Marshal()
	if err != nil {
		return out, err
	}
	// The ServiceSet goes first: per-sender FIFO then guarantees that when
	// the last SERVICE_BUILD arrives, every needle member is known.
	return append(out, Multicast{Payload: set}, Multicast{Payload: build}), nil
}

// buildDone ends the building step of a full round: the ring's regular
// views are known now. The daemons get them, then sync_init, then the
// deliveries held since the regular configuration, then processing starts:
// the order corosync's services see (confchg, sync_init, the new ring's
// messages, sync_process).
//
// Corosync 3.1.7 calls sync_init right after sending its own
// SERVICE_BUILD (sync_start → sync_process_call_init), before the others'
// arrive; needle waits for them, because the regular view it must show
// first depends on every member's service set. With deliveries held, a
// daemon sees the same relative order. The one difference: a ring change
// during building aborts nothing here, where corosync would call sync_init
// and then sync_abort.
func (e *Engine) buildDone(out []Action) []Action {
	r := e.cur
	held := e.holding
	if held {
		e.holding = false
		out = e.showRegular(out, e.snapshot())
	}
	r.inited = true
	for _, s := range r.services {
		if s.local {
			out = append(out, InitService{
				Service: s.id, Round: r.seq, Kind: FullRound, Ring: e.ring,
				Trans: slices.Clone(e.trans), Members: slices.Clone(e.members),
			})
		}
	}
	if held {
		out = append(out, ReleaseDeliveries{})
	}
	return e.enterProcess(out)
}

// onServiceSet records a needle member and its attached services.
func (e *Engine) onServiceSet(from uint32, list []ServiceID) {
	r := e.cur
	if r == nil || r.kind != FullRound || !r.building {
		e.stats.OutOfPhase++
		return
	}
	e.needle[from] = true
	e.sets[from] = uniqueSorted(list)
}

// onServiceBuild merges a member's service list into the union (unknown ids
// become placeholders) and enters processing once every member was heard.
func (e *Engine) onServiceBuild(from uint32, list []ServiceID) []Action {
	r := e.cur
	if r == nil || r.kind != FullRound || !r.building {
		e.stats.OutOfPhase++
		return nil
	}
	added := false
	for _, s := range list {
		if slices.ContainsFunc(r.services, func(x entry) bool { return x.id == s }) {
			continue
		}
		if len(r.services) >= MaxServiceList {
			e.stats.Dropped++
			continue
		}
		r.services = append(r.services, entry{id: s})
		added = true
	}
	if added {
		slices.SortFunc(r.services, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
	}
	if !e.needle[from] {
		// A corosync node runs every service it lists.
		e.sets[from] = uniqueSorted(list)
	}
	if !r.mark(from) {
		return nil
	}
	return e.buildDone(nil)
}

// onBarrier counts a corosync barrier for the current service of a full
// round. A barrier names no service: total order and "nobody sends the
// barrier of step k before seeing all barriers of step k−1" keep the count
// aligned.
func (e *Engine) onBarrier(from uint32) []Action {
	r := e.cur
	if r == nil || r.kind != FullRound || r.building {
		e.stats.OutOfPhase++
		return nil
	}
	if !r.mark(from) {
		return nil
	}
	return e.barrierReached(nil)
}

func uniqueSorted(l []ServiceID) []ServiceID {
	l = slices.Clone(l)
	slices.Sort(l)
	return slices.Compact(l)
}
