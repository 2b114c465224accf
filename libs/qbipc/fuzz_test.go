package qbipc

import (
	"encoding/hex"
	"testing"
)

// Decoders of bytes from the other side must never panic.

func FuzzDecodeConnRequest(f *testing.F) {
	real, _ := hex.DecodeString(cmapctlConnRequest[:48])
	f.Add(real)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeConnRequest(b)
		if err == nil && len(b) != connReqSize {
			t.Fatalf("accepted %d bytes as %+v", len(b), r)
		}
	})
}

func FuzzDecodeConnResponse(f *testing.F) {
	ok, _ := connResponse{transport: wireSocket, maxMsgSize: 1 << 20, request: "/a", response: "/b"}.encode()
	f.Add(ok)
	f.Add(ok[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 100 && len(b) < connRespSize {
			b = append(b, make([]byte, connRespSize-len(b))...) // reach the full-size paths
		}
		r, err := decodeConnResponse(b)
		if err == nil && (len(r.request) >= pathMax || r.transport > 1) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzValidateRequest(f *testing.F) {
	f.Add(NewRequest(2, 272), 1<<20)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 16)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		h, err := validateRequest(b, max)
		if err == nil && (int(h.Size) != len(b) || len(b) > max || h.ID < 0) {
			t.Fatalf("accepted %+v for %d bytes", h, len(b))
		}
	})
}

func FuzzDecodeRespHeader(f *testing.F) {
	f.Add(NewResponse(2, 1, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := DecodeRespHeader(b); err == nil && len(b) < RespHeaderSize {
			t.Fatal("short header accepted")
		}
	})
}
