package ipcproto

import (
	"encoding/binary"
	"math"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// The hot kinds (KindMcast, KindMcastAck, KindDeliver, KindDeliverBatch)
// pass the bus once per ring message, and msgpack's reflection cost more
// CPU than everything else totemd does per message. appendFast and
// decodeFast handle the messages that use only the fields those kinds
// use, producing and accepting exactly the bytes msgpack.Marshal gives for
// the same Msg (fast_test.go compares them): the wire format does not
// change, only who writes it. Anything else goes through msgpack.

// msgpack type bytes used here.
const (
	mpNil    = 0xc0
	mpFalse  = 0xc2
	mpTrue   = 0xc3
	mpBin8   = 0xc4
	mpBin16  = 0xc5
	mpBin32  = 0xc6
	mpUint8  = 0xcc
	mpUint32 = 0xce
	mpUint64 = 0xcf
	mpInt32  = 0xd2
	mpArr16  = 0xdc
	mpArr32  = 0xdd
)

// fastable reports whether m uses only Kind, ID, From, Payload, Swapped,
// Status and Batch.
func fastable(m *Msg) bool {
	return m.Service == 0 && m.Name == "" && m.NodeID == 0 && m.Ring == nil && m.Conf == nil &&
		len(m.Trans) == 0 && len(m.Members) == 0 && len(m.RingMembers) == 0 && m.SyncKind == 0 && m.Text == "" && !m.Sync && len(m.Names) == 0
}

// appendFast appends m's msgpack body to b, as msgpack.Marshal would
// write it (fields in declaration order, empty ones omitted); ok is false
// for a message it does not handle.
func appendFast(b []byte, m *Msg) (_ []byte, ok bool) {
	if !fastable(m) {
		return b, false
	}
	n := 1
	for _, set := range [...]bool{m.ID != 0, m.From != 0, len(m.Payload) > 0, m.Swapped, m.Status != 0, len(m.Batch) > 0} {
		if set {
			n++
		}
	}
	b = append(b, 0x80|byte(n), 0xa1, 'k', mpUint8, byte(m.Kind))
	if m.ID != 0 {
		b = append(b, 0xa1, 'i', mpUint64)
		b = binary.BigEndian.AppendUint64(b, m.ID)
	}
	if m.From != 0 {
		b = append(b, 0xa1, 'f', mpUint32)
		b = binary.BigEndian.AppendUint32(b, m.From)
	}
	if len(m.Payload) > 0 {
		b = append(b, 0xa1, 'p')
		b = appendBin(b, m.Payload)
	}
	if m.Swapped {
		b = append(b, 0xa2, 's', 'w', mpTrue)
	}
	if m.Status != 0 {
		b = append(b, 0xa2, 's', 't', mpInt32)
		b = binary.BigEndian.AppendUint32(b, uint32(int32(m.Status)))
	}
	if len(m.Batch) > 0 {
		b = append(b, 0xa1, 'b')
		b = appendArrayLen(b, len(m.Batch))
		for i := range m.Batch {
			d := &m.Batch[i]
			fields := byte(2)
			if d.Swapped {
				fields = 3
			}
			b = append(b, 0x80|fields, 0xa1, 'f', mpUint32)
			b = binary.BigEndian.AppendUint32(b, d.From)
			b = append(b, 0xa1, 'p')
			if d.Payload == nil {
				b = append(b, mpNil)
			} else {
				b = appendBin(b, d.Payload)
			}
			if d.Swapped {
				b = append(b, 0xa2, 's', 'w', mpTrue)
			}
		}
	}
	return b, true
}

func appendBin(b, p []byte) []byte {
	switch n := len(p); {
	case n <= math.MaxUint8:
		b = append(b, mpBin8, byte(n))
	case n <= math.MaxUint16:
		b = append(b, mpBin16)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, mpBin32)
		b = binary.BigEndian.AppendUint32(b, uint32(n))
	}
	return append(b, p...)
}

func appendArrayLen(b []byte, n int) []byte {
	switch {
	case n < 16:
		return append(b, 0x90|byte(n))
	case n <= math.MaxUint16:
		b = append(b, mpArr16)
		return binary.BigEndian.AppendUint16(b, uint16(n))
	}
	b = append(b, mpArr32)
	return binary.BigEndian.AppendUint32(b, uint32(n))
}

// fastReader walks a msgpack body; any surprise sets bad and the caller
// falls back to the general decoder, so it never has to explain itself.
type fastReader struct {
	b   []byte
	pos int
	bad bool
}

