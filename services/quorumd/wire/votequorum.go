package wire

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Votequorum service (5) request ids (enum req_votequorum_types, 3.1.7).
const (
	VQReqGetInfo           int32 = 0
	VQReqSetExpected       int32 = 1
	VQReqSetVotes          int32 = 2
	VQReqTrackStart        int32 = 3
	VQReqTrackStop         int32 = 4
	VQReqQdeviceRegister   int32 = 5
	VQReqQdeviceUnregister int32 = 6
	VQReqQdeviceUpdate     int32 = 7
	VQReqQdevicePoll       int32 = 8
	VQReqQdeviceMasterWins int32 = 9
	VQReqCount                   = 10 // requests with a handler; higher ids get GenericError(CS_ERR_INVALID_PARAM)
)

// Votequorum response and event ids (enum res_votequorum_types). Every
// request but GETINFO is answered with STATUS; id 2 (TRACKSTART) exists
// but corosync never sends it.
const (
	VQResStatus        int32 = 0
	VQResGetInfo       int32 = 1
	VQResTrackStart    int32 = 2
	VQResQuorum        int32 = 3 // event
	VQResExpectedVotes int32 = 4 // event
	VQResNodelist      int32 = 5 // event
)

// GETINFO flags (VOTEQUORUM_INFO_*).
const (
	InfoTwoNode           uint32 = 1
	InfoQuorate           uint32 = 2
	InfoWaitForAll        uint32 = 4
	InfoLastManStanding   uint32 = 8
	InfoAutoTieBreaker    uint32 = 16
	InfoAllowDownscale    uint32 = 32
	InfoQdeviceRegistered uint32 = 64
	InfoQdeviceAlive      uint32 = 128
	InfoQdeviceCastVote   uint32 = 256
	InfoQdeviceMasterWins uint32 = 512
)

// Node states (VOTEQUORUM_NODESTATE_*).
const (
	NodeMember  uint32 = 1
	NodeDead    uint32 = 2
	NodeLeaving uint32 = 3
)

// QdeviceNodeID is the node id of the qdevice pseudo-node.
const QdeviceNodeID = 0

// Sizes and offsets of the votequorum structs (ipc_votequorum.h, 3.1.7
// x86_64). The unsigned int members are not aligned(8): SETVOTES' nodeid
// sits at 20, QDEVICE_UPDATE's newname at 271, POLL's cast_vote at 272.
const (
	votequorumSvc       = "votequorum"
	vqGetInfoSize       = 24  // nodeid @16
	vqSetExpectedSize   = 24  // expected_votes @16
	vqSetVotesSize      = 24  // votes @16, nodeid @20
	vqTrackStartSize    = 32  // context @16, track_flags @24
	vqNameReqSize       = 272 // REGISTER, UNREGISTER: name[255] @16
	vqUpdateSize        = 528 // oldname @16, newname @271
	vqPollSize          = 296 // name @16, cast_vote @272, ring_id @280
	vqMasterWinsSize    = 280 // name @16, allow @272
	vqGetInfoRespSize   = 320 // nodeid@24 state@28 votes@32 expected@36 highest@40 total@44 quorum@48 flags@52 qdevice_votes@56 qdevice_name@60
	vqQuorumFixed       = 48  // quorate@24 context@32 entries@40 node_list@48 (8 bytes each)
	vqExpectedVotesSize = 40  // context@24 expected_votes@32
	vqNodelistFixed     = 56  // context@24 ring_id@32 entries@48 node_list@56
)

// VQRequest is one decoded votequorum request.
type VQRequest interface {
	// ID is the request id (VQReqGetInfo …).
	ID() int32
	// Encode returns the whole message, header included, as libvotequorum sends it.
	Encode() []byte
}

// VQGetInfo is GETINFO: nodeid @16 (int; 0 = the local node).
type VQGetInfo struct{ NodeID uint32 }

// VQSetExpected is SETEXPECTED: expected_votes @16.
type VQSetExpected struct{ Expected uint32 }

// VQSetVotes is SETVOTES: votes @16, nodeid @20 (0 addresses the qdevice
// pseudo-node, not the local node).
type VQSetVotes struct{ Votes, NodeID uint32 }

// VQTrackStart is TRACKSTART: context @16 (echoed in every event), flags @24.
type VQTrackStart struct {
	Context uint64
	Flags   uint32
}

// VQTrackStop is TRACKSTOP: a bare header.
type VQTrackStop struct{}

// VQQdeviceRegister is QDEVICE_REGISTER: name @16.
type VQQdeviceRegister struct{ Name string }

// VQQdeviceUnregister is QDEVICE_UNREGISTER: name @16.
type VQQdeviceUnregister struct{ Name string }

