package srp

import (
	"encoding/binary"
	"fmt"
)

// W3 wire constants (spec/totem.md §3–4).
const (
	wireMagic   = 0xC070
	wireVersion = 3

	headerSize      = 13
	ringIDSize      = 12
	rtrItemSize     = ringIDSize + 4
	tokenSize       = 57 // ORF token without rtr entries
	mcastHeaderSize = 45
	mergeSize       = 29
	joinSize        = 33 // join without lists
	commitSize      = 41 // commit token without addresses and entries
	commitEntrySize = 24
	holdCancelSize  = 25

	// maxRtrEntries bounds the token's retransmit list (RETRANSMIT_ENTRIES_MAX).
	maxRtrEntries = 30
	// maxListEntries bounds join and commit-token lists: corosync's
	// PROCESSOR_COUNT_MAX; larger lists cannot come from a real peer.
	maxListEntries = 384

	encapRecovery = 1 // MCAST wraps a complete old-ring MCAST frame
	encapNormal   = 2
)

// msgType is the Totem message type byte.
type msgType uint8

const (
	typeOrfToken msgType = iota
	typeMcast
	typeMergeDetect
	typeJoin
	typeCommitToken
	typeHoldCancel
	numTypes
)

var typeNames = [numTypes]string{"ORF_TOKEN", "MCAST", "MEMB_MERGE_DETECT", "MEMB_JOIN", "MEMB_COMMIT_TOKEN", "TOKEN_HOLD_CANCEL"}

func (t msgType) String() string {
	if t < numTypes {
		return typeNames[t]
	}
	return fmt.Sprintf("type %d", uint8(t))
}

// header is the decoded 13-byte W3 frame header.
type header struct {
	typ    msgType
	encap  uint8
	nodeID NodeID
	// swapped is true when the sender's byte order is big-endian (ours
	// is always little-endian on the wire).
	swapped bool
}

type rtrItem struct {
	ring RingID
	seq  uint32
}

// orfToken is the ordering, reliability and flow-control token.
type orfToken struct {
	hdr        header
	seq        uint32
	tokenSeq   uint32
	aru        uint32
	aruAddr    NodeID
	ring       RingID
	backlog    uint32
	fcc        uint32
	retransFlg uint32
	rtr        []rtrItem
}

// mcastHeader is the 45-byte header in front of every MCAST payload.
type mcastHeader struct {
	hdr       header
	from      NodeID // system_from
	seq       uint32
	thisSeqno uint32
	ring      RingID
	nodeID    uint32 // unused, 0
	guarantee uint32
}

type mergeDetect struct {
	hdr  header
	from NodeID
	ring RingID
}

type joinMsg struct {
	hdr     header
	from    NodeID
	proc    []NodeID
	failed  []NodeID
	ringSeq uint64
}

type commitEntry struct {
	ring          RingID
	aru           uint32
	highDelivered uint32
	receivedFlg   uint32
}

type commitToken struct {
	hdr        header
	tokenSeq   uint32
	ring       RingID
	retransFlg uint32
	membIndex  uint32
	addrs      []NodeID
	entries    []commitEntry
}

type holdCancel struct {
	hdr  header
	ring RingID
}

// order returns the byte order of a frame from its magic; ok is false when
// the magic is neither 0xC070 nor its byte swap.
func order(frame []byte) (binary.ByteOrder, bool, bool) {
	switch {
	case frame[0] == 0x70 && frame[1] == 0xC0:
		return binary.LittleEndian, false, true
	case frame[0] == 0xC0 && frame[1] == 0x70:
		return binary.BigEndian, true, true
	}
	return nil, false, false
}

// guessSender names what probably sent a frame with a bad magic, as
// corosync 3 does in its log line.
func guessSender(frame []byte) string {
	switch {
	case frame[0] == 0xFF && frame[1] == 0xFF:
		return "corosync 2.2"
	case frame[0] == 0xFE && frame[1] == 0xFE:
		return "corosync 2.3+"
	case frame[0] == 0x01:
		return "unencrypted kronosnet"
	case frame[0] <= 5:
		return "unencrypted corosync 2.0/2.1/1.x/OpenAIS"
	}
	return "encrypted kronosnet/corosync 1.x-2.1 or unknown"
}

