package cmapwire

import (
	"encoding/binary"
	"fmt"
	"github.com/needle-cluster/needle/libs/qbipc"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

var ne = binary.NativeEndian

// Header sizes of libqb messages.
const (
	ReqHeaderSize  = 16
	RespHeaderSize = 24
)

// MaxMessage is the message size every corosync client library negotiates
// (1 MiB); GET replies are never made larger than this.
const MaxMessage = 1 << 20

// Request ids.
const (
	ReqSet           int32 = 0
	ReqDelete        int32 = 1
	ReqGet           int32 = 2
	ReqAdjustInt     int32 = 3
	ReqIterInit      int32 = 4
	ReqIterNext      int32 = 5
	ReqIterFinalize  int32 = 6
	ReqTrackAdd      int32 = 7
	ReqTrackDelete   int32 = 8
	ReqSetCurrentMap int32 = 9
)

// Response and event ids. SET_CURRENT_MAP is answered with 10; 9 is the
// tracker event.
const (
	ResSet           int32 = 0
	ResDelete        int32 = 1
	ResGet           int32 = 2
	ResAdjustInt     int32 = 3
	ResIterInit      int32 = 4
	ResIterNext      int32 = 5
	ResIterFinalize  int32 = 6
	ResTrackAdd      int32 = 7
	ResTrackDelete   int32 = 8
	ResNotify        int32 = 9
	ResSetCurrentMap int32 = 10
)

// RespHeader is a decoded response or event header.
type RespHeader struct {
	ID    int32
	Size  int32
	Error cs.Error
}

// newRequest and newResponse take the total size; libqb's header layout
// itself lives in qbipc.
func newRequest(id int32, size int) []byte { return qbipc.NewRequest(id, size-qbipc.ReqHeaderSize) }

func newResponse(id int32, err cs.Error, size int) []byte {
	return qbipc.NewResponse(id, int32(err), size-qbipc.RespHeaderSize)
}

// GenericError is the bare reply corosync's dispatcher sends for a request
// it could not hand to a handler (unknown id, bad size): id 0, size 24.
func GenericError(err cs.Error) []byte { return newResponse(0, err, RespHeaderSize) }

// DecodeRespHeader reads the header of a response or event and checks
// that its size field matches the bytes that arrived.
func DecodeRespHeader(b []byte) (RespHeader, error) {
	if len(b) < RespHeaderSize {
		return RespHeader{}, fmt.Errorf("cmap response: %d bytes, shorter than its %d-byte header", len(b), RespHeaderSize)
	}
	h := RespHeader{ID: int32(ne.Uint32(b[0:])), Size: int32(ne.Uint32(b[8:])), Error: cs.Error(int32(ne.Uint32(b[16:])))}
	if int(h.Size) != len(b) {
		return h, fmt.Errorf("cmap response id %d: header size %d but %d bytes arrived", h.ID, h.Size, len(b))
	}
	return h, nil
}

// Name is the mar_name_t layout: u16 length @0, 256 bytes @8.
const (
	NameSize = 264
	NameMax  = 256
)

func putName(b []byte, s string) {
	ne.PutUint16(b, uint16(len(s)))
	copy(b[8:8+NameMax], s)
}

// getName reads a mar_name_t. corosync uses the bytes as a C string; we
// take value[:length] and refuse what a C client could never have meant:
// a length beyond the array or a NUL inside the name.
func getName(b []byte, what string) (string, error) {
	n := int(ne.Uint16(b))
	if n > NameMax {
		return "", fmt.Errorf("%s: name length %d exceeds %d", what, n, NameMax)
	}
	v := b[8 : 8+n]
	for i, c := range v {
		if c == 0 {
			return "", fmt.Errorf("%s: NUL at byte %d of a %d-byte name", what, i, n)
		}
	}
	return string(v), nil
}
