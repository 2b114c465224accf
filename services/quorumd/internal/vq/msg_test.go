package vq

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Bytes written by hand from the 3.1.7 structs (x86_64, little endian):
// header id 0x0005000N @0, size @8, fields packed after byte 16.
func TestCodecTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    Message
		le   string // little-endian wire
		be   string // the same message from a big-endian sender
	}{
		{"nodeinfo", NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3, Flags: FlagQuorate | FlagFirst},
			"00000500 00000000 20000000 00000000 02000000 01000000 03000000 09000000",
			"00050000 00000000 00000020 00000000 00000002 00000001 00000003 00000009"},
		{"nodeinfo qdevice", NodeInfo{NodeID: 0, Votes: 2},
			"00000500 00000000 20000000 00000000 00000000 02000000 00000000 00000000",
			"00050000 00000000 00000020 00000000 00000000 00000002 00000000 00000000"},
		{"reconfigure expected", Reconfigure{NodeID: 1, Value: 5, Param: ParamExpectedVotes},
			"01000500 00000000 20000000 00000000 01000000 05000000 01000000 00000000",
			"00050001 00000000 00000020 00000000 00000001 00000005 01000000 00000000"},
		{"reconfigure cancel wfa", Reconfigure{NodeID: 0x01020304, Param: ParamCancelWFA},
			"01000500 00000000 20000000 00000000 04030201 00000000 03000000 00000000",
			"00050001 00000000 00000020 00000000 01020304 00000000 03000000 00000000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			le := unhex(t, tc.le)
			if got := Encode(tc.m); !bytes.Equal(got, le) {
				t.Fatalf("Encode = %x\nwant     %x", got, le)
			}
			for _, v := range []struct {
				b       []byte
				swapped bool
			}{{le, false}, {unhex(t, tc.be), true}} {
				got, err := Decode(v.b, v.swapped)
				if err != nil || got != tc.m {
					t.Fatalf("Decode(swapped=%v) = %+v, %v; want %+v", v.swapped, got, err, tc.m)
				}
			}
		})
	}
}

func TestQdeviceMessages(t *testing.T) {
	reg := Encode(QdeviceReg{Operation: OpRegister, Name: "Qdev"})
	if len(reg) != 280 || !bytes.Equal(reg[:24], unhex(t, "02000500 00000000 18010000 00000000 01000000 51646576")) {
		t.Fatalf("QDEVICE_REG = %d bytes %x", len(reg), reg[:24])
	}
	// garbage after the NUL, as a 3.1.7 sender leaves it (addendum §1.9)
	reg[20+5] = 'x'
	reg[279] = 0xff
	if m, err := Decode(reg, false); err != nil || m != (QdeviceReg{Operation: OpRegister, Name: "Qdev"}) {
		t.Fatalf("Decode = %+v, %v", m, err)
	}
	be := append([]byte(nil), reg...)
	copy(be, unhex(t, "00050002 00000000 00000118 00000000 00000001"))
	if m, err := Decode(be, true); err != nil || m != (QdeviceReg{Operation: OpRegister, Name: "Qdev"}) {
		t.Fatalf("Decode swapped = %+v, %v", m, err)
	}
	rc := Encode(QdeviceReconfigure{OldName: "a", NewName: "bc"})
	if len(rc) != 528 || !bytes.Equal(rc[:18], unhex(t, "03000500 00000000 10020000 00000000 6100")) || rc[271] != 'b' || rc[272] != 'c' || rc[273] != 0 {
		t.Fatalf("QDEVICE_RECONFIGURE = %d bytes %x", len(rc), rc[:18])
	}
	if m, err := Decode(rc, false); err != nil || m != (QdeviceReconfigure{OldName: "a", NewName: "bc"}) {
		t.Fatalf("Decode = %+v, %v", m, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	ni := Encode(NodeInfo{NodeID: 1})
	short := append([]byte(nil), ni[:28]...)
	short[8] = 28
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "shorter than the 16-byte exec header"},
		{"size mismatch", ni[:31], "header size 32 but 31 bytes"},
		{"short nodeinfo", short, "NODEINFO: 28 bytes, want 32"},
		{"other service", append([]byte{0, 0, 2, 0}, ni[4:]...), "not of service 5"},
		{"unknown fn", append([]byte{9, 0, 5, 0}, ni[4:]...), "unknown exec function 9"},
	} {
		if _, err := Decode(tc.b, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(NodeInfo{NodeID: 1, Votes: 1, ExpectedVotes: 2, Flags: 9}), false)
	f.Add(Encode(Reconfigure{NodeID: 1, Value: 2, Param: 1}), true)
	f.Add(Encode(QdeviceReg{Operation: 1, Name: "q"}), false)
	f.Add(Encode(QdeviceReconfigure{OldName: "a", NewName: "b"}), false)
	f.Fuzz(func(t *testing.T, b []byte, swapped bool) {
		m, err := Decode(b, swapped)
		if err != nil {
			return
		}
		if swapped {
			return
		}
		// what decodes re-encodes to the same bytes up to padding/garbage
		again, err := Decode(Encode(m), false)
		if err != nil || again != m {
			t.Fatalf("round trip %+v -> %+v, %v", m, again, err)
		}
	})
}

// FuzzDeliver feeds arbitrary ring messages to a running core: errors are
// fine, panics (broken invariants) are not.
func FuzzDeliver(f *testing.F) {
	f.Add(uint32(2), Encode(NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3, Flags: 1}), false)
	f.Add(uint32(3), Encode(NodeInfo{NodeID: 0, Votes: 2}), false)
	f.Add(uint32(1), Encode(Reconfigure{NodeID: 1, Value: 1, Param: 1}), false)
	f.Fuzz(func(t *testing.T, from uint32, b []byte, swapped bool) {
		c, _, err := New(Config{NodeID: 1, Nodelist: []NodelistEntry{{1, 1}, {2, 1}, {3, 1}}, WaitForAll: true, WaitForAllSet: true})
		if err != nil {
			t.Fatal(err)
		}
		c.SyncInit([]uint32{1, 2, 3}, RingID{1, 4})
		c.SyncProcess()
		_, _ = c.Deliver(from, b, swapped)
		c.SyncActivate()
	})
}
