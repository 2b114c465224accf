package syncengine

import (
	"maps"
	"slices"
)

// Service membership views (the bus contract, libs/ipcproto's package
// doc). A local daemon sees a configuration change whenever the
// membership of its service changes: ring changes and per-service rounds.
// Every view is computed from agreed-order inputs only (Totem's
// configurations and the "sync" messages), so every member that delivers
// the same messages emits the same sequence of views, interleaved the same
// way with the service's deliveries.
//
// The regular view of a new ring is known only once every member's
// SERVICE_BUILD (preceded, for a needle member, by its ServiceSet) has
// been delivered. From the regular configuration until then the engine
// asks the driver to hold group "a" deliveries (HoldDeliveries), and lets
// them through after the regular views and sync_init (ReleaseDeliveries,
// full.go's buildDone): a message of the new ring reaches a daemon after
// that ring's regular view, as in extended virtual synchrony. A ring
// change that interrupts the wait ends it with the views the delivered
// messages allow (a member not heard from counts as attached, like a
// corosync node), before the next transitional view.

// viewState is what service views are computed from: the ring and its
// members, and which of them are needle members with which daemons.
type viewState struct {
	ring    RingID
	members []uint32
	needle  map[uint32]bool
	sets    map[uint32][]ServiceID
}

// of is the service membership of svc: the members whose daemon for svc is
// attached, where a member that sent no ServiceSet (a corosync node) counts
// as always attached.
func (v *viewState) of(svc ServiceID) []uint32 {
	var ms []uint32
	for _, m := range v.members {
		if !v.needle[m] || slices.Contains(v.sets[m], svc) {
			ms = append(ms, m)
		}
	}
	return sortedU32(ms)
}

// snapshot is the current ring's agreed state as a view state.
func (e *Engine) snapshot() viewState {
	return viewState{ring: e.ring, members: slices.Clone(e.members), needle: maps.Clone(e.needle), sets: maps.Clone(e.sets)}
}

// View is what a daemon attaching now is told: the ring, its members and
// the service's members, as last shown to the attached daemons.
func (e *Engine) View(svc ServiceID) (ring RingID, ringMembers, members []uint32) {
	return e.shown.ring, sortedU32(slices.Clone(e.shown.members)), e.shown.of(svc)
}

// showRegular moves the shown views to next and emits a regular view to
// every attached daemon.
func (e *Engine) showRegular(out []Action, next viewState) []Action {
	prev := e.shown
	e.shown = next
	for _, svc := range e.attachedList() {
		before, after := prev.of(svc), next.of(svc)
		out = append(out, ServiceConfChg{Service: svc, Conf: ConfChg{
			Type: Regular, Ring: next.ring, Members: after,
			Left: minus(before, after), Joined: minus(after, before),
			RingMembers: sortedU32(slices.Clone(next.members)),
		}})
	}
	return out
}

// showTransitional shrinks the shown ring to the transitional members and
// emits a transitional view to every attached daemon.
func (e *Engine) showTransitional(out []Action, trans []uint32, ring RingID) []Action {
	prev := e.shown
	next := prev
	next.ring = ring
	next.members = nil
	for _, m := range prev.members {
		if slices.Contains(trans, m) {
			next.members = append(next.members, m)
		}
	}
	e.shown = next
	for _, svc := range e.attachedList() {
		before, after := prev.of(svc), next.of(svc)
		out = append(out, ServiceConfChg{Service: svc, Conf: ConfChg{
			Type: Transitional, Ring: ring, Members: after, Left: minus(before, after),
			RingMembers: sortedU32(slices.Clone(trans)),
		}})
	}
	return out
}

// showServiceChange emits the views of a per-service round to the local
// daemon of svc: a transitional view without the members that left, then
// the regular one with those that joined, both in the current ring.
func (e *Engine) showServiceChange(out []Action, svc ServiceID, next viewState) []Action {
	prev := e.shown
	e.shown = next
	if !e.attached[svc] {
		return out
	}
	before, after := prev.of(svc), next.of(svc)
	var stay []uint32
	for _, m := range before {
		if slices.Contains(after, m) {
			stay = append(stay, m)
		}
	}
	ringMembers := sortedU32(slices.Clone(next.members))
	return append(out,
		ServiceConfChg{Service: svc, Conf: ConfChg{Type: Transitional, Ring: next.ring, Members: stay,
			Left: minus(before, after), RingMembers: ringMembers}},
		ServiceConfChg{Service: svc, Conf: ConfChg{Type: Regular, Ring: next.ring, Members: after,
			Joined: minus(after, before), RingMembers: slices.Clone(ringMembers)}})
}

// endHold ends a HoldDeliveries: the regular views of the ring being
// synced, from what was delivered so far, then the held deliveries.
func (e *Engine) endHold(out []Action) []Action {
	if !e.holding {
		return out
	}
	e.holding = false
	out = e.showRegular(out, e.snapshot())
	return append(out, ReleaseDeliveries{})
}

// minus returns the elements of a not in b (nil when none).
func minus(a, b []uint32) []uint32 {
	var out []uint32
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func sortedU32(l []uint32) []uint32 {
	slices.Sort(l)
	return l
}
