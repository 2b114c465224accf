package qsvc

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// State is the service's whole state for the next quorumd (a handover:
// libs/ipcproto's doc, "Handing a daemon over to its successor"), its
// clients named by the ids the caller gives them (their libqb connection
// ids, which the successor's clients keep).
type State struct {
	QuorumType uint32        `msgpack:"qt"`
	Primary    bool          `msgpack:"p"`
	Ring       wire.RingID   `msgpack:"r"`
	View       []uint32      `msgpack:"v"`
	SyncRing   wire.RingID   `msgpack:"sr"`
	Members    []uint32      `msgpack:"m"`
	OldMembers []uint32      `msgpack:"om"`
	Joined     []uint32      `msgpack:"j"`
	Left       []uint32      `msgpack:"l"`
	Clients    []ClientState `msgpack:"c"` // in id order
	Trackers   []uint64      `msgpack:"t"` // newest first
}

// ClientState is one client's model and tracking.
type ClientState struct {
	ID       uint64 `msgpack:"i"`
	Model    uint32 `msgpack:"m"`
	Tracking bool   `msgpack:"t"`
	Flags    uint32 `msgpack:"f"`
}

// Save returns the service's state, naming each client by id(client).
func (s *Service) Save(id func(c any) uint64) State {
	st := State{QuorumType: s.quorumType, Primary: s.primary, Ring: s.ring, View: slices.Clone(s.view),
		SyncRing: s.syncRing, Members: slices.Clone(s.members), OldMembers: slices.Clone(s.oldMembers),
		Joined: slices.Clone(s.joined), Left: slices.Clone(s.left)}
	for c, cn := range s.clients {
		st.Clients = append(st.Clients, ClientState{ID: id(c), Model: cn.model, Tracking: cn.tracking, Flags: cn.flags})
	}
	slices.SortFunc(st.Clients, func(a, b ClientState) int { return cmp.Compare(a.ID, b.ID) })
	for _, c := range s.trackers {
		st.Trackers = append(st.Trackers, id(c))
	}
	return st
}

// Load rebuilds the service of a provider (or none) from st, its clients
// the keys given by id. A client of st not among them (its connection was
// lost in the handover) is forgotten, as a disconnect would; it is listed
// in missing. A state the service never gets into (an unknown model or
// quorum type, a client twice, trackers that do not match the tracking
// clients) is an error naming it.
func Load(provider bool, st State, clients map[uint64]any) (s *Service, missing []uint64, err error) {
	s = New(provider)
	if st.QuorumType != s.quorumType {
		return nil, nil, fmt.Errorf("quorum service state: quorum type %d, this quorumd's is %d", st.QuorumType, s.quorumType)
	}
	if !provider && !st.Primary {
		return nil, nil, fmt.Errorf("quorum service state: not quorate without a quorum provider")
	}
	s.primary, s.ring, s.view = st.Primary, st.Ring, slices.Clone(st.View)
	s.syncRing, s.members, s.oldMembers = st.SyncRing, slices.Clone(st.Members), slices.Clone(st.OldMembers)
	s.joined, s.left = slices.Clone(st.Joined), slices.Clone(st.Left)
	byID := map[uint64]*conn{}
	tracking := 0
	for _, c := range st.Clients {
		switch {
		case byID[c.ID] != nil:
			return nil, nil, fmt.Errorf("quorum service state: client %d twice", c.ID)
		case c.Model != wire.ModelV0 && c.Model != wire.ModelV1:
			return nil, nil, fmt.Errorf("quorum service state: client %d of model %d", c.ID, c.Model)
		case c.Tracking && c.Flags&(wire.TrackChanges|wire.TrackChangesOnly) == 0:
			return nil, nil, fmt.Errorf("quorum service state: client %d tracks with flags %#x", c.ID, c.Flags)
		}
		byID[c.ID] = &conn{model: c.Model, tracking: c.Tracking, flags: c.Flags}
		if c.Tracking {
			tracking++
		}
	}
	if len(st.Trackers) != tracking {
		return nil, nil, fmt.Errorf("quorum service state: %d trackers listed, %d clients tracking", len(st.Trackers), tracking)
	}
	for i, id := range st.Trackers {
		if cn := byID[id]; cn == nil || !cn.tracking || slices.Contains(st.Trackers[:i], id) {
			return nil, nil, fmt.Errorf("quorum service state: tracker %d is not a tracking client listed once", id)
		}
	}
	for _, c := range st.Clients {
		key, ok := clients[c.ID]
		if !ok {
			missing = append(missing, c.ID)
			continue
		}
		s.clients[key] = byID[c.ID]
	}
	for _, id := range st.Trackers {
		if key, ok := clients[id]; ok {
			s.trackers = append(s.trackers, key)
		}
	}
	return s, missing, nil
}