// decodeHeader validates the common header: length, magic, version, type.
func decodeHeader(frame []byte) (header, binary.ByteOrder, error) {
	if len(frame) < headerSize {
		return header{}, nil, fmt.Errorf("frame of %d bytes is shorter than the %d-byte header", len(frame), headerSize)
	}
	bo, swapped, ok := order(frame)
	if !ok {
		return header{}, nil, fmt.Errorf("bad magic %02x%02x (probably sent by %s)", frame[0], frame[1], guessSender(frame))
	}
	if frame[2] != wireVersion {
		return header{}, nil, fmt.Errorf("unsupported version %d", frame[2])
	}
	t := msgType(frame[3])
	if t >= numTypes {
		return header{}, nil, fmt.Errorf("unknown message type %d", frame[3])
	}
	return header{typ: t, encap: frame[4], nodeID: NodeID(bo.Uint32(frame[5:])), swapped: swapped}, bo, nil
}

func getRing(bo binary.ByteOrder, b []byte) RingID {
	return RingID{Rep: NodeID(bo.Uint32(b)), Seq: bo.Uint64(b[4:])}
}

// tooShort builds the per-type length error.
func tooShort(t msgType, have, need int) error {
	return fmt.Errorf("%s of %d bytes is too short, need %d", t, have, need)
}

// decodeToken decodes an ORF token; rtr reuses buf's storage when it has room.
func decodeToken(frame []byte, h header, bo binary.ByteOrder, buf []rtrItem) (orfToken, error) {
	if len(frame) < tokenSize {
		return orfToken{}, tooShort(typeOrfToken, len(frame), tokenSize)
	}
	n := bo.Uint32(frame[53:])
	if n > maxRtrEntries {
		return orfToken{}, fmt.Errorf("%s has %d rtr entries, at most %d allowed", typeOrfToken, n, maxRtrEntries)
	}
	if need := tokenSize + int(n)*rtrItemSize; len(frame) < need {
		return orfToken{}, tooShort(typeOrfToken, len(frame), need)
	}
	t := orfToken{
		hdr:        h,
		seq:        bo.Uint32(frame[13:]),
		tokenSeq:   bo.Uint32(frame[17:]),
		aru:        bo.Uint32(frame[21:]),
		aruAddr:    NodeID(bo.Uint32(frame[25:])),
		ring:       getRing(bo, frame[29:]),
		backlog:    bo.Uint32(frame[41:]),
		fcc:        bo.Uint32(frame[45:]),
		retransFlg: bo.Uint32(frame[49:]),
		rtr:        buf[:0],
	}
	for i := 0; i < int(n); i++ {
		o := tokenSize + i*rtrItemSize
		t.rtr = append(t.rtr, rtrItem{ring: getRing(bo, frame[o:]), seq: bo.Uint32(frame[o+ringIDSize:])})
	}
	return t, nil
}

func decodeMcast(frame []byte, h header, bo binary.ByteOrder) (mcastHeader, error) {
	if len(frame) < mcastHeaderSize {
		return mcastHeader{}, tooShort(typeMcast, len(frame), mcastHeaderSize)
	}
	return mcastHeader{
		hdr:       h,
		from:      NodeID(bo.Uint32(frame[13:])),
		seq:       bo.Uint32(frame[17:]),
		thisSeqno: bo.Uint32(frame[21:]),
		ring:      getRing(bo, frame[25:]),
		nodeID:    bo.Uint32(frame[37:]),
		guarantee: bo.Uint32(frame[41:]),
	}, nil
}

func decodeMerge(frame []byte, h header, bo binary.ByteOrder) (mergeDetect, error) {
	if len(frame) < mergeSize {
		return mergeDetect{}, tooShort(typeMergeDetect, len(frame), mergeSize)
	}
	return mergeDetect{hdr: h, from: NodeID(bo.Uint32(frame[13:])), ring: getRing(bo, frame[17:])}, nil
}

