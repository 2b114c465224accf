package syncengine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// unhex turns "00 01 …" into bytes, panicking on a typo in the test table.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func TestMarshalLayout(t *testing.T) {
	ring := RingID{Rep: 1, Seq: 9}
	build, err := ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 3, 5}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	set, err := ServiceSet{Ring: RingID{Rep: 2, Seq: 0x1b}, Services: []ServiceID{2}}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  []byte
		size int
		head string // leading bytes expected
	}{
		{"barrier 1.9", Barrier{Ring: ring}.Marshal(), 32,
			"00000000 00000000 20000000 00000000 01000000 0900000000000000 00000000"},
		{"service build 1.9 [0 2 3 5]", build, 552,
			"01000000 00000000 28020000 00000000 01000000 0900000000000000 00000000" +
				"04000000 00000000 00000000 02000000 03000000 05000000 00000000"},
		{"service set 2.1b [2]", set, 552,
			"0100444e 00000000 28020000 00000000 02000000 1b00000000000000 00000000" +
				"01000000 00000000 02000000 00000000"},
		{"service change attach 5", ServiceChange{Ring: ring, Service: 5, Attached: true}.Marshal(), 40,
			"0200444e 00000000 28000000 00000000 01000000 0900000000000000 00000000 05000000 01000000"},
		{"service change detach 2", ServiceChange{Ring: ring, Service: 2}.Marshal(), 40,
			"0200444e 00000000 28000000 00000000 01000000 0900000000000000 00000000 02000000 00000000"},
		{"service barrier 3", ServiceBarrier{Ring: ring, Service: 3}.Marshal(), 40,
			"0300444e 00000000 28000000 00000000 01000000 0900000000000000 00000000 03000000 00000000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.got) != tc.size {
				t.Fatalf("size %d, want %d", len(tc.got), tc.size)
			}
			head := unhex(t, tc.head)
			if !bytes.Equal(tc.got[:len(head)], head) {
				t.Fatalf("bytes\n%x\nwant prefix\n%x", tc.got[:len(head)], head)
			}
			if bytes.Count(tc.got[len(head):], []byte{0}) != len(tc.got)-len(head) {
				t.Fatalf("padding after %d bytes is not zero: %x", len(head), tc.got[len(head):])
			}
		})
	}
}

// TestCapturedPieceSizes checks the captured totempg piece sizes: a sync
// message plus the 8-byte group header "01 00 04 00 sync".
func TestCapturedPieceSizes(t *testing.T) {
	const groupHeader = 2 + 2 + len("sync")
	build, err := ServiceBuild{Ring: RingID{Rep: 1, Seq: 9}, Services: DefaultAnnounce()}.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(build) + groupHeader; n != 560 {
		t.Errorf("SERVICE_BUILD piece %d bytes, captured 560", n)
	}
	if n := len(Barrier{}.Marshal()) + groupHeader; n != 40 {
		t.Errorf("BARRIER piece %d bytes, captured 40", n)
	}
}

func TestMarshalTooManyServices(t *testing.T) {
	_, err := ServiceBuild{Services: make([]ServiceID, 129)}.Marshal()
	if err == nil {
		t.Fatal("129 services encoded without error")
	}
}

func TestDecode(t *testing.T) {
	ring := RingID{Rep: 3, Seq: 0x1234567890}
	build, _ := ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 3, 5, -1}}.Marshal()
	set, _ := ServiceSet{Ring: ring, Services: []ServiceID{}}.Marshal()
	dirtyBarrier := Barrier{Ring: ring}.Marshal()
	for _, off := range []int{4, 5, 6, 7, 12, 13, 14, 15, 28, 29, 30, 31} {
		dirtyBarrier[off] = 0xff // 2.0.0 leaves padding uninitialised
	}
	dirtyBuild := bytes.Clone(build)
	dirtyBuild[36], dirtyBuild[551] = 0xaa, 0xbb // padding and an unused list slot

	tests := []struct {
		name string
		in   []byte
		want Message
		err  string // substring; "" means success
	}{
		{"barrier", Barrier{Ring: ring}.Marshal(), Barrier{Ring: ring}, ""},
		{"barrier with dirty padding", dirtyBarrier, Barrier{Ring: ring}, ""},
		{"service build", build, ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 3, 5, -1}}, ""},
		{"service build with dirty padding", dirtyBuild, ServiceBuild{Ring: ring, Services: []ServiceID{0, 2, 3, 5, -1}}, ""},
		{"empty service set", set, ServiceSet{Ring: ring, Services: []ServiceID{}}, ""},
		{"service change", ServiceChange{Ring: ring, Service: 2, Attached: true}.Marshal(), ServiceChange{Ring: ring, Service: 2, Attached: true}, ""},
		{"service barrier", ServiceBarrier{Ring: ring, Service: 5}.Marshal(), ServiceBarrier{Ring: ring, Service: 5}, ""},
		{"memb determine is ignored", unhex(t, "02000000 00000000 20000000 00000000"), Unknown{ID: 2}, ""},
		{"unknown id", unhex(t, "07000000 00000000 10000000 00000000"), Unknown{ID: 7}, ""},
		{"empty", nil, nil, "shorter than the 16-byte header"},
		{"short header", make([]byte, 15), nil, "15 bytes"},
		{"2.0.0 barrier size", append(Barrier{}.Marshal(), make([]byte, 16)...), nil, "48 bytes, want 32"},
		{"truncated build", build[:100], nil, "100 bytes, want 552"},
		{"header size disagrees", func() []byte { b := Barrier{}.Marshal(); b[8] = 31; return b }(), nil, "header size 31"},
		{"too many entries", func() []byte { b := bytes.Clone(build); b[32] = 129; return b }(), nil, "service_list_entries 129"},
		{"negative entries", func() []byte { b := bytes.Clone(build); copy(b[32:], []byte{0xff, 0xff, 0xff, 0xff}); return b }(), nil, "service_list_entries -1"},
		{"bad attached flag", func() []byte { b := ServiceChange{}.Marshal(); b[36] = 2; return b }(), nil, "attached flag 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v, want ErrMalformed containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestRingIDString(t *testing.T) {
	if s := (RingID{Rep: 1, Seq: 0x1b}).String(); s != "1.1b" {
		t.Fatalf("got %q, want 1.1b", s)
	}
}
