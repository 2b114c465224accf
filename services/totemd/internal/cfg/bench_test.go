package cfg

import "testing"

// BenchmarkNodeStatus is one NODESTATUSGET through the core: decode the
// request, build and encode the 4200-byte answer (cfgtool -s sends one
// per nodelist node).
func BenchmarkNodeStatus(b *testing.B) {
	s := New(newFakeNode())
	s.Connect(1)
	msg := NodeStatusRequest{NodeID: 2, Version: NodeStatusV1}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Request(1, msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeExec decodes the largest cfg ring message.
func BenchmarkDecodeExec(b *testing.B) {
	msg := KillNodeExec{NodeID: 2, ReasonLen: 27, Reason: "Killed by corosync-cfgtool"}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeExec(msg, false); err != nil {
			b.Fatal(err)
		}
	}
}
