package srp

import (
	"reflect"
	"testing"
	"time"
)

// seedFrames are valid frames of every type, in both byte orders.
func seedFrames() [][]byte {
	ring := RingID{1, 5}
	tok := orfToken{hdr: header{nodeID: 1}, seq: 3, tokenSeq: 4, aru: 2, aruAddr: 1, ring: ring, rtr: []rtrItem{{ring, 3}}}
	join := joinMsg{hdr: header{nodeID: 1}, from: 1, proc: []NodeID{1, 2}, failed: []NodeID{3}, ringSeq: 5}
	commit := commitToken{hdr: header{nodeID: 1}, ring: RingID{1, 9}, membIndex: 1, addrs: []NodeID{1, 2},
		entries: []commitEntry{{ring, 2, 2, 1}, {}}}
	merge := mergeDetect{hdr: header{nodeID: 1}, from: 1, ring: ring}
	cancel := holdCancel{hdr: header{nodeID: 1}, ring: ring}
	mc := appendMcastHeader(nil, &mcastHeader{hdr: header{encap: encapNormal, nodeID: 1}, from: 1, seq: 1, ring: ring})
	return [][]byte{
		tok.appendTo(nil), join.appendTo(nil), commit.appendTo(nil), merge.appendTo(nil), cancel.appendTo(nil),
		append(mc, "payload"...),
		be8().hdr(typeOrfToken, 0, 7).u32(5, 6, 4, 7).ring(7, 0x1b).u32(1, 2, 1, 1).ring(7, 0x1b).u32(5).b,
		be8().hdr(typeJoin, 0, 2).u32(2, 1, 0).u64(1).u32(2).b,
	}
}

// FuzzDecode: the decoder never panics, and whatever it accepts (other
// than MCAST, which is kept raw) re-encodes to a frame that decodes to the
// same value.
func FuzzDecode(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		d, err := decodeFrame(frame, nil)
		if err != nil {
			return
		}
		var again []byte
		var want, got func(decoded) any
		switch d.hdr.typ {
		case typeOrfToken:
			again = d.token.appendTo(nil)
			want = func(x decoded) any { return x.token.rtr }
		case typeJoin:
			again = d.join.appendTo(nil)
			want = func(x decoded) any { return [2][]NodeID{x.join.proc, x.join.failed} }
		case typeCommitToken:
			again = d.commit.appendTo(nil)
			want = func(x decoded) any { return x.commit.entries }
		case typeMergeDetect:
			again = d.merge.appendTo(nil)
			want = func(x decoded) any { return x.merge.ring }
		case typeHoldCancel:
			again = d.cancel.appendTo(nil)
			want = func(x decoded) any { return x.cancel.ring }
		default:
			return
		}
		got = want
		d2, err := decodeFrame(again, nil)
		if err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", d.hdr.typ, err)
		}
		if !reflect.DeepEqual(want(d), got(d2)) {
			t.Fatalf("%s round trip: %+v != %+v", d.hdr.typ, want(d), got(d2))
		}
	})
}

// FuzzReceive: an operational singleton node fed any frame never panics
// and keeps running.
func FuzzReceive(f *testing.F) {
	for _, s := range seedFrames() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h := newHarness(t, 1)
		h.start(1)
		if !h.runUntil(time.Second, func() bool { return h.operational(1) }) {
			t.Fatal("singleton ring did not form")
		}
		hn := h.node(1)
		_ = hn.n.Receive(h.now, frame)
		h.drain(hn)
		h.run(100 * time.Millisecond)
		_ = hn.n.Status()
	})
}
