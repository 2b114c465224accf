package wire

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Fixed sizes of the response structs.
const (
	statusSize         = RespHeaderSize // JOIN, LEAVE, ITERFINALIZE, FINALIZE, PARTIAL_SEND, NULL
	membershipRespSize = 9248
	localGetRespSize   = 32
	iterInitRespSize   = 32
	iterNextRespSize   = 168
	// MembershipMax is PROCESSOR_COUNT_MAX, the room in a MEMBERSHIP reply.
	MembershipMax = 384
)

// GenericError is the bare reply corosync's dispatcher sends for a request
// it could not hand to a handler (unknown id, bad size, flow control):
// id 0, size 24.
func GenericError(err cs.Error) []byte { return newResponse(0, err, RespHeaderSize) }

// NotSupportedReply is needle's answer to the zero-copy requests 9, 10
// and 11, as corosync after v3.1.10 gives it: id 14, CS_ERR_NOT_SUPPORTED.
func NotSupportedReply() []byte { return EncodeStatus(ResNull, cs.ErrNotSupported) }

// EncodeStatus is a reply that is only a header: JOIN (0), LEAVE (1),
// ITERATIONFINALIZE (11), FINALIZE (12), PARTIAL_SEND (18).
func EncodeStatus(id int32, err cs.Error) []byte { return newResponse(id, err, statusSize) }

// DecodeStatus reads a header-only reply with response id id.
func DecodeStatus(b []byte, id int32) (cs.Error, error) {
	h, err := decodeReply(b, id, statusSize)
	return h.Error, err
}

// decodeReply checks a reply's header. An error status ends the decoding
// there: corosync's generic error reply (id 0, 24 bytes) stands in for
// any response and clients read only its status. A success must carry the
// expected id and exactly size bytes.
func decodeReply(b []byte, id int32, size int) (RespHeader, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return h, err
	}
	if h.Error != cs.OK {
		return h, nil
	}
	if h.ID != id {
		return h, fmt.Errorf("cpg reply: id %d, want %d", h.ID, id)
	}
	if len(b) != size {
		return h, fmt.Errorf("cpg reply id %d: %d bytes, want %d", id, len(b), size)
	}
	return h, nil
}

// EncodeMembership builds the always-9248-byte MEMBERSHIP reply. Member
// reasons are written as given (corosync leaves them uninitialised; cpgd
// sends 0). More than MembershipMax members is an error: the reply has no
// room for them.
func EncodeMembership(members []Address, err cs.Error) ([]byte, error) {
	if len(members) > MembershipMax {
		return nil, fmt.Errorf("cpg MEMBERSHIP reply: %d members, room for %d", len(members), MembershipMax)
	}
	b := newResponse(ResMembership, err, membershipRespSize)
	ne.PutUint32(b[24:], uint32(len(members)))
	for i, m := range members {
		putAddr(b[32+i*AddressSize:], m)
	}
	return b, nil
}

// DecodeMembership reads a MEMBERSHIP reply.
func DecodeMembership(b []byte) ([]Address, cs.Error, error) {
	h, err := decodeReply(b, ResMembership, membershipRespSize)
	if err != nil || h.Error != cs.OK {
		return nil, h.Error, err
	}
	n := ne.Uint32(b[24:])
	if n > MembershipMax {
		return nil, cs.OK, fmt.Errorf("cpg MEMBERSHIP reply: member_count %d exceeds %d", n, MembershipMax)
	}
	out := make([]Address, n)
	for i := range out {
		out[i] = getAddr(b[32+i*AddressSize:])
	}
	return out, cs.OK, nil
}

// EncodeLocalGet builds the LOCAL_GET reply: local_nodeid @24.
func EncodeLocalGet(nodeID uint32, err cs.Error) []byte {
	b := newResponse(ResLocalGet, err, localGetRespSize)
	ne.PutUint32(b[24:], nodeID)
	return b
}

// DecodeLocalGet reads a LOCAL_GET reply.
func DecodeLocalGet(b []byte) (uint32, cs.Error, error) {
	h, err := decodeReply(b, ResLocalGet, localGetRespSize)
	if err != nil || h.Error != cs.OK {
		return 0, h.Error, err
	}
	return ne.Uint32(b[24:]), cs.OK, nil
}

// EncodeIterInit builds the ITERATIONINITIALIZE reply: handle @24.
func EncodeIterInit(handle uint64, err cs.Error) []byte {
	b := newResponse(ResIterInit, err, iterInitRespSize)
	ne.PutUint64(b[24:], handle)
	return b
}

// DecodeIterInit reads an ITERATIONINITIALIZE reply.
func DecodeIterInit(b []byte) (uint64, cs.Error, error) {
	h, err := decodeReply(b, ResIterInit, iterInitRespSize)
	if err != nil || h.Error != cs.OK {
		return 0, h.Error, err
	}
	return ne.Uint64(b[24:]), cs.OK, nil
}

// IterEntry is mar_cpg_iteration_description_t: group @0, nodeid @136,
// pid @140 (inside the reply: @24, @160, @164).
type IterEntry struct {
	Group  string
	NodeID uint32
	PID    uint32
}

// EncodeIterNext builds the always-168-byte ITERATIONNEXT reply; on error
// the body stays zero (CS_ERR_NO_SECTIONS at the end).
func EncodeIterNext(e IterEntry, err cs.Error) []byte {
	b := newResponse(ResIterNext, err, iterNextRespSize)
	if err == cs.OK {
		putName(b[24:], e.Group)
		ne.PutUint32(b[160:], e.NodeID)
		ne.PutUint32(b[164:], e.PID)
	}
	return b
}

// DecodeIterNext reads an ITERATIONNEXT reply.
func DecodeIterNext(b []byte) (IterEntry, cs.Error, error) {
	h, err := decodeReply(b, ResIterNext, iterNextRespSize)
	if err != nil || h.Error != cs.OK {
		return IterEntry{}, h.Error, err
	}
	g, err := getNameEv(b[24:], "cpg ITERATIONNEXT reply")
	if err != nil {
		return IterEntry{}, cs.OK, err
	}
	return IterEntry{Group: g, NodeID: ne.Uint32(b[160:]), PID: ne.Uint32(b[164:])}, cs.OK, nil
}