// VQQdeviceUpdate is QDEVICE_UPDATE: oldname @16, newname @271.
type VQQdeviceUpdate struct{ OldName, NewName string }

// VQQdevicePoll is QDEVICE_POLL: name @16, cast_vote @272, ring_id @280.
type VQQdevicePoll struct {
	Name     string
	CastVote uint32
	Ring     RingID
}

// VQQdeviceMasterWins is QDEVICE_MASTER_WINS: name @16, allow @272.
type VQQdeviceMasterWins struct {
	Name  string
	Allow uint32
}

// ID implements VQRequest.
func (VQGetInfo) ID() int32           { return VQReqGetInfo }
func (VQSetExpected) ID() int32       { return VQReqSetExpected }
func (VQSetVotes) ID() int32          { return VQReqSetVotes }
func (VQTrackStart) ID() int32        { return VQReqTrackStart }
func (VQTrackStop) ID() int32         { return VQReqTrackStop }
func (VQQdeviceRegister) ID() int32   { return VQReqQdeviceRegister }
func (VQQdeviceUnregister) ID() int32 { return VQReqQdeviceUnregister }
func (VQQdeviceUpdate) ID() int32     { return VQReqQdeviceUpdate }
func (VQQdevicePoll) ID() int32       { return VQReqQdevicePoll }
func (VQQdeviceMasterWins) ID() int32 { return VQReqQdeviceMasterWins }

// Encode implements VQRequest. Names longer than 254 bytes are truncated
// (CheckName first to refuse them as the library does).
func (r VQGetInfo) Encode() []byte {
	b := newRequest(VQReqGetInfo, vqGetInfoSize)
	ne.PutUint32(b[16:], r.NodeID)
	return b
}

func (r VQSetExpected) Encode() []byte {
	b := newRequest(VQReqSetExpected, vqSetExpectedSize)
	ne.PutUint32(b[16:], r.Expected)
	return b
}

func (r VQSetVotes) Encode() []byte {
	b := newRequest(VQReqSetVotes, vqSetVotesSize)
	ne.PutUint32(b[16:], r.Votes)
	ne.PutUint32(b[20:], r.NodeID)
	return b
}

func (r VQTrackStart) Encode() []byte {
	b := newRequest(VQReqTrackStart, vqTrackStartSize)
	ne.PutUint64(b[16:], r.Context)
	ne.PutUint32(b[24:], r.Flags)
	return b
}

func (VQTrackStop) Encode() []byte { return newRequest(VQReqTrackStop, ReqHeaderSize) }

func (r VQQdeviceRegister) Encode() []byte {
	b := newRequest(VQReqQdeviceRegister, vqNameReqSize)
	putName(b[16:], r.Name)
	return b
}

func (r VQQdeviceUnregister) Encode() []byte {
	b := newRequest(VQReqQdeviceUnregister, vqNameReqSize)
	putName(b[16:], r.Name)
	return b
}

func (r VQQdeviceUpdate) Encode() []byte {
	b := newRequest(VQReqQdeviceUpdate, vqUpdateSize)
	putName(b[16:], r.OldName)
	putName(b[16+QdeviceNameMax:], r.NewName)
	return b
}

func (r VQQdevicePoll) Encode() []byte {
	b := newRequest(VQReqQdevicePoll, vqPollSize)
	putName(b[16:], r.Name)
	ne.PutUint32(b[272:], r.CastVote)
	putRing(b[280:], r.Ring)
	return b
}

func (r VQQdeviceMasterWins) Encode() []byte {
	b := newRequest(VQReqQdeviceMasterWins, vqMasterWinsSize)
	putName(b[16:], r.Name)
	ne.PutUint32(b[272:], r.Allow)
	return b
}

// vqReqSize is the exact size of each request.
func vqReqSize(id int32) (int, bool) {
	switch id {
	case VQReqGetInfo:
		return vqGetInfoSize, true
	case VQReqSetExpected:
		return vqSetExpectedSize, true
	case VQReqSetVotes:
		return vqSetVotesSize, true
	case VQReqTrackStart:
		return vqTrackStartSize, true
	case VQReqTrackStop:
		return ReqHeaderSize, true
	case VQReqQdeviceRegister, VQReqQdeviceUnregister:
		return vqNameReqSize, true
	case VQReqQdeviceUpdate:
		return vqUpdateSize, true
	case VQReqQdevicePoll:
		return vqPollSize, true
	case VQReqQdeviceMasterWins:
		return vqMasterWinsSize, true
	}
	return 0, false
}

