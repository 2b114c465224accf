// Package qsvc is corosync's quorum service (service 3, exec/vsf_quorum.c
// in 3.1.7) as a pure state machine: the "quorum" libqb endpoint's
// per-connection model (V0/V1) and tracking, the provider's last report
// (quorate, ring id, view list), and the sync-time member/joined/left
// lists behind the V1 nodelist notification. Inputs are method calls;
// outputs are the messages to send (Out), which the daemon hands to its
// libqb connections. No goroutines, sockets or clocks.
//
// Order of outputs matches corosync's: a TRACKSTART's current-state events
// come before its reply; notifications go to trackers newest first (the
// original keeps them on a list it pushes at the head).
package qsvc

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// Out is one message for one client: a response or an event.
type Out struct {
	Client any // the key given to Connect
	Event  bool
	Msg    []byte
}

type conn struct {
	model    uint32
	tracking bool
	flags    uint32
}

// Service is the quorum service of one node.
type Service struct {
	quorumType uint32
	primary    bool

	// the provider's last report
	ring wire.RingID
	view []uint32

	// sync state: last_sync_ring_id and the member, joined and left lists
	// computed at sync init against the members of the previous activate
	syncRing                          wire.RingID
	members, oldMembers, joined, left []uint32

	clients  map[any]*conn
	trackers []any // newest first
}

// New returns the service before any provider report. With a provider
// (quorum.provider set) the type is QUORUM_SET and the node starts
// inquorate until the provider says otherwise; without one it is
// QUORUM_FREE and always quorate.
func New(provider bool) *Service {
	s := &Service{clients: map[any]*conn{}}
	if provider {
		s.quorumType = wire.QuorumSet
	} else {
		s.primary = true
	}
	return s
}

// Type is the quorum type (wire.QuorumFree or wire.QuorumSet).
func (s *Service) Type() uint32 { return s.quorumType }

// Quorate is the current quorate state (corosync's primary_designated).
func (s *Service) Quorate() bool { return s.primary }

// View is the provider's last ring id and view list.
func (s *Service) View() (wire.RingID, []uint32) { return s.ring, slices.Clone(s.view) }

// Connect registers a new client (model V0, not tracking).
func (s *Service) Connect(c any) { s.clients[c] = &conn{model: wire.ModelV0} }

// Disconnect forgets a client and its tracking.
func (s *Service) Disconnect(c any) {
	delete(s.clients, c)
	s.untrack(c)
}

func (s *Service) untrack(c any) {
	if i := slices.Index(s.trackers, c); i >= 0 {
		s.trackers = slices.Delete(s.trackers, i, i+1)
	}
}

// Request handles one request of client c. A request the wire package
// refuses (unknown id, wrong size) is answered with corosync's generic
// reply (id 0, CS_ERR_INVALID_PARAM) and reported as the error, for the
// daemon to log; the client stays connected.
func (s *Service) Request(c any, msg []byte) ([]Out, error) {
	cn, ok := s.clients[c]
	if !ok {
		panic(fmt.Sprintf("qsvc: request from unknown client %v", c))
	}
	req, err := wire.DecodeQRequest(msg)
	if err != nil {
		return []Out{{Client: c, Msg: wire.GenericError(cs.ErrInvalidParam)}}, err
	}
	reply := func(m []byte) Out { return Out{Client: c, Msg: m} }
	switch r := req.(type) {
	case wire.QGetQuorate:
		return []Out{reply(wire.EncodeQValue(wire.QResGetQuorate, b32(s.primary), cs.OK))}, nil
	case wire.QGetType:
		return []Out{reply(wire.EncodeQValue(wire.QResGetType, s.quorumType, cs.OK))}, nil
	case wire.QModelGetType:
		st := cs.OK
		if r.Model != wire.ModelV0 && r.Model != wire.ModelV1 {
			st, err = cs.ErrInvalidParam, fmt.Errorf("quorum_model_type request for unsupported model %d", r.Model)
		} else {
			cn.model = r.Model
		}
		return []Out{reply(wire.EncodeQValue(wire.QResModelGetType, s.quorumType, st))}, err
	case wire.QTrackStart:
		var out []Out
		if r.Flags&(wire.TrackCurrent|wire.TrackChanges) != 0 {
			out = append(out, s.nodelistFor(c, false)...)
			out = append(out, s.quorumFor(c)...)
		}
		st := cs.OK
		switch {
		case cn.tracking:
			st = cs.ErrExist
		case r.Flags&(wire.TrackChanges|wire.TrackChangesOnly) != 0:
			cn.tracking, cn.flags = true, r.Flags
			s.trackers = append([]any{c}, s.trackers...)
		}
		return append(out, reply(wire.EncodeQStatus(wire.QResTrackStart, st))), nil
	case wire.QTrackStop:
		// 3.1.7 computes CS_ERR_NOT_EXIST when not tracking, then
		// overwrites it with CS_OK.
		if cn.tracking {
			cn.tracking = false
			s.untrack(c)
		}
		return []Out{reply(wire.EncodeQStatus(wire.QResTrackStop, cs.OK))}, nil
	}
	panic(fmt.Sprintf("qsvc: decoded request %T has no handler", req))
}