func decodeJoin(frame []byte, h header, bo binary.ByteOrder) (joinMsg, error) {
	if len(frame) < joinSize {
		return joinMsg{}, tooShort(typeJoin, len(frame), joinSize)
	}
	p, f := bo.Uint32(frame[17:]), bo.Uint32(frame[21:])
	if p > maxListEntries || f > maxListEntries {
		return joinMsg{}, fmt.Errorf("%s lists %d+%d processors, at most %d each", typeJoin, p, f, maxListEntries)
	}
	if need := joinSize + 4*int(p+f); len(frame) < need {
		return joinMsg{}, tooShort(typeJoin, len(frame), need)
	}
	j := joinMsg{hdr: h, from: NodeID(bo.Uint32(frame[13:])), ringSeq: bo.Uint64(frame[25:])}
	j.proc = make([]NodeID, p)
	j.failed = make([]NodeID, f)
	o := joinSize
	for i := range j.proc {
		j.proc[i] = NodeID(bo.Uint32(frame[o:]))
		o += 4
	}
	for i := range j.failed {
		j.failed[i] = NodeID(bo.Uint32(frame[o:]))
		o += 4
	}
	return j, nil
}

func decodeCommit(frame []byte, h header, bo binary.ByteOrder) (commitToken, error) {
	if len(frame) < commitSize {
		return commitToken{}, tooShort(typeCommitToken, len(frame), commitSize)
	}
	n := bo.Uint32(frame[37:])
	if n == 0 || n > maxListEntries {
		return commitToken{}, fmt.Errorf("%s has %d members, want 1..%d", typeCommitToken, n, maxListEntries)
	}
	if need := commitSize + int(n)*(4+commitEntrySize); len(frame) < need {
		return commitToken{}, tooShort(typeCommitToken, len(frame), need)
	}
	c := commitToken{
		hdr:        h,
		tokenSeq:   bo.Uint32(frame[13:]),
		ring:       getRing(bo, frame[17:]),
		retransFlg: bo.Uint32(frame[29:]),
		membIndex:  bo.Uint32(frame[33:]),
		addrs:      make([]NodeID, n),
		entries:    make([]commitEntry, n),
	}
	o := commitSize
	for i := range c.addrs {
		c.addrs[i] = NodeID(bo.Uint32(frame[o:]))
		o += 4
	}
	for i := range c.entries {
		e := frame[o : o+commitEntrySize]
		o += commitEntrySize
		// corosync converts an entry only once filled (rep != 0); an
		// unfilled entry is all zeros in either order anyway.
		c.entries[i] = commitEntry{ring: getRing(bo, e), aru: bo.Uint32(e[12:]), highDelivered: bo.Uint32(e[16:]), receivedFlg: bo.Uint32(e[20:])}
	}
	return c, nil
}

func decodeHoldCancel(frame []byte, h header, bo binary.ByteOrder) (holdCancel, error) {
	if len(frame) < holdCancelSize {
		return holdCancel{}, tooShort(typeHoldCancel, len(frame), holdCancelSize)
	}
	return holdCancel{hdr: h, ring: getRing(bo, frame[13:])}, nil
}

// decoded is any one decoded frame; only the field matching hdr.typ is set.
type decoded struct {
	hdr    header
	token  orfToken
	mcast  mcastHeader
	merge  mergeDetect
	join   joinMsg
	commit commitToken
	cancel holdCancel
}

// decodeFrame decodes any W3 frame. It never panics; errors name the type
// and the length problem. rtrBuf is reused for the token's rtr list.
func decodeFrame(frame []byte, rtrBuf []rtrItem) (decoded, error) {
	var d decoded
	h, bo, err := decodeHeader(frame)
	if err != nil {
		return d, err
	}
	d.hdr = h
	switch h.typ {
	case typeOrfToken:
		d.token, err = decodeToken(frame, h, bo, rtrBuf)
	case typeMcast:
		d.mcast, err = decodeMcast(frame, h, bo)
	case typeMergeDetect:
		d.merge, err = decodeMerge(frame, h, bo)
	case typeJoin:
		d.join, err = decodeJoin(frame, h, bo)
	case typeCommitToken:
		d.commit, err = decodeCommit(frame, h, bo)
	case typeHoldCancel:
		d.cancel, err = decodeHoldCancel(frame, h, bo)
	}
	return d, err
}

// ---- encoding: always little-endian ----

var le = binary.LittleEndian

func appendHeader(b []byte, t msgType, encap uint8, nodeID NodeID) []byte {
	b = le.AppendUint16(b, wireMagic)
	b = append(b, wireVersion, byte(t), encap)
	b = le.AppendUint32(b, uint32(nodeID))
	return le.AppendUint32(b, 0) // target_nodeid: knet only
}