// DecodeVQRequest parses one whole votequorum request; its header size
// must equal len(b) and the struct's size exactly, and names must end in
// a NUL within their 255 bytes.
func DecodeVQRequest(b []byte) (VQRequest, error) {
	id, err := reqHeader(votequorumSvc, b)
	if err != nil {
		return nil, err
	}
	want, ok := vqReqSize(id)
	if !ok {
		return nil, fmt.Errorf("votequorum request: unknown id %d", id)
	}
	if len(b) != want {
		return nil, fmt.Errorf("votequorum request id %d: %d bytes, want %d", id, len(b), want)
	}
	what := fmt.Sprintf("votequorum request id %d", id)
	var name string
	switch id {
	case VQReqQdeviceRegister, VQReqQdeviceUnregister, VQReqQdeviceUpdate, VQReqQdevicePoll, VQReqQdeviceMasterWins:
		if name, err = getName(b[16:], what); err != nil {
			return nil, err
		}
	}
	switch id {
	case VQReqGetInfo:
		return VQGetInfo{NodeID: ne.Uint32(b[16:])}, nil
	case VQReqSetExpected:
		return VQSetExpected{Expected: ne.Uint32(b[16:])}, nil
	case VQReqSetVotes:
		return VQSetVotes{Votes: ne.Uint32(b[16:]), NodeID: ne.Uint32(b[20:])}, nil
	case VQReqTrackStart:
		return VQTrackStart{Context: ne.Uint64(b[16:]), Flags: ne.Uint32(b[24:])}, nil
	case VQReqTrackStop:
		return VQTrackStop{}, nil
	case VQReqQdeviceRegister:
		return VQQdeviceRegister{Name: name}, nil
	case VQReqQdeviceUnregister:
		return VQQdeviceUnregister{Name: name}, nil
	case VQReqQdeviceUpdate:
		nn, err := getName(b[16+QdeviceNameMax:], what+" newname")
		if err != nil {
			return nil, err
		}
		return VQQdeviceUpdate{OldName: name, NewName: nn}, nil
	case VQReqQdevicePoll:
		return VQQdevicePoll{Name: name, CastVote: ne.Uint32(b[272:]), Ring: getRing(b[280:])}, nil
	default: // VQReqQdeviceMasterWins
		return VQQdeviceMasterWins{Name: name, Allow: ne.Uint32(b[272:])}, nil
	}
}

// EncodeVQStatus is the header-only STATUS reply (id 0) to every request
// but GETINFO.
func EncodeVQStatus(err cs.Error) []byte { return newResponse(VQResStatus, err, RespHeaderSize) }

// DecodeVQStatus reads a STATUS reply (or the generic error reply).
func DecodeVQStatus(b []byte) (cs.Error, error) {
	h, _, err := decodeReply(votequorumSvc, b, VQResStatus, RespHeaderSize)
	return h.Error, err
}

// VQInfo is the body of the GETINFO reply (struct res_lib_votequorum_getinfo).
type VQInfo struct {
	NodeID, State, Votes, Expected, HighestExpected, TotalVotes, Quorum, Flags uint32
	QdeviceVotes                                                               uint32
	QdeviceName                                                                string
}

// EncodeVQGetInfo builds the 320-byte GETINFO reply. corosync sends the
// full reply with CS_ERR_NOT_EXIST too (body unspecified; pass zeros).
func EncodeVQGetInfo(i VQInfo, err cs.Error) []byte {
	b := newResponse(VQResGetInfo, err, vqGetInfoRespSize)
	for k, v := range []uint32{i.NodeID, i.State, i.Votes, i.Expected, i.HighestExpected, i.TotalVotes, i.Quorum, i.Flags, i.QdeviceVotes} {
		ne.PutUint32(b[24+4*k:], v)
	}
	putName(b[60:], i.QdeviceName)
	return b
}

// DecodeVQGetInfo reads a GETINFO reply; a generic error reply gives a
// zero VQInfo with its status.
func DecodeVQGetInfo(b []byte) (VQInfo, cs.Error, error) {
	h, body, err := decodeReply(votequorumSvc, b, VQResGetInfo, vqGetInfoRespSize)
	if err != nil || !body {
		return VQInfo{}, h.Error, err
	}
	var v [9]uint32
	for k := range v {
		v[k] = ne.Uint32(b[24+4*k:])
	}
	name, err := getName(b[60:], "votequorum GETINFO reply")
	if err != nil {
		return VQInfo{}, h.Error, err
	}
	return VQInfo{NodeID: v[0], State: v[1], Votes: v[2], Expected: v[3], HighestExpected: v[4], TotalVotes: v[5],
		Quorum: v[6], Flags: v[7], QdeviceVotes: v[8], QdeviceName: name}, h.Error, nil
}