func b32(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// quorumFor is the quorum notification in c's model.
func (s *Service) quorumFor(c any) []Out {
	var m []byte
	switch s.clients[c].model {
	case wire.ModelV0:
		m = wire.QNotification{Quorate: b32(s.primary), RingSeq: s.ring.Seq, View: s.view}.Encode()
	case wire.ModelV1:
		m = wire.QV1Quorum{Quorate: b32(s.primary), Ring: s.ring, View: s.view}.Encode()
	}
	return []Out{{Client: c, Event: true, Msg: m}}
}

// nodelistFor is the V1 nodelist notification for c (nothing for V0):
// with the sync's joined and left lists, or, answering TRACKSTART,
// members only.
func (s *Service) nodelistFor(c any, joinedLeft bool) []Out {
	if s.clients[c].model != wire.ModelV1 {
		return nil
	}
	n := wire.QV1Nodelist{Ring: s.syncRing, Members: s.members}
	if joinedLeft {
		n.Joined, n.Left = s.joined, s.left
	}
	return []Out{{Client: c, Event: true, Msg: n.Encode()}}
}

// SetQuorum is the provider's report (votequorum's quorum callback: on a
// change outside sync and at every sync activate): it is stored and sent
// to every tracking client. Changed reports whether the quorate state
// flipped, for the "primary component" log lines.
func (s *Service) SetQuorum(view []uint32, quorate bool, ring wire.RingID) (out []Out, changed bool) {
	changed = quorate != s.primary
	s.primary, s.view, s.ring = quorate, slices.Clone(view), ring
	for _, c := range s.trackers {
		out = append(out, s.quorumFor(c)...)
	}
	return out, changed
}

// SyncInit starts a sync round: it stores the ring and members and
// computes, against the members of the last activate, who left (not in
// trans, or in trans but not a member) and who joined (a member not in
// the old list, or in it but also in left).
func (s *Service) SyncInit(trans, members []uint32, ring wire.RingID) (joined, left []uint32) {
	s.members, s.syncRing = slices.Clone(members), ring
	s.left = s.left[:0:0]
	for _, o := range s.oldMembers {
		if !slices.Contains(trans, o) || !slices.Contains(s.members, o) {
			s.left = append(s.left, o)
		}
	}
	s.joined = s.joined[:0:0]
	for _, m := range s.members {
		if !slices.Contains(s.oldMembers, m) || slices.Contains(s.left, m) {
			s.joined = append(s.joined, m)
		}
	}
	return slices.Clone(s.joined), slices.Clone(s.left)
}

// SyncActivate ends the round: the members become the old list and every
// tracking V1 client gets the nodelist notification with joined and left.
func (s *Service) SyncActivate() []Out {
	s.oldMembers = slices.Clone(s.members)
	var out []Out
	for _, c := range s.trackers {
		out = append(out, s.nodelistFor(c, true)...)
	}
	return out
}
