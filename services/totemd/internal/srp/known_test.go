package srp

import (
	"strings"
	"testing"
)

// TestUnknownProcessorsAreDropped: frames that name a processor outside the
// nodelist never reach the protocol, whatever their type.
func TestUnknownProcessorsAreDropped(t *testing.T) {
	cfg := DefaultConfig(1, []NodeID{1, 2, 3})
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.Start(0)
	n.Ready()
	frames := map[string][]byte{
		"join with a stranger in proc": (&joinMsg{hdr: header{typ: typeJoin, nodeID: 2}, from: 2, proc: []NodeID{1, 2, 99}, ringSeq: 8}).appendTo(nil),
		"join from a stranger":         (&joinMsg{hdr: header{typ: typeJoin, nodeID: 77}, from: 77, proc: []NodeID{77}, ringSeq: 8}).appendTo(nil),
		"merge detect from a stranger": (&mergeDetect{hdr: header{typ: typeMergeDetect, nodeID: 5}, from: 5, ring: RingID{Rep: 5, Seq: 9}}).appendTo(nil),
	}
	for name, f := range frames {
		err := n.Receive(0, f)
		if err == nil || !strings.Contains(err.Error(), "not in the nodelist") {
			t.Errorf("%s: Receive = %v, want a nodelist error", name, err)
		}
	}
	if st := n.Status(); st.Counters.DecodeErrors != uint64(len(frames)) {
		t.Fatalf("DecodeErrors = %d, want %d", st.Counters.DecodeErrors, len(frames))
	}
	// A leave names the leaver in system_from with header nodeid 0: accepted.
	leave := (&joinMsg{hdr: header{typ: typeJoin, nodeID: 0}, from: 3, proc: []NodeID{1, 2}, failed: []NodeID{3}, ringSeq: 8}).appendTo(nil)
	if err := n.Receive(0, leave); err != nil {
		t.Fatalf("leave rejected: %v", err)
	}
}
