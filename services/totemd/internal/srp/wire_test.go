package srp

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
)

// fields builds a frame from (byte order, value) pieces so test vectors
// read like the spec's tables.
type fields struct {
	bo binary.AppendByteOrder
	b  []byte
}

func le8() *fields { return &fields{bo: binary.LittleEndian} }
func be8() *fields { return &fields{bo: binary.BigEndian} }

func (f *fields) u8(v ...byte) *fields { f.b = append(f.b, v...); return f }
func (f *fields) u16(v uint16) *fields { f.b = f.bo.AppendUint16(f.b, v); return f }
func (f *fields) u32(v ...uint32) *fields {
	for _, x := range v {
		f.b = f.bo.AppendUint32(f.b, x)
	}
	return f
}
func (f *fields) u64(v uint64) *fields { f.b = f.bo.AppendUint64(f.b, v); return f }

// hdr writes a W3 header: magic, version 3, type, encapsulated, nodeid,
// target (garbage, as corosync leaves it).
func (f *fields) hdr(t msgType, encap uint8, nodeid uint32) *fields {
	return f.u16(0xC070).u8(3, byte(t), encap).u32(nodeid, 0xf9aa9278)
}
func (f *fields) ring(rep uint32, seq uint64) *fields { return f.u32(rep).u64(seq) }

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInitialTokenBytes checks the encoder against the captured initial
// token of ring 1.5 byte by byte.
func TestInitialTokenBytes(t *testing.T) {
	want := mustHex(t, `
		70 c0 03 00 00  01 00 00 00  00 00 00 00
		00 00 00 00  00 00 00 00  ff ff ff ff  01 00 00 00
		01 00 00 00  05 00 00 00 00 00 00 00
		00 00 00 00  00 00 00 00  00 00 00 00  00 00 00 00`)
	tok := orfToken{hdr: header{nodeID: 1}, aru: 0xFFFFFFFF, aruAddr: 1, ring: RingID{1, 5}}
	got := tok.appendTo(nil)
	if !bytes.Equal(got, want) {
		t.Fatalf("initial token:\n got %x\nwant %x", got, want)
	}
	if len(got) != 57 {
		t.Fatalf("initial token is %d bytes, want 57", len(got))
	}
	d, err := decodeFrame(want, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(d.token, tok) {
		t.Fatalf("decoded %+v, want %+v", d.token, tok)
	}
}

func TestDecodeVectors(t *testing.T) {
	rtr17 := func(f *fields) *fields {
		for i := uint32(0); i < 17; i++ {
			f.ring(1, 0xd).u32(16100 + i)
		}
		return f
	}
	tests := []struct {
		name  string
		frame []byte
		check func(t *testing.T, d decoded)
	}{{
		name: "token with 17 rtr entries (329 bytes)",
		frame: rtr17(le8().hdr(typeOrfToken, 0, 3).u32(16116, 900, 16099, 2).ring(1, 0xd).
			u32(1502, 17, 0, 17)).b,
		check: func(t *testing.T, d decoded) {
			tk := d.token
			if tk.seq != 16116 || tk.tokenSeq != 900 || tk.aru != 16099 || tk.aruAddr != 2 || tk.backlog != 1502 || tk.fcc != 17 {
				t.Errorf("token fields %+v", tk)
			}
			if len(tk.rtr) != 17 || tk.rtr[16] != (rtrItem{RingID{1, 0xd}, 16116}) {
				t.Errorf("rtr list %+v", tk.rtr)
			}
		},
	}, {
		name:  "big-endian token",
		frame: be8().hdr(typeOrfToken, 0, 7).u32(5, 6, 4, 7).ring(7, 0x1b).u32(1, 2, 1, 1).ring(7, 0x1b).u32(5).b,
		check: func(t *testing.T, d decoded) {
			want := orfToken{hdr: header{typ: typeOrfToken, nodeID: 7, swapped: true}, seq: 5, tokenSeq: 6, aru: 4, aruAddr: 7,
				ring: RingID{7, 0x1b}, backlog: 1, fcc: 2, retransFlg: 1, rtr: []rtrItem{{RingID{7, 0x1b}, 5}}}
			if !reflect.DeepEqual(d.token, want) {
				t.Errorf("got %+v\nwant %+v", d.token, want)
			}
		},
	}, {
		name:  "mcast",
		frame: le8().hdr(typeMcast, encapNormal, 1).u32(1, 42, 7).ring(1, 5).u32(0, 0).u8('h', 'i').b,
		check: func(t *testing.T, d decoded) {
			m := d.mcast
			if m.hdr.encap != encapNormal || m.from != 1 || m.seq != 42 || m.thisSeqno != 7 || m.ring != (RingID{1, 5}) {
				t.Errorf("mcast %+v", m)
			}
		},
	}, {
		name:  "big-endian mcast",
		frame: be8().hdr(typeMcast, encapRecovery, 2).u32(2, 3, 4).ring(1, 9).u32(0, 1).b,
		check: func(t *testing.T, d decoded) {
			m := d.mcast
			if !m.hdr.swapped || m.hdr.nodeID != 2 || m.seq != 3 || m.ring != (RingID{1, 9}) || m.guarantee != 1 {
				t.Errorf("mcast %+v", m)
			}
		},
	}, {
		name:  "fresh-start join",
		frame: le8().hdr(typeJoin, 0, 1).u32(1, 1, 0).u64(1).u32(1).b,
		check: func(t *testing.T, d decoded) {
			j := d.join
			if len(d.join.proc) != 1 || j.proc[0] != 1 || len(j.failed) != 0 || j.ringSeq != 1 || j.from != 1 {
				t.Errorf("join %+v", j)
			}
		},
	}, {
		name:  "leave of node 2",
		frame: le8().hdr(typeJoin, 0, 0).u32(2, 1, 1).u64(9).u32(1, 2).b,
		check: func(t *testing.T, d decoded) {
			j := d.join
			if j.hdr.nodeID != 0 || j.from != 2 || !reflect.DeepEqual(j.proc, []NodeID{1}) || !reflect.DeepEqual(j.failed, []NodeID{2}) {
				t.Errorf("leave %+v", j)
			}
		},
	}, {
		name: "commit token, one entry filled",
		frame: le8().hdr(typeCommitToken, 0, 1).u32(1).ring(1, 9).u32(0, 1, 2).u32(1, 2).
			ring(1, 5).u32(0x10, 0x10, 1).ring(0, 0).u32(0, 0, 0).b,
		check: func(t *testing.T, d decoded) {
			c := d.commit
			if c.tokenSeq != 1 || c.ring != (RingID{1, 9}) || c.membIndex != 1 || !reflect.DeepEqual(c.addrs, []NodeID{1, 2}) {
				t.Errorf("commit %+v", c)
			}
			if c.entries[0] != (commitEntry{RingID{1, 5}, 0x10, 0x10, 1}) || c.entries[1] != (commitEntry{}) {
				t.Errorf("entries %+v", c.entries)
			}
		},
	}, {
		name:  "merge detect",
		frame: le8().hdr(typeMergeDetect, 0, 1).u32(1).ring(1, 0x1b).b,
		check: func(t *testing.T, d decoded) {
			if d.merge.from != 1 || d.merge.ring != (RingID{1, 0x1b}) {
				t.Errorf("merge %+v", d.merge)
			}
		},
	}, {
		name:  "token hold cancel",
		frame: le8().hdr(typeHoldCancel, 0, 2).ring(1, 0x1b).b,
		check: func(t *testing.T, d decoded) {
			if d.cancel.ring != (RingID{1, 0x1b}) || d.cancel.hdr.nodeID != 2 {
				t.Errorf("cancel %+v", d.cancel)
			}
		},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := decodeFrame(tc.frame, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, d)
		})
	}
	if n := len(rtr17(le8().hdr(typeOrfToken, 0, 3).u32(0, 0, 0, 0).ring(1, 0xd).u32(0, 0, 0, 17)).b); n != 329 {
		t.Errorf("17-entry token vector is %d bytes, want 329", n)
	}
}