func appendRing(b []byte, r RingID) []byte {
	b = le.AppendUint32(b, uint32(r.Rep))
	return le.AppendUint64(b, r.Seq)
}

func (t *orfToken) encodedLen() int { return tokenSize + len(t.rtr)*rtrItemSize }

func (t *orfToken) appendTo(b []byte) []byte {
	b = appendHeader(b, typeOrfToken, 0, t.hdr.nodeID)
	b = le.AppendUint32(b, t.seq)
	b = le.AppendUint32(b, t.tokenSeq)
	b = le.AppendUint32(b, t.aru)
	b = le.AppendUint32(b, uint32(t.aruAddr))
	b = appendRing(b, t.ring)
	b = le.AppendUint32(b, t.backlog)
	b = le.AppendUint32(b, t.fcc)
	b = le.AppendUint32(b, t.retransFlg)
	b = le.AppendUint32(b, uint32(len(t.rtr)))
	for _, r := range t.rtr {
		b = appendRing(b, r.ring)
		b = le.AppendUint32(b, r.seq)
	}
	return b
}

// appendMcastHeader writes a 45-byte MCAST header.
func appendMcastHeader(b []byte, m *mcastHeader) []byte {
	b = appendHeader(b, typeMcast, m.hdr.encap, m.hdr.nodeID)
	b = le.AppendUint32(b, uint32(m.from))
	b = le.AppendUint32(b, m.seq)
	b = le.AppendUint32(b, m.thisSeqno)
	b = appendRing(b, m.ring)
	b = le.AppendUint32(b, m.nodeID)
	return le.AppendUint32(b, m.guarantee)
}

// stampMcast fills in the fields assigned when a queued frame of ours is
// sent: seq, this_seqno and ring id (our own frames are little-endian).
func stampMcast(frame []byte, seq, thisSeqno uint32, ring RingID) {
	le.PutUint32(frame[17:], seq)
	le.PutUint32(frame[21:], thisSeqno)
	le.PutUint32(frame[25:], uint32(ring.Rep))
	le.PutUint64(frame[29:], ring.Seq)
}

func (m *mergeDetect) appendTo(b []byte) []byte {
	b = appendHeader(b, typeMergeDetect, 0, m.hdr.nodeID)
	b = le.AppendUint32(b, uint32(m.from))
	return appendRing(b, m.ring)
}

func (j *joinMsg) appendTo(b []byte) []byte {
	b = appendHeader(b, typeJoin, 0, j.hdr.nodeID)
	b = le.AppendUint32(b, uint32(j.from))
	b = le.AppendUint32(b, uint32(len(j.proc)))
	b = le.AppendUint32(b, uint32(len(j.failed)))
	b = le.AppendUint64(b, j.ringSeq)
	for _, p := range j.proc {
		b = le.AppendUint32(b, uint32(p))
	}
	for _, f := range j.failed {
		b = le.AppendUint32(b, uint32(f))
	}
	return b
}

func (c *commitToken) appendTo(b []byte) []byte {
	b = appendHeader(b, typeCommitToken, 0, c.hdr.nodeID)
	b = le.AppendUint32(b, c.tokenSeq)
	b = appendRing(b, c.ring)
	b = le.AppendUint32(b, c.retransFlg)
	b = le.AppendUint32(b, c.membIndex)
	b = le.AppendUint32(b, uint32(len(c.addrs)))
	for _, a := range c.addrs {
		b = le.AppendUint32(b, uint32(a))
	}
	for _, e := range c.entries {
		b = appendRing(b, e.ring)
		b = le.AppendUint32(b, e.aru)
		b = le.AppendUint32(b, e.highDelivered)
		b = le.AppendUint32(b, e.receivedFlg)
	}
	return b
}

func (h *holdCancel) appendTo(b []byte) []byte {
	b = appendHeader(b, typeHoldCancel, 0, h.hdr.nodeID)
	return appendRing(b, h.ring)
}

// seqLT is corosync's rollover-aware "a < b" for sequence numbers.
func seqLT(a, b uint32) bool {
	if a > 0x80000000 || b > 0x80000000 {
		return a-0x10000 < b-0x10000
	}
	return a < b
}

// seqLTE is the rollover-aware "a <= b".
func seqLTE(a, b uint32) bool {
	if a > 0x80000000 || b > 0x80000000 {
		return a-0x10000 <= b-0x10000
	}
	return a <= b
}
