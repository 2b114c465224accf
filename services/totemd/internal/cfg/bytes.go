package cfg

import (
	"encoding/binary"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

var le = binary.LittleEndian

// Header sizes of libqb messages (spec/client-api.md §2.1).
const (
	ReqHeaderSize  = 16 // id@0, size@8
	RespHeaderSize = 24 // id@0, size@8, error@16
)

// newReq allocates a request of total size n with its header filled in.
func newReq(id ReqID, n int) []byte { return qbipc.NewRequest(int32(id), n-qbipc.ReqHeaderSize) }

// newResp allocates a response or event of total size n with its header
// filled in; padding and unused bytes stay zero.
func newResp(id RespID, e cs.Error, n int) []byte {
	return qbipc.NewResponse(int32(id), int32(e), n-qbipc.RespHeaderSize)
}

// putCString writes s into the fixed C array dst, truncated so that a NUL
// always follows (dst is assumed zeroed).
func putCString(dst []byte, s string) {
	if len(s) > len(dst)-1 {
		s = s[:len(dst)-1]
	}
	copy(dst, s)
}

// cString reads a C string from a fixed array: up to the first NUL, or the
// whole array if it has none (readers never run past the field).
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// RespHeader is the decoded 24-byte header of a response or event.
type RespHeader struct {
	ID    RespID
	Size  int32
	Error cs.Error
}

// DecodeRespHeader reads the header at the start of a response or event
// and checks that its size field matches the bytes received.
func DecodeRespHeader(b []byte) (RespHeader, error) {
	if len(b) < RespHeaderSize {
		return RespHeader{}, fmt.Errorf("cfg response: %d bytes, shorter than the %d-byte header", len(b), RespHeaderSize)
	}
	h := RespHeader{ID: RespID(le.Uint32(b[0:])), Size: int32(le.Uint32(b[8:])), Error: cs.Error(le.Uint32(b[16:]))}
	if int64(h.Size) != int64(len(b)) {
		return h, fmt.Errorf("cfg response id %d: header size %d but %d bytes received", h.ID, h.Size, len(b))
	}
	return h, nil
}

// GenericError is the bare reply corosync's dispatch layer sends for a
// request it refuses before any handler runs (unknown id, bad size, flow
// control): id 0, 24 bytes, the error.
func GenericError(e cs.Error) []byte { return newResp(0, e, RespHeaderSize) }
