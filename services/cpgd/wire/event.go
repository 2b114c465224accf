package wire

import (
	"encoding/binary"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Event is one decoded cpg event (dispatch message).
type Event interface {
	// EventID is the response id of the event (EvConfChg …).
	EventID() int32
	// Encode returns the whole event as cpgd sends it.
	Encode() []byte
}

// Fixed sizes of the event structs.
const (
	confChgSize      = 184 // + 24 × (members + left + joined)
	deliverSize      = 184 // + message
	partialDelivSize = 200 // + fragment
	totemConfChgSize = 48  // + 4 × members (the list starts at 44)
)

// ConfChg is CONFCHG_CALLBACK (4): group @24, member/joined/left counts
// @160/@168/@176, then members, left, joined (in that order) from @184.
type ConfChg struct {
	Group   string
	Members []Address
	Left    []Address
	Joined  []Address
}

// Deliver is DELIVER_CALLBACK (5): group @24, msglen @160, nodeid @168,
// pid @176, message @184.
type Deliver struct {
	Group  string
	NodeID uint32
	PID    uint32
	Msg    []byte // aliases the decoded event
}

// PartialDeliver is PARTIAL_DELIVER_CALLBACK (17): group @24, msglen
// @160, fraglen @168, nodeid @176, pid @184, type @192, fragment @200.
type PartialDeliver struct {
	Group  string
	MsgLen uint32
	NodeID uint32
	PID    uint32
	Type   uint32
	Frag   []byte // aliases the decoded event
}

// TotemConfChg is TOTEM_CONFCHG_CALLBACK (13): ring id @24, member count
// @40, node ids from @44 (natural alignment); the size is 48 + 4 × count.
type TotemConfChg struct {
	Ring    RingID
	Members []uint32
}

// EventID implements Event.
func (ConfChg) EventID() int32        { return EvConfChg }
func (Deliver) EventID() int32        { return EvDeliver }
func (PartialDeliver) EventID() int32 { return EvPartialDeliver }
func (TotemConfChg) EventID() int32   { return EvTotemConfChg }

// Encode implements Event.
func (e ConfChg) Encode() []byte        { return e.EncodeInto(nil) }
func (e Deliver) Encode() []byte        { return e.EncodeInto(nil) }
func (e PartialDeliver) Encode() []byte { return e.EncodeInto(nil) }
func (e TotemConfChg) Encode() []byte   { return e.EncodeInto(nil) }

// hdrLE is the byte order of libqb's response header (qbipc.NewResponse).
var hdrLE = binary.LittleEndian

// eventBuf returns size bytes of buf (a new slice if buf is too small),
// the first fixed of them zeroed and the response header set: the caller
// overwrites all the rest.
func eventBuf(buf []byte, id int32, size, fixed int) []byte {
	if cap(buf) < size {
		buf = make([]byte, size)
	} else {
		buf = buf[:size]
		clear(buf[:fixed])
	}
	hdrLE.PutUint32(buf[0:], uint32(id))
	hdrLE.PutUint32(buf[8:], uint32(size))
	hdrLE.PutUint32(buf[16:], uint32(cs.OK))
	return buf
}

// EncodeInto is Encode into buf's array when it is large enough (else a
// new one); the result is the encoded event.
func (e ConfChg) EncodeInto(buf []byte) []byte {
	n := len(e.Members) + len(e.Left) + len(e.Joined)
	b := eventBuf(buf, EvConfChg, confChgSize+n*AddressSize, confChgSize+n*AddressSize)
	putName(b[24:], e.Group)
	ne.PutUint32(b[160:], uint32(len(e.Members)))
	ne.PutUint32(b[168:], uint32(len(e.Joined)))
	ne.PutUint32(b[176:], uint32(len(e.Left)))
	off := confChgSize
	for _, l := range [][]Address{e.Members, e.Left, e.Joined} {
		for _, a := range l {
			putAddr(b[off:], a)
			off += AddressSize
		}
	}
	return b
}

// EncodeInto is Encode into buf's array when it is large enough.
func (e Deliver) EncodeInto(buf []byte) []byte {
	b := eventBuf(buf, EvDeliver, deliverSize+len(e.Msg), deliverSize)
	putName(b[24:], e.Group)
	ne.PutUint32(b[160:], uint32(len(e.Msg)))
	ne.PutUint32(b[168:], e.NodeID)
	ne.PutUint32(b[176:], e.PID)
	copy(b[deliverSize:], e.Msg)
	return b
}

// EncodeInto is Encode into buf's array when it is large enough.
func (e PartialDeliver) EncodeInto(buf []byte) []byte {
	b := eventBuf(buf, EvPartialDeliver, partialDelivSize+len(e.Frag), partialDelivSize)
	putName(b[24:], e.Group)
	ne.PutUint32(b[160:], e.MsgLen)
	ne.PutUint32(b[168:], uint32(len(e.Frag)))
	ne.PutUint32(b[176:], e.NodeID)
	ne.PutUint32(b[184:], e.PID)
	ne.PutUint32(b[192:], e.Type)
	copy(b[partialDelivSize:], e.Frag)
	return b
}

// EncodeInto is Encode into buf's array when it is large enough.
func (e TotemConfChg) EncodeInto(buf []byte) []byte {
	size := totemConfChgSize + 4*len(e.Members)
	b := eventBuf(buf, EvTotemConfChg, size, size)
	ne.PutUint32(b[24:], e.Ring.NodeID)
	ne.PutUint64(b[32:], e.Ring.Seq)
	ne.PutUint32(b[40:], uint32(len(e.Members)))
	for i, m := range e.Members {
		ne.PutUint32(b[44+4*i:], m)
	}
	return b
}

// DecodeEvent parses one whole event. Every count and length must
// describe exactly the bytes that arrived.
func DecodeEvent(b []byte) (Event, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return nil, err
	}
	need := map[int32]int{EvConfChg: confChgSize, EvDeliver: deliverSize, EvPartialDeliver: partialDelivSize, EvTotemConfChg: totemConfChgSize}[h.ID]
	if need == 0 {
		return nil, fmt.Errorf("cpg event: unknown id %d", h.ID)
	}
	if len(b) < need {
		return nil, fmt.Errorf("cpg event id %d: %d bytes, shorter than %d", h.ID, len(b), need)
	}
	what := fmt.Sprintf("cpg event id %d", h.ID)
	switch h.ID {
	case EvTotemConfChg:
		n := ne.Uint32(b[40:])
		if uint64(n)*4 != uint64(len(b)-totemConfChgSize) {
			return nil, fmt.Errorf("%s: %d members but %d bytes", what, n, len(b))
		}
		e := TotemConfChg{Ring: RingID{NodeID: ne.Uint32(b[24:]), Seq: ne.Uint64(b[32:])}, Members: make([]uint32, n)}
		for i := range e.Members {
			e.Members[i] = ne.Uint32(b[44+4*i:])
		}
		return e, nil
	}
	g, err := getNameEv(b[24:], what)
	if err != nil {
		return nil, err
	}
	switch h.ID {
	case EvConfChg:
		m, j, l := uint64(ne.Uint32(b[160:])), uint64(ne.Uint32(b[168:])), uint64(ne.Uint32(b[176:]))
		if (m+j+l)*AddressSize != uint64(len(b)-confChgSize) {
			return nil, fmt.Errorf("%s: %d members, %d left, %d joined but %d bytes", what, m, l, j, len(b))
		}
		off := confChgSize
		list := func(n uint64) []Address {
			out := make([]Address, n)
			for i := range out {
				out[i] = getAddr(b[off:])
				off += AddressSize
			}
			return out
		}
		e := ConfChg{Group: g}
		e.Members = list(m)
		e.Left = list(l)
		e.Joined = list(j)
		return e, nil
	case EvDeliver:
		ml := ne.Uint32(b[160:])
		if uint64(ml) != uint64(len(b)-deliverSize) {
			return nil, fmt.Errorf("%s: msglen %d but %d bytes follow", what, ml, len(b)-deliverSize)
		}
		return Deliver{Group: g, NodeID: ne.Uint32(b[168:]), PID: ne.Uint32(b[176:]), Msg: b[deliverSize:]}, nil
	default: // EvPartialDeliver
		e := PartialDeliver{Group: g, MsgLen: ne.Uint32(b[160:]), NodeID: ne.Uint32(b[176:]), PID: ne.Uint32(b[184:]), Type: ne.Uint32(b[192:]), Frag: b[partialDelivSize:]}
		fl := ne.Uint32(b[168:])
		switch {
		case uint64(fl) != uint64(len(b)-partialDelivSize):
			return nil, fmt.Errorf("%s: fraglen %d but %d bytes follow", what, fl, len(b)-partialDelivSize)
		case fl > e.MsgLen:
			return nil, fmt.Errorf("%s: fraglen %d larger than msglen %d", what, fl, e.MsgLen)
		case e.Type < PartialFirst || e.Type > PartialLast:
			return nil, fmt.Errorf("%s: fragment type %d", what, e.Type)
		}
		return e, nil
	}
}
