package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

var ne = binary.NativeEndian

// Header sizes of libqb messages.
const (
	ReqHeaderSize  = qbipc.ReqHeaderSize
	RespHeaderSize = qbipc.RespHeaderSize
)

// MaxMessage is the message size libcpg negotiates (1 MiB).
const MaxMessage = 1 << 20

// MaxAtomic is the largest multicast libcpg sends in one MCAST request
// (IPC_REQUEST_SIZE − 1024); larger ones go as PARTIAL_MCAST fragments of
// at most this many bytes.
const MaxAtomic = MaxMessage - 1024

// Request ids (enum req_cpg_types).
const (
	ReqJoin         int32 = 0
	ReqLeave        int32 = 1
	ReqMcast        int32 = 2
	ReqMembership   int32 = 3
	ReqLocalGet     int32 = 4
	ReqIterInit     int32 = 5
	ReqIterNext     int32 = 6
	ReqIterFinalize int32 = 7
	ReqFinalize     int32 = 8
	ReqZcAlloc      int32 = 9
	ReqZcFree       int32 = 10
	ReqZcExecute    int32 = 11
	ReqPartialMcast int32 = 12
	numRequestIDs         = 13
)

// Response and event ids (enum res_cpg_types).
const (
	ResJoin          int32 = 0
	ResLeave         int32 = 1
	ResMcast         int32 = 2
	ResMembership    int32 = 3
	EvConfChg        int32 = 4
	EvDeliver        int32 = 5
	ResLocalGet      int32 = 7
	ResIterInit      int32 = 9
	ResIterNext      int32 = 10
	ResIterFinalize  int32 = 11
	ResFinalize      int32 = 12
	EvTotemConfChg   int32 = 13
	ResNull          int32 = 14 // post-3.1.10 zero-copy refusal
	EvPartialDeliver int32 = 17
	ResPartialSend   int32 = 18
)

// Confchg reasons (enum lib_cpg_confchg_reason).
const (
	ReasonJoin     uint32 = 1
	ReasonLeave    uint32 = 2
	ReasonNodeDown uint32 = 3
	ReasonNodeUp   uint32 = 4
	ReasonProcDown uint32 = 5
)

// Partial fragment types (enum lib_cpg_partial_types).
const (
	PartialFirst     uint32 = 1
	PartialContinued uint32 = 2
	PartialLast      uint32 = 3
)

// Iteration types (cpg_iteration_type_t).
const (
	IterNameOnly uint32 = 1
	IterOneGroup uint32 = 2
	IterAll      uint32 = 3
)

// FlagInitialTotemConf is CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF, the
// only model-v1 flag libcpg lets through.
const FlagInitialTotemConf uint32 = 1

// Group names: mar_cpg_name_t is u32 length @0, 128 bytes @8 (136 bytes).
const (
	NameSize = 136
	NameMax  = 128
)

// Address is mar_cpg_address_t: nodeid @0, pid @8, reason @16 (24 bytes).
type Address struct {
	NodeID uint32
	PID    uint32
	Reason uint32
}

// AddressSize is sizeof(mar_cpg_address_t).
const AddressSize = 24

// RingID is mar_cpg_ring_id_t: nodeid @0, seq @8 (16 bytes).
type RingID struct {
	NodeID uint32
	Seq    uint64
}

// NameError is a group name whose length field exceeds 128 bytes. The
// daemon answers it with CS_ERR_NAME_TOO_LONG (libcpg refuses such names
// before sending, so only a foreign or broken client sends one).
type NameError struct {
	Req    int32
	Length uint32
}

func (e *NameError) Error() string {
	return fmt.Sprintf("cpg request id %d: group name length %d exceeds %d", e.Req, e.Length, NameMax)
}

// Unwrap lets errors.Is(err, cs.ErrNameTooLong) match.
func (e *NameError) Unwrap() error { return cs.ErrNameTooLong }

// ErrBadRequest marks every other request decoding failure; the daemon
// answers it with the generic CS_ERR_INVALID_PARAM reply.
var ErrBadRequest = errors.New("malformed cpg request")

func putName(b []byte, g string) {
	ne.PutUint32(b, uint32(len(g)))
	copy(b[8:8+NameMax], g)
}

// getName reads a mar_cpg_name_t: binary bytes, NUL allowed, length
// 0..128. Bytes past the length are padding.
func getName(b []byte, req int32) (string, error) {
	n := ne.Uint32(b)
	if n > NameMax {
		return "", &NameError{Req: req, Length: n}
	}
	return string(b[8 : 8+n]), nil
}

// getNameEv reads a group name in a response or event, where an overlong
// length is a plain decoding error.
func getNameEv(b []byte, what string) (string, error) {
	n := ne.Uint32(b)
	if n > NameMax {
		return "", fmt.Errorf("%s: group name length %d exceeds %d", what, n, NameMax)
	}
	return string(b[8 : 8+n]), nil
}

func putAddr(b []byte, a Address) {
	ne.PutUint32(b[0:], a.NodeID)
	ne.PutUint32(b[8:], a.PID)
	ne.PutUint32(b[16:], a.Reason)
}

func getAddr(b []byte) Address {
	return Address{NodeID: ne.Uint32(b[0:]), PID: ne.Uint32(b[8:]), Reason: ne.Uint32(b[16:])}
}

func newRequest(id int32, size int) []byte { return qbipc.NewRequest(id, size-ReqHeaderSize) }

func newResponse(id int32, err cs.Error, size int) []byte {
	return qbipc.NewResponse(id, int32(err), size-RespHeaderSize)
}

// RespHeader is a decoded response or event header.
type RespHeader struct {
	ID    int32
	Size  int32
	Error cs.Error
}

// DecodeRespHeader reads the header of a response or event and checks
// that its size field matches the bytes that arrived.
func DecodeRespHeader(b []byte) (RespHeader, error) {
	if len(b) < RespHeaderSize {
		return RespHeader{}, fmt.Errorf("cpg response: %d bytes, shorter than its %d-byte header", len(b), RespHeaderSize)
	}
	h := RespHeader{ID: int32(ne.Uint32(b[0:])), Size: int32(ne.Uint32(b[8:])), Error: cs.Error(int32(ne.Uint32(b[16:])))}
	if int(h.Size) != len(b) {
		return h, fmt.Errorf("cpg response id %d: header size %d but %d bytes arrived", h.ID, h.Size, len(b))
	}
	return h, nil
}
