package pg

import (
	"bytes"
	"testing"
)

func TestExecHeaderCodec(t *testing.T) {
	h := ExecHeader{Service: ServiceVotequorum, Fn: 0, Size: 48}
	wire := []byte{0, 0, 5, 0, 0, 0, 0, 0, 48, 0, 0, 0, 0, 0, 0, 0}
	if got := AppendExecHeader(nil, h); !bytes.Equal(got, wire) {
		t.Fatalf("encode = % x, want % x", got, wire)
	}
	if h.ID() != 5<<16 {
		t.Fatalf("ID = %#x", h.ID())
	}
	for _, tc := range []struct {
		wire    []byte
		swapped bool
		want    ExecHeader
	}{
		{wire, false, h},
		{[]byte{0, 2, 0, 3, 9, 9, 9, 9, 0, 0, 0, 168, 9, 9, 9, 9, 'x'}, true, ExecHeader{Service: ServiceCpg, Fn: 3, Size: 168}},
	} {
		got, err := DecodeExecHeader(tc.wire, tc.swapped)
		if err != nil || got != tc.want {
			t.Errorf("decode % x (swapped %v) = %+v, %v; want %+v", tc.wire, tc.swapped, got, err, tc.want)
		}
	}
	if _, err := DecodeExecHeader(wire[:15], false); err == nil {
		t.Fatal("short header accepted")
	}
	if h.CheckSize(48) != nil || h.CheckSize(47) == nil {
		t.Fatal("CheckSize")
	}
}
