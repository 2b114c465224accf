package daemon

import (
	"encoding/binary"
	"errors"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// Request handles one libqb request. Every request but MCAST is answered
// exactly once; a malformed one gets corosync's generic INVALID_PARAM
// reply (an overlong group name its own reply with NAME_TOO_LONG) and the
// client stays connected.
func (s *service) Request(c *svchost.Client, msg []byte) error {
	id := cpg.ConnID(c.Conn.ID())
	reqID := int32(-1)
	if len(msg) >= 4 {
		reqID = int32(binary.NativeEndian.Uint32(msg))
	}
	req, err := wire.DecodeRequest(msg)
	if err != nil {
		s.log.Warn("bad cpg request", "conn", id, "error", err)
		var ne *wire.NameError
		switch {
		case reqID == wire.ReqMcast:
			c.NoReply()
		case errors.As(err, &ne):
			rid, _ := wire.ResponseID(ne.Req)
			return c.Respond(wire.EncodeStatus(rid, cs.ErrNameTooLong))
		default:
			return c.Respond(wire.GenericError(cs.ErrInvalidParam))
		}
		return nil
	}
	defer s.flush()
	if r, ok := req.(wire.Mcast); ok {
		// Never refused, never answered: a multicast that got past the
		// client's flag check is queued, not dropped (3.1.7 drops it).
		if st := s.core.Mcast(id, r.Msg); st != cs.OK {
			s.log.Warn("can't mcast: connection not joined", "conn", id, "error", st)
		} else {
			s.mcasts++
		}
		c.NoReply()
		return nil
	}
	if wire.FlowControlled(req.ID()) && s.congested() {
		s.tryAgain++
		return c.Respond(wire.GenericError(cs.ErrTryAgain))
	}
	return c.Respond(s.answer(id, req))
}

// answer runs a request that gets a reply and returns the reply.
func (s *service) answer(id cpg.ConnID, req wire.Request) []byte {
	switch r := req.(type) {
	case wire.Join:
		return wire.EncodeStatus(wire.ResJoin, s.core.Join(id, r.Group, r.PID, r.Flags))
	case wire.Leave:
		return wire.EncodeStatus(wire.ResLeave, s.core.Leave(id))
	case wire.PartialMcast:
		return wire.EncodeStatus(wire.ResPartialSend, s.core.PartialMcast(id, cpg.PartialType(r.Type), r.MsgLen, r.Frag))
	case wire.Membership:
		m := s.core.MembershipGet(r.Group)
		if len(m) > wire.MembershipMax {
			m = m[:wire.MembershipMax]
		}
		b, err := wire.EncodeMembership(addrs(m), cs.OK)
		if err != nil {
			return wire.GenericError(cs.ErrLibrary)
		}
		return b
	case wire.LocalGet:
		return wire.EncodeLocalGet(s.core.LocalGet(), cs.OK)
	case wire.IterInit:
		h, st := s.core.IterationInit(id, cpg.IterType(r.Type), r.Group)
		return wire.EncodeIterInit(h, st)
	case wire.IterNext:
		e, st := s.core.IterationNext(id, r.Handle)
		return wire.EncodeIterNext(wire.IterEntry{Group: e.Group, NodeID: e.NodeID, PID: e.PID}, st)
	case wire.IterFinalize:
		return wire.EncodeStatus(wire.ResIterFinalize, s.core.IterationFinalize(id, r.Handle))
	case wire.Finalize:
		return wire.EncodeStatus(wire.ResFinalize, s.core.Finalize(id))
	case wire.ZcAlloc, wire.ZcFree, wire.ZcExecute:
		return wire.NotSupportedReply()
	}
	return wire.GenericError(cs.ErrInvalidParam)
}
