// Package cpgmsg encodes and decodes the cpg ring messages (service 2) of
// corosync 3.1.7: PROCJOIN, PROCLEAVE, JOINLIST, MCAST, DOWNLIST_OLD,
// DOWNLIST and PARTIAL_MCAST (spec/cpg.md §6, addendum §3.8–3.9).
//
// Every message starts with the 16-byte libqb request header (id@0,
// size@8), except JOINLIST, which starts with a 24-byte response header
// (id@0, size@8, error@16). All C members are 8-byte aligned, so every
// u32 field is followed by 4 padding bytes. Needle writes little-endian and
// zeroes all padding; a decoder ignores padding and the bytes of a group
// name beyond its length (3.1.7 leaves PARTIAL_MCAST and DOWNLIST padding
// and stale DOWNLIST entries uninitialised, and copies client name bytes
// past the length). Decode takes the delivery's byte-order flag: a peer of
// the other byte order wrote every field swapped.
//
// Receivers in 3.1.7 trust the header size and never check the delivered
// length; needle's decoder requires header.size to equal the delivered
// length and every count to fit, and rejects anything else with an error
// naming the message and field.
package cpgmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Service is cpg's service id; a message id is Service<<16 | fn.
const Service = 2

// Fn is the low half of a cpg exec message id.
type Fn uint16

// cpg exec message functions (MESSAGE_REQ_EXEC_CPG_*).
const (
	FnProcJoin     Fn = 0
	FnProcLeave    Fn = 1
	FnJoinList     Fn = 2
	FnMcast        Fn = 3
	FnDownlistOld  Fn = 4
	FnDownlist     Fn = 5
	FnPartialMcast Fn = 6
)

var fnNames = [...]string{"PROCJOIN", "PROCLEAVE", "JOINLIST", "MCAST", "DOWNLIST_OLD", "DOWNLIST", "PARTIAL_MCAST"}

func (f Fn) String() string {
	if int(f) < len(fnNames) {
		return fnNames[f]
	}
	return fmt.Sprintf("cpg fn %d", uint16(f))
}

// Sizes and offsets of the C structs (x86_64, checked in the addendum).
const (
	HeaderSize    = 16  // struct qb_ipc_request_header
	ResHeaderSize = 24  // struct qb_ipc_response_header (JOINLIST)
	NameSize      = 136 // mar_cpg_name_t: length u32 (+4), value[128]
	MaxNameLength = 128 // CPG_MAX_NAME_LENGTH

	ProcJoinSize     = 168  // req_exec_cpg_procjoin (PROCJOIN and PROCLEAVE)
	JoinEntrySize    = 144  // join_list_entry: pid u32 (+4), name
	McastSize        = 184  // req_exec_cpg_mcast, payload follows
	PartialMcastSize = 200  // req_exec_cpg_partial_mcast, payload follows
	DownlistSize     = 1568 // req_exec_cpg_downlist
	DownlistOldSize  = 1560 // req_exec_cpg_downlist_old
	MaxDownlist      = 384  // PROCESSOR_COUNT_MAX entries of nodeids[]
)

// ErrMalformed marks a message that cannot be decoded; errors.Is works on
// every decode error.
var ErrMalformed = errors.New("malformed cpg message")

// Message is one decoded cpg ring message.
type Message interface {
	// Fn is the message's function.
	Fn() Fn
	// AppendTo appends the encoded message (header first) to dst.
	AppendTo(dst []byte) []byte
}

// ProcJoin is PROCJOIN: process PID joined Group on the sending node.
// Reason is JOIN (1).
type ProcJoin struct {
	Group  string
	PID    uint32
	Reason uint32
}

// ProcLeave is PROCLEAVE (same layout as PROCJOIN): Reason is LEAVE (2) or
// PROCDOWN (5).
type ProcLeave struct {
	Group  string
	PID    uint32
	Reason uint32
}

// JoinEntry is one process of a JOINLIST.
type JoinEntry struct {
	PID   uint32
	Group string
}

// JoinList is JOINLIST: the sender's local processes. Corosync never
// sends an empty one; needle does not either (the core skips it).
type JoinList struct {
	Entries []JoinEntry
}

