package srp

import (
	"bytes"
	"testing"
)

// TestTakeUnsent: the frames no token sent come back as the payloads
// Mcast took, oldest first, and the queue is empty; with the trans-ack
// gate TakeUnsent refuses and takes nothing.
func TestTakeUnsent(t *testing.T) {
	for _, gate := range []bool{false, true} {
		n, err := New(Config{Self: 1, Nodes: []NodeID{1}, ManualTransAck: gate})
		if err != nil {
			t.Fatal(err)
		}
		want := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
		for _, p := range want {
			if err := n.Mcast(0, p); err != nil {
				t.Fatal(err)
			}
		}
		got, err := n.TakeUnsent(nil)
		if gate {
			if err == nil || len(got) != 0 || n.Status().Backlog != 3 {
				t.Fatalf("with the gate: took %d, err %v, backlog %d", len(got), err, n.Status().Backlog)
			}
			continue
		}
		if err != nil || len(got) != 3 || n.Status().Backlog != 0 {
			t.Fatalf("took %d, err %v, backlog %d", len(got), err, n.Status().Backlog)
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("payload %d = %q, want %q", i, got[i], want[i])
			}
		}
	}
}