func (r *fastReader) take(n int) []byte {
	if r.bad || n < 0 || len(r.b)-r.pos < n {
		r.bad = true
		return nil
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s
}

func (r *fastReader) byte1() byte {
	if s := r.take(1); s != nil {
		return s[0]
	}
	return 0
}

// key reads a fixstr map key of at most 2 bytes.
func (r *fastReader) key() string {
	c := r.byte1()
	if c != 0xa1 && c != 0xa2 {
		r.bad = true
		return ""
	}
	return string(r.take(int(c & 0x1f)))
}

func (r *fastReader) fixed(code byte, n int) []byte {
	if r.byte1() != code {
		r.bad = true
		return nil
	}
	return r.take(n)
}

func (r *fastReader) u32() uint32 {
	if s := r.fixed(mpUint32, 4); s != nil {
		return binary.BigEndian.Uint32(s)
	}
	return 0
}

func (r *fastReader) boolean() bool {
	switch r.byte1() {
	case mpTrue:
		return true
	case mpFalse:
		return false
	}
	r.bad = true
	return false
}

// bin reads a binary value into a fresh slice (msgpack copies too; a
// service may keep a payload, and must not pin the whole frame with it).
func (r *fastReader) bin() []byte {
	var n int
	switch r.byte1() {
	case mpNil:
		return nil
	case mpBin8:
		n = int(r.byte1())
	case mpBin16:
		if s := r.take(2); s != nil {
			n = int(binary.BigEndian.Uint16(s))
		}
	case mpBin32:
		if s := r.take(4); s != nil {
			n = int(binary.BigEndian.Uint32(s))
		}
	default:
		r.bad = true
	}
	s := r.take(n)
	if r.bad {
		return nil
	}
	if n >= aliasMin && 2*n >= len(r.b) {
		// Most of the frame: share its memory rather than copy it (a
		// 64 KiB multicast was copied twice on its way into totemd).
		// Keeping the payload keeps at most as much again alive.
		return s[:n:n]
	}
	return append(make([]byte, 0, n), s...)
}

// aliasMin is the smallest bin a decoded message shares with its frame.
const aliasMin = 4096

func (r *fastReader) arrayLen() int {
	c := r.byte1()
	switch {
	case c >= 0x90 && c <= 0x9f:
		return int(c & 0x0f)
	case c == mpArr16:
		if s := r.take(2); s != nil {
			return int(binary.BigEndian.Uint16(s))
		}
	case c == mpArr32:
		if s := r.take(4); s != nil {
			return int(binary.BigEndian.Uint32(s))
		}
	}
	r.bad = true
	return 0
}

// decodeFast parses a body appendFast could have written; ok is false for
// anything else (then msgpack decides, after checkFrame).
func decodeFast(b []byte) (*Msg, bool) {
	r := fastReader{b: b}
	c := r.byte1()
	if c < 0x80 || c > 0x8f {
		return nil, false
	}
	m := &Msg{}
	for range int(c & 0x0f) {
		switch r.key() {
		case "k":
			if s := r.fixed(mpUint8, 1); s != nil {
				m.Kind = Kind(s[0])
			}
		case "i":
			if s := r.fixed(mpUint64, 8); s != nil {
				m.ID = binary.BigEndian.Uint64(s)
			}
		case "f":
			m.From = r.u32()
		case "p":
			m.Payload = r.bin()
		case "sw":
			m.Swapped = r.boolean()
		case "st":
			if s := r.fixed(mpInt32, 4); s != nil {
				m.Status = cs.Error(int32(binary.BigEndian.Uint32(s)))
			}
		case "b":
			m.Batch = r.batch()
		default:
			return nil, false
		}
		if r.bad {
			return nil, false
		}
	}
	if r.pos != len(b) {
		return nil, false
	}
	return m, true
}

func (r *fastReader) batch() Batch {
	n := r.arrayLen()
	// Every delivery takes at least 8 bytes: the count is bounded by the
	// frame before anything is allocated, and by MaxBatch.
	if r.bad || n > MaxBatch || n > (len(r.b)-r.pos)/8 {
		r.bad = true
		return nil
	}
	out := make(Batch, n)
	for i := range out {
		c := r.byte1()
		if c < 0x80 || c > 0x8f {
			r.bad = true
			return nil
		}
		d := &out[i]
		for range int(c & 0x0f) {
			switch r.key() {
			case "f":
				d.From = r.u32()
			case "p":
				d.Payload = r.bin()
			case "sw":
				d.Swapped = r.boolean()
			default:
				r.bad = true
			}
			if r.bad {
				return nil
			}
		}
	}
	return out
}