// Mcast is MCAST: Data for Group from process PID. SourceNode and
// SourceConn are mar_message_source_t (the sender's node id and an opaque
// sender-local connection handle, ignored by receivers).
type Mcast struct {
	Group      string
	PID        uint32
	SourceNode uint32
	SourceConn uint64
	Data       []byte
}

// PartialMcast is PARTIAL_MCAST: one fragment (Data, fraglen bytes) of a
// message of MsgLen bytes. Type is LIBCPG_PARTIAL_FIRST/CONTINUED/LAST.
type PartialMcast struct {
	Group      string
	MsgLen     uint32
	PID        uint32
	Type       uint32
	SourceNode uint32
	SourceConn uint64
	Data       []byte
}

// Downlist is DOWNLIST: the sender's old member count and the nodes of its
// previous ring that did not come along (3.1.7 receivers only log it).
type Downlist struct {
	OldMembers uint32
	Left       []uint32
}

// DownlistOld is DOWNLIST_OLD (pre-2.0 compatibility): never sent, ignored.
type DownlistOld struct {
	Left []uint32
}

// Fn implements Message.
func (ProcJoin) Fn() Fn { return FnProcJoin }

// Fn implements Message.
func (ProcLeave) Fn() Fn { return FnProcLeave }

// Fn implements Message.
func (JoinList) Fn() Fn { return FnJoinList }

// Fn implements Message.
func (Mcast) Fn() Fn { return FnMcast }

// Fn implements Message.
func (PartialMcast) Fn() Fn { return FnPartialMcast }

// Fn implements Message.
func (Downlist) Fn() Fn { return FnDownlist }

// Fn implements Message.
func (DownlistOld) Fn() Fn { return FnDownlistOld }

var le = binary.LittleEndian

func id(fn Fn) uint32 { return Service<<16 | uint32(fn) }

// appendU32 appends v and 4 zero padding bytes (an 8-aligned C member).
func appendU32(dst []byte, v uint32) []byte {
	dst = le.AppendUint32(dst, v)
	return le.AppendUint32(dst, 0)
}

func appendHeader(dst []byte, fn Fn, size int) []byte {
	dst = appendU32(dst, id(fn))
	return appendU32(dst, uint32(size))
}

// appendName appends mar_cpg_name_t. The caller checked the length.
func appendName(dst []byte, name string) []byte {
	if len(name) > MaxNameLength {
		panic(fmt.Sprintf("cpgmsg: group name of %d bytes, limit %d", len(name), MaxNameLength))
	}
	dst = appendU32(dst, uint32(len(name)))
	dst = append(dst, name...)
	return append(dst, make([]byte, MaxNameLength-len(name))...)
}

func appendProc(dst []byte, fn Fn, group string, pid, reason uint32) []byte {
	dst = appendHeader(dst, fn, ProcJoinSize)
	dst = appendName(dst, group)
	dst = appendU32(dst, pid)
	return appendU32(dst, reason)
}

// AppendTo implements Message.
func (m ProcJoin) AppendTo(dst []byte) []byte {
	return appendProc(dst, FnProcJoin, m.Group, m.PID, m.Reason)
}

// AppendTo implements Message.
func (m ProcLeave) AppendTo(dst []byte) []byte {
	return appendProc(dst, FnProcLeave, m.Group, m.PID, m.Reason)
}

// AppendTo implements Message.
func (m JoinList) AppendTo(dst []byte) []byte {
	size := ResHeaderSize + JoinEntrySize*len(m.Entries)
	dst = appendHeader(dst, FnJoinList, size)
	dst = appendU32(dst, 0) // error
	for _, e := range m.Entries {
		dst = appendU32(dst, e.PID)
		dst = appendName(dst, e.Group)
	}
	return dst
}

func appendSource(dst []byte, node uint32, conn uint64) []byte {
	dst = appendU32(dst, node)
	return le.AppendUint64(dst, conn)
}

// AppendTo implements Message.
func (m Mcast) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, FnMcast, McastSize+len(m.Data))
	dst = appendName(dst, m.Group)
	dst = appendU32(dst, uint32(len(m.Data)))
	dst = appendU32(dst, m.PID)
	dst = appendSource(dst, m.SourceNode, m.SourceConn)
	return append(dst, m.Data...)
}

