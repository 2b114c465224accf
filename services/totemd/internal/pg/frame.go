package pg

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Sizes of the totempg layer (spec/totem.md §8, §8.2).
const (
	// FrameHeaderSize is the fixed part of a totempg frame: version, type,
	// fragmented, continuation, msg_count.
	FrameHeaderSize = 8
	// McastHeaderSize is the W3 MCAST header; corosync 3.x subtracts it twice
	// from totem.netmtu (totemsrp_net_mtu_adjust).
	McastHeaderSize = 45
	// DefaultNetMTU is totem.netmtu's default.
	DefaultNetMTU = 1500
	// MaxSendSize is the largest message (group header included) Send
	// accepts: a 1 MiB body with its group and service headers.
	MaxSendSize = 1<<20 + 4096
	// MaxAssembleSize is the largest message the Receiver puts back
	// together: corosync 3.1.7's assembly buffer (MESSAGE_SIZE_MAX +
	// KNET_MAX_PACKET_SIZE), so anything a corosync peer can send fits.
	MaxAssembleSize = 1<<20 + 64<<10
	// minPacketSize keeps the packing loop meaningful: every frame must hold
	// a header of lengths and at least a few data bytes.
	minPacketSize = 64
)

var le = binary.LittleEndian

// PacketSize is TOTEMPG_PACKET_SIZE for a totem.netmtu: the bytes a frame
// may use after its 8-byte header (3.x: netmtu − 2×45 − 8; 1402 at 1500).
// The whole frame, lengths included, is at most PacketSize+8 bytes, which
// is the payload limit of srp's Mcast.
func PacketSize(netMTU int) int {
	return netMTU - 2*McastHeaderSize - FrameHeaderSize
}

// FrameHeader is the fixed 8-byte head of a totempg frame.
type FrameHeader struct {
	// Fragmented is 0 when the last piece completes its message, else the
	// sender's fragment number (1..255) that the next frame continues.
	Fragmented uint8
	// Continuation is 0 when the first piece starts a message, else the
	// Fragmented value of the sender's previous frame.
	Continuation uint8
	// Count is the number of pieces (msg_count).
	Count uint16
}

// Frame is a parsed, length-checked view of a totempg frame. It aliases the
// bytes it was parsed from.
type Frame struct {
	FrameHeader
	lens    []byte // Count 16-bit lengths, in the sender's byte order
	data    []byte
	swapped bool
}

// PieceLen is the length of piece i (0 ≤ i < Count).
func (f *Frame) PieceLen(i int) int {
	v := le.Uint16(f.lens[2*i:])
	if f.swapped {
		v = bits.ReverseBytes16(v)
	}
	return int(v)
}

// Data is the concatenated piece data.
func (f *Frame) Data() []byte { return f.data }

// Lens returns the piece lengths as a new slice (for tests and tools).
func (f *Frame) Lens() []int {
	out := make([]int, f.Count)
	for i := range out {
		out[i] = f.PieceLen(i)
	}
	return out
}

// ParseFrame checks and views one totempg frame as delivered by srp.
// swapped says the sender's byte order differs from ours (msg_count and the
// lengths are then read reversed; the frame itself is never modified, since
// srp keeps it for retransmission). The frame must be exactly
// 8 + 2×count + Σ lens bytes, as corosync 3.x requires.
func ParseFrame(frame []byte, swapped bool) (Frame, error) {
	if len(frame) < FrameHeaderSize {
		return Frame{}, fmt.Errorf("totempg frame: %d bytes, shorter than its %d-byte header", len(frame), FrameHeaderSize)
	}
	count := le.Uint16(frame[6:])
	if swapped {
		count = bits.ReverseBytes16(count)
	}
	f := Frame{
		FrameHeader: FrameHeader{Fragmented: frame[4], Continuation: frame[5], Count: count},
		swapped:     swapped,
	}
	end := FrameHeaderSize + 2*int(count)
	if len(frame) < end {
		return Frame{}, fmt.Errorf("totempg frame: msg_count %d needs %d header bytes, frame has %d", count, end, len(frame))
	}
	f.lens = frame[FrameHeaderSize:end]
	want := end
	for i := 0; i < int(count); i++ {
		want += f.PieceLen(i)
	}
	if len(frame) != want {
		return Frame{}, fmt.Errorf("totempg frame: %d bytes, header says %d (8 + 2×%d + data)", len(frame), want, count)
	}
	f.data = frame[end:]
	return f, nil
}

// appendFrame encodes a frame in our (little-endian) byte order.
func appendFrame(dst []byte, h FrameHeader, lens []int, data []byte) []byte {
	dst = le.AppendUint16(dst, 0) // version
	dst = le.AppendUint16(dst, 0) // type
	dst = append(dst, h.Fragmented, h.Continuation)
	dst = le.AppendUint16(dst, uint16(len(lens)))
	for _, l := range lens {
		dst = le.AppendUint16(dst, uint16(l))
	}
	return append(dst, data...)
}