// VQNode is one entry of the quorum event's node list (struct votequorum_node).
type VQNode struct{ NodeID, State uint32 }

// VQQuorum is the QUORUM_NOTIFICATION event (id 3): quorate @24, context
// @32, node_list_entries @40, node_list @48 (nodeid, state; 8 bytes each);
// header.size 48 + 8×n.
type VQQuorum struct {
	Quorate uint32
	Context uint64
	Nodes   []VQNode
}

// Encode builds the event.
func (n VQQuorum) Encode() []byte {
	b := newResponse(VQResQuorum, cs.OK, vqQuorumFixed+8*len(n.Nodes))
	ne.PutUint32(b[24:], n.Quorate)
	ne.PutUint64(b[32:], n.Context)
	ne.PutUint32(b[40:], uint32(len(n.Nodes)))
	for i, nd := range n.Nodes {
		ne.PutUint32(b[vqQuorumFixed+8*i:], nd.NodeID)
		ne.PutUint32(b[vqQuorumFixed+8*i+4:], nd.State)
	}
	return b
}

// VQExpectedVotes is the EXPECTEDVOTES_NOTIFICATION event (id 4): context
// @24, expected_votes @32; 40 bytes.
type VQExpectedVotes struct {
	Context  uint64
	Expected uint32
}

// Encode builds the event.
func (n VQExpectedVotes) Encode() []byte {
	b := newResponse(VQResExpectedVotes, cs.OK, vqExpectedVotesSize)
	ne.PutUint64(b[24:], n.Context)
	ne.PutUint32(b[32:], n.Expected)
	return b
}

// VQNodelist is the NODELIST_NOTIFICATION event (id 5): context @24,
// ring_id @32, node_list_entries @48, node ids @56; header.size 56 + 4×n.
type VQNodelist struct {
	Context uint64
	Ring    RingID
	Nodes   []uint32
}

// Encode builds the event.
func (n VQNodelist) Encode() []byte {
	b := newResponse(VQResNodelist, cs.OK, vqNodelistFixed+4*len(n.Nodes))
	ne.PutUint64(b[24:], n.Context)
	putRing(b[32:], n.Ring)
	ne.PutUint32(b[48:], uint32(len(n.Nodes)))
	putList(b[vqNodelistFixed:], n.Nodes)
	return b
}

// DecodeVQEvent reads any votequorum event and returns a VQQuorum,
// VQExpectedVotes or VQNodelist. The lists must fill header.size exactly.
func DecodeVQEvent(b []byte) (any, error) {
	h, err := decodeRespHeader(votequorumSvc, b)
	if err != nil {
		return nil, err
	}
	switch h.ID {
	case VQResQuorum:
		if _, err := decodeEventHeader(votequorumSvc, b, h.ID, vqQuorumFixed); err != nil {
			return nil, err
		}
		n, err := listCount("votequorum quorum event", "node_list_entries", ne.Uint32(b[40:]))
		if err != nil {
			return nil, err
		}
		if want := vqQuorumFixed + 8*n; len(b) != want {
			return nil, fmt.Errorf("votequorum quorum event: %d nodes need %d bytes, %d arrived", n, want, len(b))
		}
		ev := VQQuorum{Quorate: ne.Uint32(b[24:]), Context: ne.Uint64(b[32:]), Nodes: make([]VQNode, n)}
		for i := range ev.Nodes {
			ev.Nodes[i] = VQNode{NodeID: ne.Uint32(b[vqQuorumFixed+8*i:]), State: ne.Uint32(b[vqQuorumFixed+8*i+4:])}
		}
		return ev, nil
	case VQResExpectedVotes:
		if len(b) != vqExpectedVotesSize {
			return nil, fmt.Errorf("votequorum expected-votes event: %d bytes, want %d", len(b), vqExpectedVotesSize)
		}
		return VQExpectedVotes{Context: ne.Uint64(b[24:]), Expected: ne.Uint32(b[32:])}, nil
	case VQResNodelist:
		if _, err := decodeEventHeader(votequorumSvc, b, h.ID, vqNodelistFixed); err != nil {
			return nil, err
		}
		n, err := listCount("votequorum nodelist event", "node_list_entries", ne.Uint32(b[48:]))
		if err != nil {
			return nil, err
		}
		if want := vqNodelistFixed + 4*n; len(b) != want {
			return nil, fmt.Errorf("votequorum nodelist event: %d nodes need %d bytes, %d arrived", n, want, len(b))
		}
		return VQNodelist{Context: ne.Uint64(b[24:]), Ring: getRing(b[32:]), Nodes: getList(b[vqNodelistFixed:], n)}, nil
	}
	return nil, fmt.Errorf("votequorum event: unknown id %d", h.ID)
}
