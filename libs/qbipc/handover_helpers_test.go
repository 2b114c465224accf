package qbipc

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

// Request ids of handoverHandler, beside echoHandler's.
const (
	opBlock = 10 // no response; the handler waits for release
	opMark  = 11 // no response; the body is recorded
)

// handoverHandler is echoHandler with requests that block and requests
// whose handling is recorded, and a successor's restore step.
type handoverHandler struct {
	*echoHandler
	entered chan uint64   // an opBlock request started, on this connection
	release chan struct{} // lets one opBlock request finish

	marksMu sync.Mutex
	marks   []string
}

func newHandoverHandler() *handoverHandler {
	return &handoverHandler{echoHandler: newEchoHandler(), entered: make(chan uint64, 16), release: make(chan struct{})}
}

func (h *handoverHandler) Request(c *Conn, msg []byte) ([]byte, error) {
	hd, _ := DecodeReqHeader(msg)
	switch hd.ID {
	case opBlock:
		h.entered <- c.ID()
		<-h.release
		return nil, nil
	case opMark:
		h.marksMu.Lock()
		h.marks = append(h.marks, string(msg[ReqHeaderSize:]))
		h.marksMu.Unlock()
		return nil, nil
	}
	return h.echoHandler.Request(c, msg)
}

func (h *handoverHandler) recorded() []string {
	h.marksMu.Lock()
	defer h.marksMu.Unlock()
	return slices.Clone(h.marks)
}

// restore is a successor handler learning the adopted connections.
func (h *handoverHandler) restore(cs []*Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range cs {
		c.SetValue(c.ID())
		h.conns[c.ID()] = c
	}
}

// only returns the handler's one connection.
func (h *echoHandler) only(t testing.TB) *Conn {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.conns) != 1 {
		t.Fatalf("%d connections, want 1", len(h.conns))
	}
	for _, c := range h.conns {
		return c
	}
	return nil
}

func request(op int32, body string) []byte {
	r := NewRequest(op, len(body))
	copy(r[ReqHeaderSize:], body)
	return r
}

// numberedEvent is event n of a sequence, n in its first body word.
func numberedEvent(n, size int) []byte {
	ev := NewResponse(eventID, 1, size)
	le.PutUint32(ev[RespHeaderSize:], uint32(n))
	return ev
}

// passFiles sends files over a unix socket with SCM_RIGHTS, at most 16
// per message as ipcproto's KindHandover frames carry them, and returns
// what arrived: new descriptors, as a successor process receives them.
// The caller still owns files.
func passFiles(t testing.TB, files []*os.File) []*os.File {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(sp[0])
	defer unix.Close(sp[1])
	var out []*os.File
	for len(files) > 0 {
		n := min(len(files), 16)
		raw := make([]int, n)
		for i, f := range files[:n] {
			rc, err := f.SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			rc.Control(func(fd uintptr) { raw[i] = int(fd) })
		}
		if err := unix.Sendmsg(sp[0], []byte{byte(n)}, unix.UnixRights(raw...), nil, 0); err != nil {
			t.Fatalf("sendmsg: %v", err)
		}
		oob := make([]byte, unix.CmsgSpace(4*16))
		_, oobn, _, _, err := unix.Recvmsg(sp[1], make([]byte, 1), oob, unix.MSG_CMSG_CLOEXEC)
		if err != nil {
			t.Fatalf("recvmsg: %v", err)
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			t.Fatalf("control messages: %v %d", err, len(msgs))
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != n {
			t.Fatalf("%d descriptors arrived, want %d: %v", len(fds), n, err)
		}
		for _, fd := range fds {
			out = append(out, os.NewFile(uintptr(fd), "passed"))
		}
		files = files[n:]
	}
	return out
}

// carry takes parked connections through what a daemon's handover does:
// Encode, the files over SCM_RIGHTS, Close of the sender's copies, then
// DecodeParked in the successor.
func carry(t testing.TB, ps []*Parked) []*Parked {
	t.Helper()
	var out []*Parked
	for _, p := range ps {
		state, files, err := p.Encode()
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		got := passFiles(t, files)
		p.Close()
		q, err := DecodeParked(append([]byte(nil), state...), got)
		if err != nil {
			t.Fatalf("DecodeParked: %v", err)
		}
		out = append(out, q)
	}
	return out
}

// fakeFiles are files of the kinds a Parked of transport tr holds, for
// the decoder's tests (no connection behind them).
func fakeFiles(t testing.TB, tr Transport) []*os.File {
	t.Helper()
	pair := func(typ int) (int, int) {
		sp, err := unix.Socketpair(unix.AF_UNIX, typ|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		return sp[0], sp[1]
	}
	memfd := func() *os.File {
		fd, err := unix.MemfdCreate("qbipc-test", unix.MFD_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		return os.NewFile(uintptr(fd), "memfd")
	}
	a, b := pair(unix.SOCK_STREAM)
	unix.Close(b)
	files := []*os.File{os.NewFile(uintptr(a), "setup")}
	if tr == SHM {
		for range 6 {
			files = append(files, memfd())
		}
		return files
	}
	r, e := pair(unix.SOCK_DGRAM)
	return append(files, memfd(), os.NewFile(uintptr(r), "req"), os.NewFile(uintptr(e), "ev"))
}

// fdsUnder counts this process's descriptors of files under dir: a
// handover holds ring files open only while they travel.
func fdsUnder(t testing.TB, dir string) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(l, dir+"/") {
			n++
		}
	}
	return n
}
