package sim

import (
	"encoding/binary"
	"fmt"

	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// MsgID names one application message: the node and incarnation that sent it
// and a counter local to that incarnation. Packed into one word so the
// checker's maps and delivery lists stay small.
type MsgID uint64

// Field widths of a MsgID: 16 bits node, 16 bits incarnation, 32 bits counter.
const (
	msgNodeBits = 16
	msgIncBits  = 16
	msgSeqBits  = 32
)

// NewMsgID packs the three parts of a message id.
func NewMsgID(node srp.NodeID, inc uint32, n uint32) MsgID {
	return MsgID(uint64(node)<<(msgIncBits+msgSeqBits) | uint64(inc&0xffff)<<msgSeqBits | uint64(n))
}

// Node is the originating node.
func (m MsgID) Node() srp.NodeID { return srp.NodeID(m >> (msgIncBits + msgSeqBits)) }

// Inc is the originator's incarnation (1 for the first start).
func (m MsgID) Inc() uint32 { return uint32(m>>msgSeqBits) & 0xffff }

// Seq is the originator's message counter.
func (m MsgID) Seq() uint32 { return uint32(m) }

func (m MsgID) String() string {
	return fmt.Sprintf("n%d.%d#%d", m.Node(), m.Inc(), m.Seq())
}

// Payload layout: node u32, incarnation u32, counter u32, total length u32,
// filler bytes, then an FNV-64a checksum of everything before it. The
// length and checksum let the checker tell a corrupted or truncated message
// from an invented one.
const (
	payloadHeader = 16
	payloadSum    = 8
	// MinPayload is the smallest payload the simulator sends.
	MinPayload = payloadHeader + payloadSum
)

// EncodePayload builds a size-byte message for id; filler is taken from
// fill, which must hold at least size bytes of arbitrary data.
func EncodePayload(id MsgID, size int, fill []byte) []byte {
	if size < MinPayload {
		size = MinPayload
	}
	b := make([]byte, size)
	binary.LittleEndian.PutUint32(b[0:], uint32(id.Node()))
	binary.LittleEndian.PutUint32(b[4:], id.Inc())
	binary.LittleEndian.PutUint32(b[8:], id.Seq())
	binary.LittleEndian.PutUint32(b[12:], uint32(size))
	copy(b[payloadHeader:size-payloadSum], fill)
	binary.LittleEndian.PutUint64(b[size-payloadSum:], payloadChecksum(b[:size-payloadSum]))
	return b
}

// DecodePayload checks a delivered payload and returns its id and checksum.
// Any error means the bytes are not a message the simulator built.
func DecodePayload(b []byte) (MsgID, uint64, error) {
	if len(b) < MinPayload {
		return 0, 0, fmt.Errorf("payload of %d bytes is shorter than the %d-byte minimum", len(b), MinPayload)
	}
	size := binary.LittleEndian.Uint32(b[12:])
	if int64(size) != int64(len(b)) {
		return 0, 0, fmt.Errorf("payload length field says %d bytes, got %d", size, len(b))
	}
	want := binary.LittleEndian.Uint64(b[len(b)-payloadSum:])
	got := payloadChecksum(b[:len(b)-payloadSum])
	if want != got {
		return 0, 0, fmt.Errorf("payload checksum %016x does not match contents (%016x)", want, got)
	}
	node := binary.LittleEndian.Uint32(b[0:])
	inc := binary.LittleEndian.Uint32(b[4:])
	if node == 0 || node >= 1<<msgNodeBits || inc >= 1<<msgIncBits {
		return 0, 0, fmt.Errorf("payload names node %d incarnation %d, out of range", node, inc)
	}
	return NewMsgID(srp.NodeID(node), inc, binary.LittleEndian.Uint32(b[8:])), want, nil
}

// payloadChecksum is FNV-64a, written out so it does not allocate.
func payloadChecksum(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}
