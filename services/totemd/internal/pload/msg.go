package pload

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
)

// Ring message functions of service 4 (corosync's pload_exec_message_req_types).
const (
	FnStart uint16 = 0
	FnMcast uint16 = 1
)

// HeaderSize is the libqb request header every ring message starts with:
// id@0 and size@8, each padded to 8 bytes.
const HeaderSize = 16

// StartSize is the length of a START message: header, count@16, size@20.
const StartSize = 24

// Start is the content of a START message.
type Start struct {
	Count uint32 // messages every node sends
	Size  uint32 // bytes per message as configured (pload.size)
}

var le = binary.LittleEndian

func appendHeader(dst []byte, fn uint16, size uint32) []byte {
	dst = le.AppendUint32(dst, uint32(svcid.Pload)<<16|uint32(fn))
	dst = le.AppendUint32(dst, 0)
	dst = le.AppendUint32(dst, size)
	return le.AppendUint32(dst, 0)
}

// EncodeStart builds a START message. corosync 3.1.7 leaves header.size
// uninitialised; needle writes the true length.
func EncodeStart(s Start) []byte {
	b := appendHeader(make([]byte, 0, StartSize), FnStart, StartSize)
	b = le.AppendUint32(b, s.Count)
	return le.AppendUint32(b, s.Size)
}

// McastLen is the length of an MCAST of the configured size: corosync
// sends the header, then size-16 filler bytes when size exceeds the
// header, so max(16, size) bytes in all.
func McastLen(size uint32) int { return max(HeaderSize, int(size)) }

// EncodeMcast builds an MCAST message. Its header claims size+16 bytes, as
// corosync's does, although McastLen(size) bytes are sent; the filler is
// zeros (corosync's is meaningless).
func EncodeMcast(size uint32) []byte {
	b := make([]byte, McastLen(size))
	appendHeader(b[:0], FnMcast, size+HeaderSize)
	return b
}

// Decode reads a pload ring message. swapped is the delivery's byte-order
// flag. The header's size is not checked: corosync's START carries an
// uninitialised one and its MCAST claims 16 bytes more than it sends.
func Decode(msg []byte, swapped bool) (fn uint16, s Start, err error) {
	if len(msg) < HeaderSize {
		return 0, Start{}, fmt.Errorf("pload message of %d bytes: shorter than its %d-byte header", len(msg), HeaderSize)
	}
	id := le.Uint32(msg)
	if swapped {
		id = bits.ReverseBytes32(id)
	}
	if svc := id >> 16; svc != svcid.Pload {
		return 0, Start{}, fmt.Errorf("pload message: header names service %d", svc)
	}
	fn = uint16(id)
	switch fn {
	case FnStart:
		if len(msg) < StartSize {
			return fn, Start{}, fmt.Errorf("pload START of %d bytes, need %d", len(msg), StartSize)
		}
		s = Start{Count: le.Uint32(msg[16:]), Size: le.Uint32(msg[20:])}
		if swapped {
			s.Count, s.Size = bits.ReverseBytes32(s.Count), bits.ReverseBytes32(s.Size)
		}
		return fn, s, nil
	case FnMcast:
		return fn, Start{}, nil
	}
	return fn, Start{}, fmt.Errorf("pload message: unknown function %d", fn)
}