// AppendTo implements Message.
func (m PartialMcast) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, FnPartialMcast, PartialMcastSize+len(m.Data))
	dst = appendName(dst, m.Group)
	dst = appendU32(dst, m.MsgLen)
	dst = appendU32(dst, uint32(len(m.Data)))
	dst = appendU32(dst, m.PID)
	dst = appendU32(dst, m.Type)
	dst = appendSource(dst, m.SourceNode, m.SourceConn)
	return append(dst, m.Data...)
}

func appendNodeids(dst []byte, ids []uint32) []byte {
	if len(ids) > MaxDownlist {
		panic(fmt.Sprintf("cpgmsg: downlist of %d nodes, limit %d", len(ids), MaxDownlist))
	}
	for _, n := range ids {
		dst = le.AppendUint32(dst, n)
	}
	return append(dst, make([]byte, 4*(MaxDownlist-len(ids)))...)
}

// AppendTo implements Message. The message is always the full 1568 bytes.
func (m Downlist) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, FnDownlist, DownlistSize)
	dst = appendU32(dst, m.OldMembers)
	dst = appendU32(dst, uint32(len(m.Left)))
	return appendNodeids(dst, m.Left)
}

// AppendTo implements Message. Needle never sends it; tests and fuzzing do.
func (m DownlistOld) AppendTo(dst []byte) []byte {
	dst = appendHeader(dst, FnDownlistOld, DownlistOldSize)
	dst = appendU32(dst, uint32(len(m.Left)))
	return appendNodeids(dst, m.Left)
}

// Encode returns m's bytes, in one allocation of the message's size (a
// multicast's payload is copied once, not regrown field by field).
func Encode(m Message) []byte { return m.AppendTo(make([]byte, 0, encodedSize(m))) }

// encodedSize is the size of m's encoding where it is known beforehand,
// else 0 (append grows the slice).
func encodedSize(m Message) int {
	switch m := m.(type) {
	case Mcast:
		return McastSize + len(m.Data)
	case PartialMcast:
		return PartialMcastSize + len(m.Data)
	case ProcJoin, ProcLeave:
		return ProcJoinSize
	case Downlist:
		return DownlistSize
	}
	return 0
}

// reader reads fields in the sender's byte order.
type reader struct {
	b       []byte
	swapped bool
}

func (r reader) u32(off int) uint32 {
	v := le.Uint32(r.b[off:])
	if r.swapped {
		v = bits.ReverseBytes32(v)
	}
	return v
}

func (r reader) u64(off int) uint64 {
	v := le.Uint64(r.b[off:])
	if r.swapped {
		v = bits.ReverseBytes64(v)
	}
	return v
}

func malformed(fn Fn, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, fn, fmt.Sprintf(format, args...))
}

// name reads a mar_cpg_name_t at off.
func (r reader) name(fn Fn, off int, what string) (string, error) {
	n := r.u32(off)
	if n > MaxNameLength {
		return "", malformed(fn, "%s group name length %d at offset %d exceeds %d", what, n, off, MaxNameLength)
	}
	return string(r.b[off+8 : off+8+int(n)]), nil
}

// Decode decodes one delivered cpg message (exec header first). swapped is
// the delivery's byte-order flag. The returned message does not alias msg.
func Decode(msg []byte, swapped bool) (Message, error) {
	if len(msg) < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(msg), HeaderSize)
	}
	r := reader{b: msg, swapped: swapped}
	hid := r.u32(0)
	if hid>>16 != Service {
		return nil, fmt.Errorf("%w: header id %#x is service %d, not cpg (%d)", ErrMalformed, hid, hid>>16, Service)
	}
	fn := Fn(hid & 0xffff)
	size := r.u32(8)
	if int64(size) != int64(len(msg)) {
		return nil, malformed(fn, "header says %d bytes, message has %d", size, len(msg))
	}
	switch fn {
	case FnProcJoin, FnProcLeave:
		return decodeProc(fn, r)
	case FnJoinList:
		return decodeJoinList(r)
	case FnMcast:
		return decodeMcast(r)
	case FnPartialMcast:
		return decodePartial(r)
	case FnDownlist:
		return decodeDownlist(r)
	case FnDownlistOld:
		return decodeDownlistOld(r)
	}
	return nil, malformed(fn, "unknown function")
}

