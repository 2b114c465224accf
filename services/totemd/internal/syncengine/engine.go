package syncengine

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
)

// DefaultAnnounce is what corosync 3.1.7 lists in SERVICE_BUILD: cmap,
// cpg, quorum, votequorum. A needle node announces them whether or not the
// daemon is attached, so the full round has corosync's steps in a mixed
// ring; a missing daemon is a placeholder.
func DefaultAnnounce() []ServiceID {
	return []ServiceID{svcid.Cmap, svcid.Cpg, svcid.Quorum, svcid.Votequorum}
}

// Config configures one node's engine.
type Config struct {
	// Self is this node's id (non-zero).
	Self uint32
	// Announce are the service ids listed in SERVICE_BUILD besides the
	// attached ones; usually DefaultAnnounce().
	Announce []ServiceID
}

// ConfType is the kind of a Totem configuration change (the shared
// libs/corotypes/ring type).
type ConfType = ring.ConfType

// A transitional configuration always precedes its regular one.
const (
	Transitional = ring.Transitional
	Regular      = ring.Regular
)

// Stats counts inputs the engine ignored, for logs and tests.
type Stats struct {
	Stale      uint64 // messages stamped with another ring id (or none valid)
	Unknown    uint64 // well-formed messages with an unhandled id
	Malformed  uint64 // messages Decode rejected
	OutOfPhase uint64 // messages for this ring the current state has no use for
	StaleDone  uint64 // ServiceDone for a service or round not being processed
	Dropped    uint64 // service ids beyond MaxServiceList in the union
}

// Engine is one node's sync engine. It is not safe for concurrent use; the
// driver calls it from its single event loop.
type Engine struct {
	cfg      Config
	attached map[ServiceID]bool // local service daemons attached now

	// ring is the ring being synced, or last synced; zero from a
	// transitional configuration to the next regular one, so messages of
	// an older ring are ignored (corosync zeroes my_ring_id on abort).
	ring    RingID
	members []uint32 // members of ring, in the order Totem gave them
	trans   []uint32 // last transitional members

	inSync bool   // corosync's sync_in_process: set by a ConfChange, cleared by a full round
	cur    *round // the round in progress, nil when idle
	seq    uint64 // number of the last round started

	// Service membership of ring, rebuilt by every full round.
	needle  map[uint32]bool        // members that sent a ServiceSet
	sets    map[uint32][]ServiceID // per member: attached (needle) or announced (others)
	pending []change               // ServiceChanges waiting for the current round to end

	shown   viewState // what the attached daemons were last shown (view.go)
	holding bool      // group "a" deliveries held until the ring's regular views

	stats Stats
}

// change is a delivered ServiceChange not yet applied.
type change struct {
	from     uint32
	svc      ServiceID
	attached bool
}

// New returns an engine with no ring and no attached service.
func New(cfg Config) (*Engine, error) {
	if cfg.Self == 0 {
		return nil, fmt.Errorf("syncengine: config: Self is 0, want this node's id")
	}
	ann := slices.Clone(cfg.Announce)
	slices.Sort(ann)
	ann = slices.Compact(ann)
	if len(ann) > MaxServiceList {
		return nil, fmt.Errorf("syncengine: config: %d announced services, at most %d", len(ann), MaxServiceList)
	}
	cfg.Announce = ann
	return &Engine{
		cfg:      cfg,
		attached: map[ServiceID]bool{},
		needle:   map[uint32]bool{},
		sets:     map[uint32][]ServiceID{},
	}, nil
}

// ConfChange feeds a configuration change from Totem, in delivery order. Any
// round in progress is aborted; a transitional one is remembered; a regular
// one starts a full round.
func (e *Engine) ConfChange(typ ConfType, members []uint32, ring RingID) ([]Action, error) {
	switch {
	case typ != Transitional && typ != Regular:
		return nil, fmt.Errorf("syncengine: configuration change: unknown type %d", typ)
	case typ == Regular && ring.IsZero():
		return nil, fmt.Errorf("syncengine: regular configuration: zero ring id")
	case typ == Regular && !slices.Contains(members, e.cfg.Self):
		return nil, fmt.Errorf("syncengine: regular configuration %v: members %v lack this node %d", ring, members, e.cfg.Self)
	}
	var out []Action
	if typ == Transitional {
		// A ring that never got its regular views gets them now, with what
		// was delivered in it, before its transitional one.
		out = e.endHold(out)
		out = e.showTransitional(out, members, ring)
	}
	if !e.inSync {
		e.inSync = true
		out = append(out, SyncStarted{Ring: ring})
	}
	out = e.abort(out)
	e.ring = RingID{}
	e.pending = nil
	if typ == Transitional {
		e.trans = slices.Clone(members)
		return out, nil
	}
	out = e.endHold(out) // a regular configuration without a transitional one
	e.holding = true
	out = append(out, HoldDeliveries{})
	return e.startFull(out, members, ring)
}

