package wire

import (
	"bytes"
	"encoding/binary"
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

// Endpoint names (the libqb service names the libraries connect to).
const (
	QuorumEndpoint     = "quorum"
	VotequorumEndpoint = "votequorum"
)

// Service ids on the ring and the bus.
const (
	QuorumService     = 3
	VotequorumService = 5
)

// MaxListEntries bounds the node lists a decoder accepts: corosync's
// PROCESSOR_COUNT_MAX (384) plus the qdevice pseudo-node and the spare
// records votequorum allocates (386 in all). No real sender exceeds it.
const MaxListEntries = 386

// Track flags (CS_TRACK_*), shared by both services.
const (
	TrackCurrent     uint32 = 1
	TrackChanges     uint32 = 2
	TrackChangesOnly uint32 = 4
)

// RingID is a ring identity: representative node id and sequence
// (mar_quorum_ring_id_t and struct mar_votequorum_ring_id share the
// layout nodeid@0, seq@8, 16 bytes).
type RingID struct {
	NodeID uint32
	Seq    uint64
}

func putRing(b []byte, r RingID) {
	ne.PutUint32(b, r.NodeID)
	ne.PutUint64(b[8:], r.Seq)
}

func getRing(b []byte) RingID { return RingID{NodeID: ne.Uint32(b), Seq: ne.Uint64(b[8:])} }

// RespHeader is a decoded response or event header.
type RespHeader struct {
	ID    int32
	Size  int32
	Error cs.Error
}

func newRequest(id int32, size int) []byte { return qbipc.NewRequest(id, size-ReqHeaderSize) }

func newResponse(id int32, err cs.Error, size int) []byte {
	return qbipc.NewResponse(id, int32(err), size-RespHeaderSize)
}

// GenericError is the bare reply corosync's dispatcher sends for a request
// it could not hand to a handler (unknown id, bad size): id 0, size 24.
// Both libraries read only its status.
func GenericError(err cs.Error) []byte { return newResponse(0, err, RespHeaderSize) }

// decodeRespHeader reads the header of a response or event of service
// svc ("quorum", "votequorum") and checks that its size field matches the
// bytes that arrived.
func decodeRespHeader(svc string, b []byte) (RespHeader, error) {
	if len(b) < RespHeaderSize {
		return RespHeader{}, fmt.Errorf("%s response: %d bytes, shorter than its %d-byte header", svc, len(b), RespHeaderSize)
	}
	h := RespHeader{ID: int32(ne.Uint32(b[0:])), Size: int32(ne.Uint32(b[8:])), Error: cs.Error(int32(ne.Uint32(b[16:])))}
	if int64(h.Size) != int64(len(b)) {
		return h, fmt.Errorf("%s response id %d: header size %d but %d bytes arrived", svc, h.ID, h.Size, len(b))
	}
	return h, nil
}

// decodeReply checks a reply's header. A 24-byte reply with an error
// status is corosync's generic reply (id 0), which stands in for any
// response: body reports false and the caller reads only the status.
// Otherwise the reply must carry the expected id and exactly size bytes
// (corosync sends GETINFO's full 320 bytes with CS_ERR_NOT_EXIST, and that
// body is read too).
func decodeReply(svc string, b []byte, id int32, size int) (h RespHeader, body bool, err error) {
	h, err = decodeRespHeader(svc, b)
	if err != nil {
		return h, false, err
	}
	if h.Error != cs.OK && len(b) == RespHeaderSize {
		return h, false, nil
	}
	if h.ID != id {
		return h, false, fmt.Errorf("%s reply: id %d, want %d", svc, h.ID, id)
	}
	if len(b) != size {
		return h, false, fmt.Errorf("%s reply id %d: %d bytes, want %d", svc, id, len(b), size)
	}
	return h, true, nil
}

// decodeEventHeader checks an event's header: its id and that at least
// fixed bytes arrived.
func decodeEventHeader(svc string, b []byte, id int32, fixed int) (RespHeader, error) {
	h, err := decodeRespHeader(svc, b)
	if err != nil {
		return h, err
	}
	if h.ID != id {
		return h, fmt.Errorf("%s event: id %d, want %d", svc, h.ID, id)
	}
	if len(b) < fixed {
		return h, fmt.Errorf("%s event id %d: %d bytes, shorter than its %d-byte fixed part", svc, id, len(b), fixed)
	}
	return h, nil
}

// reqHeader checks a request's header against the bytes that arrived and
// returns its id.
func reqHeader(svc string, b []byte) (int32, error) {
	if len(b) < ReqHeaderSize {
		return 0, fmt.Errorf("%s request: %d bytes, shorter than its %d-byte header", svc, len(b), ReqHeaderSize)
	}
	id := int32(ne.Uint32(b[0:]))
	size := int32(ne.Uint32(b[8:]))
	if size < 0 || int(size) != len(b) {
		return id, fmt.Errorf("%s request id %d: header size %d but %d bytes arrived", svc, id, size, len(b))
	}
	return id, nil
}

// putList writes u32 ids from offset 0 of b.
func putList(b []byte, ids []uint32) {
	for i, id := range ids {
		ne.PutUint32(b[4*i:], id)
	}
}

// getList reads n u32 ids (nil for none).
func getList(b []byte, n int) []uint32 {
	if n == 0 {
		return nil
	}
	l := make([]uint32, n)
	for i := range l {
		l[i] = ne.Uint32(b[4*i:])
	}
	return l
}

// listCount reads a list length field and checks it against the bound.
func listCount(svc, what string, v uint32) (int, error) {
	if v > MaxListEntries {
		return 0, fmt.Errorf("%s: %s %d exceeds %d", svc, what, v, MaxListEntries)
	}
	return int(v), nil
}

// QdeviceNameMax is VOTEQUORUM_QDEVICE_MAX_NAME_LEN: the size of the
// qdevice name arrays, NUL included, so names are at most 254 bytes.
const QdeviceNameMax = 255

// putName writes a qdevice name into a 255-byte char array.
func putName(b []byte, s string) { copy(b[:QdeviceNameMax-1], s) }

// getName reads a qdevice name: the bytes before the first NUL (libvotequorum
// strcpy()s the name and leaves whatever followed in the array; corosync
// compares with strncmp). An array without a NUL is refused: no library
// call can produce one.
func getName(b []byte, what string) (string, error) {
	b = b[:QdeviceNameMax]
	i := bytes.IndexByte(b, 0)
	if i < 0 {
		return "", fmt.Errorf("%s: name of %d bytes without a terminating NUL", what, QdeviceNameMax)
	}
	return string(b[:i]), nil
}

// CheckName refuses what libvotequorum refuses before sending (it returns
// CS_ERR_INVALID_PARAM without a request): an empty name or one of 255
// bytes or more. Encoders truncate; clients call this first.
func CheckName(s, what string) error {
	if len(s) == 0 || len(s) >= QdeviceNameMax {
		return fmt.Errorf("%s: name length %d, want 1..%d", what, len(s), QdeviceNameMax-1)
	}
	return nil
}
