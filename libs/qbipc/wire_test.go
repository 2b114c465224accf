package qbipc

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// The connection request corosync-cmapctl sends (spec §3.1, verified bytes).
const cmapctlConnRequest = "ffffffff000000001800000000000000000010000000000000"

func TestConnRequest(t *testing.T) {
	real, _ := hex.DecodeString(cmapctlConnRequest[:48])
	if got := (connRequest{maxMsgSize: 1 << 20}).encode(); !bytes.Equal(got, real) {
		t.Fatalf("encode = %x, want %x", got, real)
	}
	for _, tc := range []struct {
		name string
		b    []byte
		max  uint32
		err  string
	}{
		{"cmapctl", real, 1 << 20, ""},
		{"short", real[:23], 0, "23 bytes"},
		{"wrong id", append([]byte{0xfe}, real[1:]...), 0, "id -2"},
		{"wrong size", func() []byte { b := bytes.Clone(real); b[8] = 16; return b }(), 0, "size field 16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeConnRequest(tc.b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || r.maxMsgSize != tc.max {
				t.Fatalf("%+v %v", r, err)
			}
		})
	}
}

func TestConnResponse(t *testing.T) {
	ok := connResponse{transport: wireSHM, maxMsgSize: 1 << 20, connID: 0x5570a177d990,
		request: "/dev/shm/qb-1-2-3-abc/qb-request-cmap", response: "/dev/shm/qb-1-2-3-abc/qb-response-cmap",
		event: "/dev/shm/qb-1-2-3-abc/qb-event-cmap"}
	b, err := ok.encode()
	if err != nil {
		t.Fatal(err)
	}
	// The header of a real corosync response (spec §3.2), up to the pointer.
	wantHdr, _ := hex.DecodeString("ffffffff0000000028300000000000000000000000000000010000000000100090d977a170550000")
	if len(b) != connRespSize || !bytes.Equal(b[:40], wantHdr) {
		t.Fatalf("encoded header %x", b[:40])
	}
	got, err := decodeConnResponse(b)
	if err != nil || got != ok {
		t.Fatalf("round trip: %+v %v", got, err)
	}

	refused, _ := connResponse{errno: syscall.EACCES}.encode()
	if _, err := decodeConnResponse(refused); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("refusal: %v", err)
	}
	for _, tc := range []struct {
		name string
		mod  func([]byte)
		err  error
		msg  string
	}{
		{"posix mq", func(b []byte) { b[24] = 2 }, syscall.ENOTSUP, ""},
		{"unknown transport", func(b []byte) { b[24] = 9 }, syscall.EINVAL, ""},
		{"positive error", func(b []byte) { b[16] = 5 }, nil, "not a negative errno"},
		{"unterminated path", func(b []byte) {
			for i := offRespEvent; i < connRespSize; i++ {
				b[i] = 'x'
			}
		}, nil, "event path"},
		{"tiny max", func(b []byte) { copy(b[28:32], []byte{1, 0, 0, 0}) }, nil, "max_msg_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := bytes.Clone(b)
			tc.mod(c)
			_, err := decodeConnResponse(c)
			if err == nil || tc.err != nil && !errors.Is(err, tc.err) || tc.msg != "" && !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v", err)
			}
		})
	}
	if _, err := (connResponse{request: strings.Repeat("x", pathMax)}).encode(); err == nil {
		t.Fatal("overlong path encoded")
	}
}

func TestValidateRequest(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		max  int
		err  string
	}{
		{"ok", NewRequest(2, 272), 1 << 20, ""},
		{"header only", NewRequest(0, 0), 16, ""},
		{"short", make([]byte, 15), 1 << 20, "15 bytes"},
		{"size mismatch", func() []byte { b := NewRequest(2, 10); b[8] = 99; return b }(), 1 << 20, "header size 99"},
		{"too big", NewRequest(2, 100), 64, "exceeds"},
		{"negative id", NewRequest(-2, 0), 64, "reserved id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := validateRequest(tc.b, tc.max)
			if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("err %v, want %q", err, tc.err)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	r := NewResponse(7, 12, 3)
	h, err := DecodeRespHeader(r)
	if err != nil || h != (RespHeader{ID: 7, Size: 27, Error: 12}) {
		t.Fatalf("%+v %v", h, err)
	}
	q := NewRequest(9, 8)
	if h, err := DecodeReqHeader(q); err != nil || h != (ReqHeader{ID: 9, Size: 24}) {
		t.Fatalf("%+v %v", h, err)
	}
	if _, err := DecodeRespHeader(r[:23]); !errors.Is(err, ErrShortMessage) {
		t.Fatal(err)
	}
	for _, s := range []string{"native", "shm", "socket"} {
		if _, err := ParseTransport(s); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ParseTransport("sysv"); err == nil {
		t.Fatal("sysv accepted")
	}
}

func TestAuthorize(t *testing.T) {
	allow := func(uid, gid uint32) bool { return uid == 1000 || gid == 50 }
	for _, tc := range []struct {
		c  Creds
		ok bool
	}{
		{Creds{UID: 0, GID: 0}, true}, {Creds{UID: 0, GID: 7}, true}, {Creds{UID: 7, GID: 0}, true},
		{Creds{UID: 1000, GID: 1000}, true}, {Creds{UID: 7, GID: 50}, true}, {Creds{UID: 7, GID: 7}, false},
	} {
		err := Authorize(tc.c, allow)
		if (err == nil) != tc.ok || err != nil && !errors.Is(err, syscall.EACCES) {
			t.Errorf("%v: %v", tc.c, err)
		}
	}
	if Authorize(Creds{UID: 5, GID: 5}, nil) == nil {
		t.Error("nil callback let a user in")
	}
}

func TestErrno(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want syscall.Errno
	}{
		{nil, 0},
		{&RefusedError{Errno: syscall.EACCES}, syscall.EACCES},
		{fmt.Errorf("dial: %w", &RefusedError{Errno: syscall.EAGAIN}), syscall.EAGAIN},
		{ErrTryAgain, syscall.EAGAIN},
		{ErrTooBig, syscall.EMSGSIZE},
		{fmt.Errorf("%w: gone", ErrDisconnected), syscall.ENOTCONN},
		{ErrClosed, syscall.ENOTCONN},
		{context.DeadlineExceeded, syscall.ETIMEDOUT},
		{fmt.Errorf("connect: %w", syscall.ECONNREFUSED), syscall.ECONNREFUSED},
		{errors.New("something else"), syscall.ENOTCONN},
	} {
		if got := Errno(tc.err); got != tc.want {
			t.Errorf("Errno(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
