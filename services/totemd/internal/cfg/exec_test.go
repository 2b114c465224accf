package cfg

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// hx builds bytes from hex with spaces for readability.
func hx(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestExecLayouts(t *testing.T) {
	kill := make([]byte, 288)
	copy(kill, hx(t, "01000100 00000000 20010000 00000000 02000000 00000000 1b00 000000000000"))
	copy(kill[32:], "Killed by corosync-cfgtool")
	tests := []struct {
		name string
		m    Exec
		want []byte
	}{
		{"shutdown", ShutdownExec{}, hx(t, "02000100 00000000 10000000 00000000")},
		{"reload", ReloadConfigExec{Source{NodeID: 3, Conn: 0x1122334455667788}},
			hx(t, "03000100 00000000 20000000 00000000 03000000 00000000 8877665544332211")},
		{"ring reenable", RingReenableExec{Source{NodeID: 1, Conn: 5}},
			hx(t, "00000100 00000000 20000000 00000000 01000000 00000000 0500000000000000")},
		{"crypto cleanup", CryptoReconfigExec{Phase: CryptoPhaseCleanup},
			hx(t, "04000100 00000000 18000000 00000000 01000000 00000000")},
		{"kill", KillNodeExec{NodeID: 2, ReasonLen: 27, Reason: "Killed by corosync-cfgtool"}, kill},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.m.Encode()
			if !bytes.Equal(got, tc.want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, tc.want)
			}
			back, err := DecodeExec(got, false)
			if err != nil || !reflect.DeepEqual(back, tc.m) {
				t.Fatalf("decode: %#v, %v", back, err)
			}
		})
	}
}

func TestExecSwapped(t *testing.T) {
	// A big-endian sender: header and the reason length arrive swapped;
	// like corosync, the node id is taken as it is.
	b := KillNodeExec{NodeID: 9, ReasonLen: 5, Reason: "why"}.Encode()
	copy(b[0:], []byte{0, 1, 0, 1})
	copy(b[8:], []byte{0, 0, 1, 0x20})
	copy(b[24:], []byte{0, 5})
	m, err := DecodeExec(b, true)
	if err != nil {
		t.Fatal(err)
	}
	if want := (KillNodeExec{NodeID: 9, ReasonLen: 5, Reason: "why"}); m != want {
		t.Fatalf("got %#v", m)
	}
}

func TestExecDecodeErrors(t *testing.T) {
	short := ShutdownExec{}.Encode()[:12]
	wrongSvc := ShutdownExec{}.Encode()
	wrongSvc[2] = 2
	unknownFn := ShutdownExec{}.Encode()
	unknownFn[0] = 9
	sizeLies := ReloadConfigExec{}.Encode()
	sizeLies[8] = 0x40
	truncated := ReloadConfigExec{}.Encode()[:24]
	le.PutUint32(truncated[8:], 24)
	for name, b := range map[string][]byte{
		"short": short, "other service": wrongSvc, "unknown fn": unknownFn,
		"size lies": sizeLies, "struct truncated": truncated,
	} {
		if m, err := DecodeExec(b, false); err == nil {
			t.Errorf("%s: decoded %#v", name, m)
		}
	}
}

func TestRequestLayouts(t *testing.T) {
	tests := []struct {
		r    Request
		want string
	}{
		{BareRequest{ReqLocalGet}, "06000000 00000000 10000000 00000000"},
		{TryShutdownRequest{ShutdownRegardless}, "03000000 00000000 18000000 00000000 01000000 00000000"},
		{ReplyToShutdownRequest{1}, "04000000 00000000 18000000 00000000 01000000 00000000"},
		{GetNodeAddrsRequest{7}, "05000000 00000000 18000000 00000000 07000000 00000000"},
		{NodeStatusRequest{NodeID: 2, Version: 1}, "09000000 00000000 20000000 00000000 02000000 00000000 01000000 00000000"},
		{TrackStartRequest{Flags: 1}, "0a000000 00000000 18000000 00000000 01000000 00000000"},
		{BareRequest{ReqTrackStop}, "0b000000 00000000 10000000 00000000"},
	}
	for _, tc := range tests {
		if got := tc.r.Encode(); !bytes.Equal(got, hx(t, tc.want)) {
			t.Errorf("%T: got %x want %s", tc.r, got, tc.want)
		}
		back, err := DecodeRequest(tc.r.Encode())
		if err != nil || !reflect.DeepEqual(back, tc.r) {
			t.Errorf("%T: decoded %#v, %v", tc.r, back, err)
		}
	}
	// libcfg counts the NUL in cs_name_t.length; over-long reasons are cut.
	k := KillNodeRequest{NodeID: 1, Reason: strings.Repeat("x", 300)}.Encode()
	if len(k) != 288 || le.Uint16(k[24:]) != 256 || k[26+255] != 0 {
		t.Fatalf("long reason: len %d, length field %d", len(k), le.Uint16(k[24:]))
	}
	d, err := DecodeRequest(k)
	if err != nil || len(d.(KillNodeRequest).Reason) != 255 {
		t.Fatalf("long reason decoded as %#v, %v", d, err)
	}
}

func TestResponseDecodeErrors(t *testing.T) {
	generic := GenericError(cs.ErrTryAgain)
	for name, dec := range map[string]func([]byte) error{
		"ring":  func(b []byte) error { _, err := DecodeRingStatusResponse(b); return err },
		"local": func(b []byte) error { _, err := DecodeLocalGetResponse(b); return err },
		"addrs": func(b []byte) error { _, err := DecodeNodeAddrsResponse(b); return err },
		"node":  func(b []byte) error { _, err := DecodeNodeStatusResponse(b); return err },
		"bare":  func(b []byte) error { _, err := DecodeBareResponse(b, RespKillNode); return err },
	} {
		// The generic error reply is a valid answer to every request.
		if err := dec(generic); err != nil {
			t.Errorf("%s: generic error reply rejected: %v", name, err)
		}
		// A successful reply with the wrong id or missing body is not.
		if err := dec(newResp(99, cs.OK, 24)); err == nil {
			t.Errorf("%s: wrong id accepted", name)
		}
		if err := dec([]byte{1, 2, 3}); err == nil {
			t.Errorf("%s: 3 bytes accepted", name)
		}
	}
	b := NodeAddrsResponse{Error: cs.OK, Family: 2, Addrs: [][16]byte{{1}}}.Encode()
	le.PutUint32(b[28:], 5)
	if _, err := DecodeNodeAddrsResponse(b); err == nil {
		t.Error("num_addrs beyond the message accepted")
	}
	if _, err := DecodeTestShutdownEvent(BareResponse{RespKillNode, cs.OK}.Encode()); err == nil {
		t.Error("non-testshutdown event accepted")
	}
}