func TestDecodeRejects(t *testing.T) {
	token := le8().hdr(typeOrfToken, 0, 1).u32(0, 0, 0, 0).ring(1, 1).u32(0, 0, 0, 0).b
	withRtr := func(n uint32, extra int) []byte {
		b := bytes.Clone(token)
		binary.LittleEndian.PutUint32(b[53:], n)
		return append(b, make([]byte, extra)...)
	}
	tests := []struct {
		name, frame, want string
	}{
		{"empty", "", "shorter than the 13-byte header"},
		{"short header", "70c003000001000000000000", "shorter than the 13-byte header"},
		{"corosync 2.3 magic", "fefe00000000000000000000000000", "corosync 2.3+"},
		{"bad version", "70c002000001000000000000000000", "unsupported version 2"},
		{"bad type", "70c00306000100000000000000", "unknown message type 6"},
		{"short token", hex.EncodeToString(token[:56]), "ORF_TOKEN of 56 bytes is too short, need 57"},
		{"31 rtr entries", hex.EncodeToString(withRtr(31, 31*16)), "31 rtr entries"},
		{"rtr entries missing", hex.EncodeToString(withRtr(17, 16*16)), "need 329"},
		{"short mcast", hex.EncodeToString(le8().hdr(typeMcast, 2, 1).u32(1, 1, 1).ring(1, 1).u32(0).b), "MCAST of 41 bytes"},
		{"short merge", hex.EncodeToString(le8().hdr(typeMergeDetect, 0, 1).u32(1).u32(1).b), "MEMB_MERGE_DETECT of 21"},
		{"join lists cut", hex.EncodeToString(le8().hdr(typeJoin, 0, 1).u32(1, 2, 1).u64(1).u32(1, 2).b), "need 45"},
		{"join list huge", hex.EncodeToString(le8().hdr(typeJoin, 0, 1).u32(1, 0xFFFFFFFF, 1).u64(1).b), "processors"},
		{"commit no members", hex.EncodeToString(le8().hdr(typeCommitToken, 0, 1).u32(1).ring(1, 1).u32(0, 0, 0).b), "0 members"},
		{"commit cut", hex.EncodeToString(le8().hdr(typeCommitToken, 0, 1).u32(1).ring(1, 1).u32(0, 0, 2).u32(1, 2).b), "need 97"},
		{"short cancel", hex.EncodeToString(le8().hdr(typeHoldCancel, 0, 1).ring(1, 1).b[:24]), "TOKEN_HOLD_CANCEL of 24"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeFrame(mustHex(t, tc.frame), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestEncodeRoundTrip encodes every type and decodes it back.
func TestEncodeRoundTrip(t *testing.T) {
	ring := RingID{Rep: 3, Seq: 0x1234567890}
	tok := orfToken{hdr: header{typ: typeOrfToken, nodeID: 2}, seq: 9, tokenSeq: 10, aru: 8, aruAddr: 2, ring: ring,
		backlog: 3, fcc: 4, retransFlg: 1, rtr: []rtrItem{{ring, 9}, {RingID{1, 1}, 3}}}
	join := joinMsg{hdr: header{typ: typeJoin, nodeID: 2}, from: 2, proc: []NodeID{2, 1, 3}, failed: []NodeID{4}, ringSeq: 77}
	commit := commitToken{hdr: header{typ: typeCommitToken, nodeID: 1}, tokenSeq: 2, ring: ring, membIndex: 1,
		addrs: []NodeID{1, 3}, entries: []commitEntry{{RingID{1, 5}, 1, 2, 1}, {}}}
	merge := mergeDetect{hdr: header{typ: typeMergeDetect, nodeID: 3}, from: 3, ring: ring}
	cancel := holdCancel{hdr: header{typ: typeHoldCancel, nodeID: 3}, ring: ring}
	mc := mcastHeader{hdr: header{typ: typeMcast, encap: encapNormal, nodeID: 3}, from: 3, seq: 5, thisSeqno: 6, ring: ring, guarantee: 1}

	check := func(name string, frame []byte, want any, got func(decoded) any) {
		d, err := decodeFrame(frame, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if g := got(d); !reflect.DeepEqual(g, want) {
			t.Errorf("%s: got %+v\nwant %+v", name, g, want)
		}
	}
	check("token", tok.appendTo(nil), tok, func(d decoded) any { return d.token })
	check("join", join.appendTo(nil), join, func(d decoded) any { return d.join })
	check("commit", commit.appendTo(nil), commit, func(d decoded) any { return d.commit })
	check("merge", merge.appendTo(nil), merge, func(d decoded) any { return d.merge })
	check("cancel", cancel.appendTo(nil), cancel, func(d decoded) any { return d.cancel })
	check("mcast", appendMcastHeader(nil, &mc), mc, func(d decoded) any { return d.mcast })
	if n := len(commit.appendTo(nil)); n != 41+2*28 {
		t.Errorf("2-member commit token is %d bytes, want 97", n)
	}
	if n := len(join.appendTo(nil)); n != 33+4*4 {
		t.Errorf("join is %d bytes, want 49", n)
	}
}

func TestSeqCompareRollover(t *testing.T) {
	tests := []struct {
		a, b uint32
		lt   bool
	}{
		{1, 2, true}, {2, 1, false}, {5, 5, false},
		{0xFFFFFFF0, 0x00000005, true}, // across the wrap
		{0x00000005, 0xFFFFFFF0, false},
		{0xFFFFFFFF, 0, true}, // the token_seq before 0
	}
	for _, tc := range tests {
		if got := seqLT(tc.a, tc.b); got != tc.lt {
			t.Errorf("seqLT(%#x, %#x) = %v, want %v", tc.a, tc.b, got, tc.lt)
		}
	}
	if seqLTE(0, tokenSeqNone) {
		t.Error("token_seq 0 must be accepted after my_token_seq 0xFFFFFFFF")
	}
}
