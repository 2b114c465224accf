package wire

import (
	"bytes"
	"testing"
)

// TestEncodeIntoDirtyBuffer: EncodeInto into a reused buffer full of
// other bytes, larger or smaller than needed, gives exactly Encode's bytes.
func TestEncodeIntoDirtyBuffer(t *testing.T) {
	addrs := []Address{{NodeID: 1, PID: 2, Reason: 3}, {NodeID: 4, PID: 5, Reason: 6}}
	evs := []interface {
		Event
		EncodeInto([]byte) []byte
	}{
		ConfChg{Group: "g", Members: addrs, Left: addrs[:1], Joined: addrs[1:]},
		ConfChg{Group: "a longer group name"},
		Deliver{Group: "grp", NodeID: 7, PID: 8, Msg: []byte("hello")},
		Deliver{Group: "", NodeID: 7, PID: 8},
		PartialDeliver{Group: "p", MsgLen: 100, NodeID: 1, PID: 2, Type: PartialFirst, Frag: []byte("frag")},
		TotemConfChg{Ring: RingID{NodeID: 3, Seq: 99}, Members: []uint32{1, 2, 3}},
	}
	for _, size := range []int{0, 10, 300, 5000} {
		for _, e := range evs {
			buf := bytes.Repeat([]byte{0xa5}, size)
			want := e.Encode()
			got := e.EncodeInto(buf)
			if !bytes.Equal(got, want) {
				t.Fatalf("%T into %d dirty bytes:\n got %x\nwant %x", e, size, got, want)
			}
			if d, err := DecodeEvent(got); err != nil || d.EventID() != e.EventID() {
				t.Fatalf("%T: decoded %v, %v", e, d, err)
			}
		}
	}
}
