package wire

import (
	"bytes"
	"testing"
)

// FuzzDecodeRequest: any bytes a client sends decode or fail cleanly, and
// what decodes re-encodes to a message that decodes to the same request.
func FuzzDecodeRequest(f *testing.F) {
	for _, r := range []Request{Join{Group: "g", PID: 1}, Leave{Group: "g"}, Mcast{Msg: []byte("m")},
		PartialMcast{MsgLen: 3, Type: PartialFirst, Frag: []byte("ab")}, Membership{Group: "x"}, LocalGet{},
		IterInit{Type: IterOneGroup, Group: "g"}, IterNext{Handle: 1}, IterFinalize{Handle: 1}, Finalize{},
		ZcAlloc{Path: "/p"}, ZcFree{}, ZcExecute{}} {
		f.Add(r.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		again, err := DecodeRequest(r.Encode())
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", r, err)
		}
		if !bytes.Equal(again.Encode(), r.Encode()) {
			t.Fatalf("%T changed on a round trip", r)
		}
	})
}

// FuzzDecodeEvent: any bytes a daemon sends as an event decode or fail
// cleanly, and what decodes round-trips.
func FuzzDecodeEvent(f *testing.F) {
	for _, e := range []Event{ConfChg{Group: "g", Members: []Address{{1, 2, 0}}, Joined: []Address{{1, 2, 1}}},
		Deliver{Group: "g", Msg: []byte("m")}, PartialDeliver{Group: "g", MsgLen: 2, Type: PartialLast, Frag: []byte("a")},
		TotemConfChg{Members: []uint32{1, 2}}} {
		f.Add(e.Encode())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		if _, err := DecodeEvent(e.Encode()); err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", e, err)
		}
		if len(e.Encode()) != len(b) {
			t.Fatalf("%T: %d bytes in, %d re-encoded", e, len(b), len(e.Encode()))
		}
	})
}

// FuzzDecodeReplies: every reply decoder survives any bytes.
func FuzzDecodeReplies(f *testing.F) {
	m, _ := EncodeMembership([]Address{{1, 2, 0}}, 1)
	for _, b := range [][]byte{EncodeStatus(ResJoin, 1), m, EncodeLocalGet(1, 1), EncodeIterInit(1, 1), EncodeIterNext(IterEntry{Group: "g"}, 1)} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeStatus(b, ResJoin)
		DecodeMembership(b)
		DecodeLocalGet(b)
		DecodeIterInit(b)
		DecodeIterNext(b)
	})
}
