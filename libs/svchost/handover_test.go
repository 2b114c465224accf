package svchost

import (
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

// FuzzDecodeHandover: a successor's decoding of what totemd hands it
// (its predecessor's state, via the bus) never panics, and refuses state
// of another program, version or service, or clients of a libqb name the
// daemon does not serve, naming why.
func FuzzDecodeHandover(f *testing.F) {
	d := &Daemon{opts: Options{Program: "cpgd", Service: 2, Endpoints: []string{"cpg"}}}
	good := handoverState{Version: handoverVersion, Program: "cpgd", Service: 2, NodeID: 1,
		RingMembers: []uint32{1, 2}, ServiceMembers: []uint32{1}, Endpoints: []handoverEndpoint{{Name: "cpg"}}, State: []byte("core")}
	for _, hs := range []handoverState{good, {Version: handoverVersion, Program: "quorumd", Service: 3},
		{Version: handoverVersion, Program: "cpgd", Service: 2, Endpoints: []handoverEndpoint{{Name: "votequorum"}}},
		{Version: handoverVersion, Program: "cpgd", Service: 2, Endpoints: []handoverEndpoint{{Name: "cpg", Conns: []handoverConn{{State: []byte{1}, Files: 1}}}}}} {
		b, err := msgpack.Marshal(&hs)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x81, 0xa1, 0x65, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := d.decodeHandover(nil, b, nil)
		if err != nil {
			if !strings.Contains(err.Error(), "handover from the previous cpgd") {
				t.Fatalf("error without context: %v", err)
			}
			return
		}
		if r.state.Program != "cpgd" || r.state.Service != 2 || r.state.Version != handoverVersion {
			t.Fatalf("accepted %+v", r.state)
		}
		for name := range r.parked {
			if name != "cpg" {
				t.Fatalf("accepted clients of %q", name)
			}
		}
	})
}

// TestDecodeHandoverRefuses names what is wrong with state that is not
// this daemon's.
func TestDecodeHandoverRefuses(t *testing.T) {
	d := &Daemon{opts: Options{Program: "cpgd", Service: 2, Endpoints: []string{"cpg"}}}
	for _, tc := range []struct {
		hs   handoverState
		want string
	}{
		{handoverState{Version: handoverVersion, Program: "quorumd", Service: 3}, "state of quorumd version 1 for service 3, want cpgd version 1 for service 2"},
		{handoverState{Version: handoverVersion + 1, Program: "cpgd", Service: 2}, "want cpgd version 1"},
		{handoverState{Version: handoverVersion, Program: "cpgd", Service: 2, Endpoints: []handoverEndpoint{{Name: "votequorum"}}}, `clients of libqb service "votequorum", which this daemon does not serve`},
		{handoverState{Version: handoverVersion, Program: "cpgd", Service: 2, Endpoints: []handoverEndpoint{{Name: "cpg", Conns: []handoverConn{{Files: 2}}}}}, "connection 0: 2 descriptors, 0 left"},
	} {
		b, err := msgpack.Marshal(&tc.hs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.decodeHandover(nil, b, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.hs, err, tc.want)
		}
	}
	if _, err := d.decodeHandover(nil, []byte{0xc1}, nil); err == nil || !strings.Contains(err.Error(), "decode 1 bytes") {
		t.Errorf("garbage: %v", err)
	}
}