func decodeProc(fn Fn, r reader) (Message, error) {
	if len(r.b) != ProcJoinSize {
		return nil, malformed(fn, "%d bytes, want %d", len(r.b), ProcJoinSize)
	}
	g, err := r.name(fn, 16, "")
	if err != nil {
		return nil, err
	}
	pid, reason := r.u32(152), r.u32(160)
	if fn == FnProcJoin {
		return ProcJoin{Group: g, PID: pid, Reason: reason}, nil
	}
	return ProcLeave{Group: g, PID: pid, Reason: reason}, nil
}

func decodeJoinList(r reader) (Message, error) {
	n := len(r.b)
	if n < ResHeaderSize || (n-ResHeaderSize)%JoinEntrySize != 0 {
		return nil, malformed(FnJoinList, "%d bytes is not the %d-byte header plus %d-byte entries", n, ResHeaderSize, JoinEntrySize)
	}
	count := (n - ResHeaderSize) / JoinEntrySize
	jl := JoinList{Entries: make([]JoinEntry, 0, count)}
	for i := range count {
		off := ResHeaderSize + i*JoinEntrySize
		g, err := r.name(FnJoinList, off+8, fmt.Sprintf("entry %d", i))
		if err != nil {
			return nil, err
		}
		jl.Entries = append(jl.Entries, JoinEntry{PID: r.u32(off), Group: g})
	}
	return jl, nil
}

func decodeMcast(r reader) (Message, error) {
	if len(r.b) < McastSize {
		return nil, malformed(FnMcast, "%d bytes, shorter than the %d-byte struct", len(r.b), McastSize)
	}
	g, err := r.name(FnMcast, 16, "")
	if err != nil {
		return nil, err
	}
	msglen := r.u32(152)
	if int64(msglen) != int64(len(r.b)-McastSize) {
		return nil, malformed(FnMcast, "msglen %d, but %d payload bytes", msglen, len(r.b)-McastSize)
	}
	return Mcast{
		Group: g, PID: r.u32(160),
		SourceNode: r.u32(168), SourceConn: r.u64(176),
		Data: clone(r.b[McastSize:]),
	}, nil
}

func decodePartial(r reader) (Message, error) {
	if len(r.b) < PartialMcastSize {
		return nil, malformed(FnPartialMcast, "%d bytes, shorter than the %d-byte struct", len(r.b), PartialMcastSize)
	}
	g, err := r.name(FnPartialMcast, 16, "")
	if err != nil {
		return nil, err
	}
	msglen, fraglen, typ := r.u32(152), r.u32(160), r.u32(176)
	if int64(fraglen) != int64(len(r.b)-PartialMcastSize) {
		return nil, malformed(FnPartialMcast, "fraglen %d, but %d payload bytes", fraglen, len(r.b)-PartialMcastSize)
	}
	if fraglen > msglen {
		return nil, malformed(FnPartialMcast, "fraglen %d exceeds msglen %d", fraglen, msglen)
	}
	if typ < 1 || typ > 3 {
		return nil, malformed(FnPartialMcast, "fragment type %d, want 1 (first), 2 (continued) or 3 (last)", typ)
	}
	return PartialMcast{
		Group: g, MsgLen: msglen, PID: r.u32(168), Type: typ,
		SourceNode: r.u32(184), SourceConn: r.u64(192),
		Data: clone(r.b[PartialMcastSize:]),
	}, nil
}

func (r reader) nodeids(fn Fn, countOff, listOff, size int) ([]uint32, error) {
	if len(r.b) != size {
		return nil, malformed(fn, "%d bytes, want %d", len(r.b), size)
	}
	n := r.u32(countOff)
	if n > MaxDownlist {
		return nil, malformed(fn, "left_nodes %d exceeds %d", n, MaxDownlist)
	}
	ids := make([]uint32, n)
	for i := range ids {
		ids[i] = r.u32(listOff + 4*i)
	}
	return ids, nil
}

func decodeDownlist(r reader) (Message, error) {
	ids, err := r.nodeids(FnDownlist, 24, 32, DownlistSize)
	if err != nil {
		return nil, err
	}
	return Downlist{OldMembers: r.u32(16), Left: ids}, nil
}

func decodeDownlistOld(r reader) (Message, error) {
	ids, err := r.nodeids(FnDownlistOld, 16, 24, DownlistOldSize)
	if err != nil {
		return nil, err
	}
	return DownlistOld{Left: ids}, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