// Deliver feeds one message of group "sync" (group header stripped) from
// node from, in agreed order. Malformed messages return an error and change
// nothing; unknown ids and messages of other rings are ignored.
func (e *Engine) Deliver(from uint32, payload []byte) ([]Action, error) {
	m, err := Decode(payload)
	if err != nil {
		e.stats.Malformed++
		return nil, fmt.Errorf("syncengine: message from node %d: %w", from, err)
	}
	switch m := m.(type) {
	case Barrier:
		if e.current(m.Ring) {
			return e.onBarrier(from), nil
		}
	case ServiceSet:
		if e.current(m.Ring) {
			e.onServiceSet(from, m.Services)
		}
	case ServiceBuild:
		if e.current(m.Ring) {
			return e.onServiceBuild(from, m.Services), nil
		}
	case ServiceChange:
		if e.current(m.Ring) {
			return e.onServiceChange(from, m), nil
		}
	case ServiceBarrier:
		if e.current(m.Ring) {
			return e.onServiceBarrier(from, m.Service), nil
		}
	default:
		e.stats.Unknown++
	}
	return nil, nil
}

// current reports whether r is the ring being synced, counting it as stale
// otherwise.
func (e *Engine) current(r RingID) bool {
	if e.ring.IsZero() || r != e.ring {
		e.stats.Stale++
		return false
	}
	return true
}

// TokenSent runs the worker on the local token-sent hook: it asks the local
// daemon of the current service to process (once per round), or multicasts
// the barrier at once for a placeholder.
func (e *Engine) TokenSent() []Action {
	r := e.cur
	if r == nil || !r.worker {
		return nil
	}
	s := r.services[r.idx]
	if !s.local {
		return e.sendBarrier(nil)
	}
	if !r.asked {
		r.asked = true
		return []Action{ProcessService{Service: s.id, Round: r.seq, Kind: r.kind}}
	}
	return nil
}

// ServiceDone is the daemon's "finished processing" (corosync's
// sync_process returning 0): the barrier goes out. Late answers for another
// service or round are ignored.
func (e *Engine) ServiceDone(svc ServiceID, round uint64) []Action {
	r := e.cur
	if r == nil || r.seq != round || !r.worker || !r.asked || r.services[r.idx].id != svc {
		e.stats.StaleDone++
		return nil
	}
	return e.sendBarrier(nil)
}

// ServiceAttached records that the local daemon for svc attached. It takes
// part from the next round; other nodes learn of it through a ServiceChange.
func (e *Engine) ServiceAttached(svc ServiceID) ([]Action, error) {
	if e.attached[svc] {
		return nil, fmt.Errorf("syncengine: service %d attached twice", svc)
	}
	if len(e.attached) >= MaxServiceList {
		return nil, fmt.Errorf("syncengine: service %d: %d services already attached", svc, len(e.attached))
	}
	e.attached[svc] = true
	return e.announceChange(nil, svc, true), nil
}

// ServiceDetached records that the local daemon for svc went away. From now
// on it is a placeholder here: if it was being processed, the barrier goes
// out at once, and it is neither activated nor aborted.
func (e *Engine) ServiceDetached(svc ServiceID) ([]Action, error) {
	if !e.attached[svc] {
		return nil, fmt.Errorf("syncengine: service %d detached but not attached", svc)
	}
	delete(e.attached, svc)
	var out []Action
	if r := e.cur; r != nil {
		for i := range r.services {
			s := &r.services[i]
			if s.id != svc || !s.local {
				continue
			}
			s.local = false
			if i == r.idx && r.worker && r.asked {
				out = e.sendBarrier(out)
			}
		}
	}
	return e.announceChange(out, svc, false), nil
}

// announceChange multicasts a ServiceChange stamped with the current ring.
// Without a valid ring (before the first regular configuration, or between
// a transitional and a regular one) nothing is sent: the next full round's
// ServiceSet carries the new state.
func (e *Engine) announceChange(out []Action, svc ServiceID, attached bool) []Action {
	if e.ring.IsZero() {
		return out
	}
	return append(out, Multicast{Payload: ServiceChange{Ring: e.ring, Service: svc, Attached: attached}.Marshal()})
}

// InProgress is corosync's sync_in_process: true from a configuration
// change until its full round completes.
func (e *Engine) InProgress() bool { return e.inSync }

// Stats returns the counts of ignored inputs.
func (e *Engine) Stats() Stats { return e.stats }

// Status is a snapshot of the engine for logs and cfg.
type Status struct {
	InProgress bool
	Ring       RingID
	Active     bool // a round is running
	Kind       RoundKind
	Building   bool // full round waiting for SERVICE_BUILDs
	Service    ServiceID
	Round      uint64
	Pending    int // per-service rounds queued
}

// Status reports the current state.
func (e *Engine) Status() Status {
	st := Status{InProgress: e.inSync, Ring: e.ring, Pending: len(e.pending)}
	if r := e.cur; r != nil {
		st.Active, st.Kind, st.Building, st.Round = true, r.kind, r.building, r.seq
		if !r.building && r.idx < len(r.services) {
			st.Service = r.services[r.idx].id
		}
	}
	return st
}

// ServiceMembers returns the ring members whose daemon for svc is attached,
// as known from the last full round and the per-service rounds since.
func (e *Engine) ServiceMembers(svc ServiceID) []uint32 { return e.membersOf(svc) }

// membersOf lists, ascending, the members of the current ring whose daemon
// for svc is attached; a member that sent no ServiceSet counts as attached.
func (e *Engine) membersOf(svc ServiceID) []uint32 {
	v := viewState{members: e.members, needle: e.needle, sets: e.sets}
	return v.of(svc)
}

// attachedList returns the attached services in ascending order.
func (e *Engine) attachedList() []ServiceID {
	l := make([]ServiceID, 0, len(e.attached))
	for s := range e.attached {
		l = append(l, s)
	}
	slices.Sort(l)
	return l
}
