package qbipc

import (
	"encoding/hex"
	"testing"
)

// Decoders of bytes from the other side must never panic, nor allocate
// more than allocBudget for any input (bounds_test.go).

func FuzzDecodeConnRequest(f *testing.F) {
	real, _ := hex.DecodeString(cmapctlConnRequest[:48])
	f.Add(real)
	f.Add([]byte{})
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var r connRequest
		var err error
		boundedAlloc(t, "decodeConnRequest", len(b), func() { r, err = decodeConnRequest(b) })
		if err == nil && len(b) != connReqSize {
			t.Fatalf("accepted %d bytes as %+v", len(b), r)
		}
	})
}

func FuzzDecodeConnResponse(f *testing.F) {
	ok, _ := connResponse{transport: wireSocket, maxMsgSize: 1 << 20, request: "/a", response: "/b"}.encode()
	f.Add(ok)
	f.Add(ok[:100])
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 100 && len(b) < connRespSize {
			b = append(b, make([]byte, connRespSize-len(b))...) // reach the full-size paths
		}
		var r connResponse
		var err error
		boundedAlloc(t, "decodeConnResponse", len(b), func() { r, err = decodeConnResponse(b) })
		if err == nil && (len(r.request) >= pathMax || r.transport > 1) {
			t.Fatalf("accepted %+v", r)
		}
	})
}

func FuzzValidateRequest(f *testing.F) {
	f.Add(NewRequest(2, 272), 1<<20)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, 16)
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, b []byte, max int) {
		var h ReqHeader
		var err error
		boundedAlloc(t, "validateRequest", len(b), func() { h, err = validateRequest(b, max) })
		if err == nil && (int(h.Size) != len(b) || len(b) > max || h.ID < 0) {
			t.Fatalf("accepted %+v for %d bytes", h, len(b))
		}
	})
}

func FuzzDecodeRespHeader(f *testing.F) {
	f.Add(NewResponse(2, 1, 16))
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var err error
		boundedAlloc(t, "DecodeRespHeader", len(b), func() { _, err = DecodeRespHeader(b) })
		if err == nil && len(b) < RespHeaderSize {
			t.Fatal("short header accepted")
		}
	})
}
