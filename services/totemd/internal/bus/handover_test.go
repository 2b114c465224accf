package bus

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// attachAs attaches a daemon for service id and plays the node loop's part
// of the attach: it returns the daemon's connection and the session.
func attachAs(t *testing.T, s *Server, path string, id uint16, name string) (*ipcproto.Conn, *Service) {
	t.Helper()
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: id, Name: name}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s)
	if ev.Msg == nil || ev.Msg.Kind != ipcproto.KindAttach || ev.Svc.ID != id {
		t.Fatalf("attach event %+v", ev)
	}
	return c, ev.Svc
}

// item names one message the node loop sent, whatever frame carried it:
// deliveries one by one (the writer may batch them), others by kind.
func items(m *ipcproto.Msg) []string {
	if ds := m.Deliveries(); ds != nil {
		var out []string
		for _, d := range ds {
			out = append(out, fmt.Sprintf("d%d:%s", d.From, d.Payload))
		}
		return out
	}
	if m.Kind == ipcproto.KindConfChg {
		return []string{fmt.Sprintf("confchg%v", m.Conf.Members)}
	}
	return []string{m.Kind.String()}
}

// sendRange plays the node loop: it queues deliveries from..to-1 for svc,
// with a configuration change in place of every fourth, and returns their
// items.
func sendRange(t *testing.T, svc *Service, from, to int) []string {
	t.Helper()
	var want []string
	for i := from; i < to; i++ {
		m := deliver(uint32(i), fmt.Sprint("m", i))
		if i%4 == 3 {
			m = &ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &ipcproto.Conf{Members: []uint32{uint32(i)}}}
		}
		if err := svc.Send(m); err != nil {
			t.Fatal(err)
		}
		want = append(want, items(m)...)
	}
	return want
}

// recvItems reads frames from c until n items came.
func recvItems(t *testing.T, c *ipcproto.Conn, n int) []string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var got []string
	for len(got) < n {
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, items(m)...)
	}
	return got
}

// parkDaemon sends KindPark and returns the items that came before
// KindParked.
func parkDaemon(t *testing.T, c *ipcproto.Conn) []string {
	t.Helper()
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindPark}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var got []string
	for {
		m, err := c.Recv()
		if err != nil {
			t.Fatalf("waiting for %s after %v: %v", ipcproto.KindParked, got, err)
		}
		if m.Kind == ipcproto.KindParked {
			return got
		}
		got = append(got, items(m)...)
	}
}

// nothingFor checks that c receives nothing for d.
func nothingFor(t *testing.T, c *ipcproto.Conn, d time.Duration) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	if m, err := c.Recv(); err == nil {
		t.Fatalf("got %s, want nothing", m.Kind)
	} else if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("want nothing, got %v", err)
	}
}

// noEvent checks that the node loop gets nothing for d.
func noEvent(t *testing.T, s *Server, d time.Duration) {
	t.Helper()
	select {
	case ev := <-s.Events():
		t.Fatalf("unexpected event %+v (error %v)", ev.Msg, ev.Err)
	case <-time.After(d):
	}
}

// detached waits for svc's detach event and returns its error.
func detached(t *testing.T, s *Server, svc *Service) error {
	t.Helper()
	ev := next(t, s)
	if ev.Msg != nil || ev.Svc != svc {
		t.Fatalf("want %s's detach, got %+v for %p (want %p)", svc.Name, ev.Msg, ev.Svc, svc)
	}
	if s.Attached(svc.ID) == svc {
		t.Fatal("session still attached after its detach event")
	}
	if err := svc.Send(deliver(1, "late")); err == nil {
		t.Fatal("send to a detached session succeeded")
	}
	return ev.Err
}

// pipe returns a pipe whose write end is handed over; the read end tells
// whether every copy of the write end is closed (EOF).
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// pipeClosed waits for EOF on r: every copy of its write end is closed.
func pipeClosed(t *testing.T, r *os.File) {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 64)
	for {
		n, err := r.Read(b)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("pipe's write end still open somewhere: %v", err)
		}
		if n == 0 {
			t.Fatal("empty read")
		}
	}
}

// handOver sends the chunks with their files (and closes the test's
// copies, as the daemon's exit would), then KindHandoverEnd{end}.
func handOver(t *testing.T, c *ipcproto.Conn, payloads []string, files [][]*os.File, end uint64) {
	t.Helper()
	for i, p := range payloads {
		if err := c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: []byte(p)}, files[i]); err != nil {
			t.Fatal(err)
		}
		closeFiles(files[i])
	}
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindHandoverEnd, ID: end}); err != nil {
		t.Fatal(err)
	}
}

// waitHeld waits until svc is handed over and held for a successor.
func waitHeld(t *testing.T, svc *Service) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		svc.mu.Lock()
		held := svc.held != nil && svc.conn == nil && !svc.ended
		svc.mu.Unlock()
		if held {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("session not held for a successor within 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// resumeAs opens a successor's connection with KindResume and returns it
// with the chunks and files it took over and the KindHandoverEnd.
func resumeAs(t *testing.T, path string, id uint16, name string) (*ipcproto.Conn, []string, [][]*os.File, *ipcproto.Msg) {
	t.Helper()
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: id, Name: name}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var payloads []string
	var files [][]*os.File
	for {
		m, fs, err := c.RecvFiles()
		t.Cleanup(func() { closeFiles(fs) })
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind != ipcproto.KindHandover {
			if len(fs) != 0 {
				t.Fatalf("%d descriptors with %s", len(fs), m.Kind)
			}
			return c, payloads, files, m
		}
		payloads, files = append(payloads, string(m.Payload)), append(files, fs)
	}
}

// socketPair returns both ends of a connected unix socket pair.
func socketPair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "pair-a"), os.NewFile(uintptr(fds[1]), "pair-b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

// TestHandoverToSuccessor is the whole cycle: a daemon parks and hands
// its session over, the node loop notices nothing, and the successor
// resumes with the same state and descriptors, every frame held for it in
// order, and the same *Service.
func TestHandoverToSuccessor(t *testing.T) {
	s, path := listen(t)
	a, svc := attachAs(t, s, path, 2, "cpg")

	// Deliveries before the park reach A.
	want := sendRange(t, svc, 0, 8)
	if got := recvItems(t, a, 8); !slices.Equal(got, want) {
		t.Fatalf("A got %v, want %v", got, want)
	}
	// Some frames race the park (before or after KindParked), more come
	// surely after it: A gets a prefix of them, the successor the rest.
	want = sendRange(t, svc, 8, 16)
	gotA := parkDaemon(t, a)
	want = append(want, sendRange(t, svc, 16, 24)...)
	if !slices.Equal(gotA, want[:len(gotA)]) {
		t.Fatalf("A got %v before %s, want a prefix of %v", gotA, ipcproto.KindParked, want)
	}
	nothingFor(t, a, 100*time.Millisecond)

	// A hands over two chunks: a pipe and a file with the first, a
	// socket with the second.
	pr, pw := pipe(t)
	tmp, err := os.CreateTemp(t.TempDir(), "state")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString("file-state"); err != nil {
		t.Fatal(err)
	}
	sa, sb := socketPair(t)
	payloads := []string{"state-1", strings.Repeat("x", 100<<10)}
	handOver(t, a, payloads, [][]*os.File{{pw, tmp}, {sa}}, 2)
	a.Close()
	waitHeld(t, svc)
	if s.Attached(2) != svc {
		t.Fatal("handed-over session no longer attached")
	}
	want = append(want, sendRange(t, svc, 24, 28)...) // held too
	noEvent(t, s, 200*time.Millisecond)

	b, gotPayloads, files, end := resumeAs(t, path, 2, "cpg")
	if !slices.Equal(gotPayloads, payloads) {
		t.Fatalf("successor got chunks of %d bytes, want the predecessor's", len(gotPayloads))
	}
	if end.Kind != ipcproto.KindHandoverEnd || end.ID != 2 {
		t.Fatalf("successor got %+v after the chunks, want %s{2}", end, ipcproto.KindHandoverEnd)
	}
	if len(files) != 2 || len(files[0]) != 2 || len(files[1]) != 1 {
		t.Fatalf("successor got descriptors %v, want 2 then 1", files)
	}
	// The descriptors are the predecessor's: the pipe ...
	if _, err := files[0][0].WriteString("through"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := io.ReadFull(pr, buf); err != nil || string(buf) != "through" {
		t.Fatalf("pipe read %q, %v", buf, err)
	}
	// ... the file ...
	got := make([]byte, 10)
	if _, err := files[0][1].ReadAt(got, 0); err != nil || string(got) != "file-state" {
		t.Fatalf("file read %q, %v", got, err)
	}
	// ... and the socket.
	if _, err := files[1][0].Write([]byte("sock")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(sb, buf[:4]); err != nil || string(buf[:4]) != "sock" {
		t.Fatalf("socket read %q, %v", buf[:4], err)
	}
	// totemd kept no copy: with the successor's closed, the pipe ends.
	files[0][0].Close()
	pipeClosed(t, pr)

	// Then exactly the held frames, in order, then new ones.
	held := want[len(gotA):]
	if got := recvItems(t, b, len(held)); !slices.Equal(got, held) {
		t.Fatalf("successor got %v, want the held %v", got, held)
	}
	more := sendRange(t, svc, 28, 33)
	if got := recvItems(t, b, len(more)); !slices.Equal(got, more) {
		t.Fatalf("successor got %v, want %v", got, more)
	}

	// The successor's frames are the same session's, with no attach.
	if err := b.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 9, Payload: []byte("from B")}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s)
	if ev.Svc != svc || ev.Msg == nil || ev.Msg.Kind != ipcproto.KindMcast || string(ev.Msg.Payload) != "from B" {
		t.Fatalf("successor's mcast came as %+v of %p, want of %p", ev.Msg, ev.Svc, svc)
	}
	if s.Attached(2) != svc {
		t.Fatal("session not attached after the takeover")
	}
	b.Close()
	if err := detached(t, s, svc); err != nil {
		t.Fatalf("successor's close: detach error %v, want none", err)
	}
	noEvent(t, s, 100*time.Millisecond)
}

// TestUnparkWritesHeldFramesFirst: a daemon that parks and unparks gets
// what was held, in order, then goes on as before; it may park again.
func TestUnparkWritesHeldFramesFirst(t *testing.T) {
	s, path := listen(t)
	a, svc := attachAs(t, s, path, 3, "quorum")
	var seen []string
	want := sendRange(t, svc, 0, 5)
	for round := 0; round < 2; round++ {
		seen = append(seen, parkDaemon(t, a)...)
		want = append(want, sendRange(t, svc, 10*(round+1), 10*(round+1)+6)...)
		nothingFor(t, a, 100*time.Millisecond)
		if err := a.Send(&ipcproto.Msg{Kind: ipcproto.KindUnpark}); err != nil {
			t.Fatal(err)
		}
		seen = append(seen, recvItems(t, a, len(want)-len(seen))...)
		if !slices.Equal(seen, want) {
			t.Fatalf("round %d: got %v, want %v", round, seen, want)
		}
	}
	if err := a.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1, Payload: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, s); ev.Svc != svc || ev.Msg == nil || ev.Msg.Kind != ipcproto.KindMcast {
		t.Fatalf("mcast after unpark: %+v", ev.Msg)
	}
	more := sendRange(t, svc, 100, 104)
	if got := recvItems(t, a, len(more)); !slices.Equal(got, more) {
		t.Fatalf("after unpark got %v, want %v", got, more)
	}
}

// holdSession attaches service id, parks it and hands over one chunk with
// a pipe's write end: it returns the session and the pipe's read end.
func holdSession(t *testing.T, s *Server, path string, id uint16, name string) (*Service, *os.File) {
	t.Helper()
	a, svc := attachAs(t, s, path, id, name)
	parkDaemon(t, a)
	r, w := pipe(t)
	handOver(t, a, []string{"state"}, [][]*os.File{{w}}, 1)
	a.Close()
	waitHeld(t, svc)
	return svc, r
}

// TestHandoverLapses: with no successor within the grace, the session is
// detached once, with why, and the descriptors are closed.
func TestHandoverLapses(t *testing.T) {
	s, path := listen(t)
	s.mu.Lock()
	s.keepGrace = 200 * time.Millisecond
	s.mu.Unlock()
	start := time.Now()
	svc, r := holdSession(t, s, path, 2, "cpg")
	sendRange(t, svc, 0, 3)
	err := detached(t, s, svc)
	if err == nil || !strings.Contains(err.Error(), "no successor took over within 200ms") {
		t.Fatalf("detach error %v", err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("detached before the grace ended")
	}
	pipeClosed(t, r)
	noEvent(t, s, 300*time.Millisecond)
	// The next daemon finds nothing to resume: an ordinary attach.
	c := dial(t, path)
	c.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: 2, Name: "cpg"})
	if ev := next(t, s); ev.Msg == nil || ev.Msg.Kind != ipcproto.KindAttach || ev.Svc == svc {
		t.Fatalf("resume after the lapse: %+v", ev)
	}
}

// TestResumeWithNothingHeldAttaches: KindResume with no session handed
// over is KindAttach for the node loop; a second one, while that daemon
// runs, is refused as a second attach is.
func TestResumeWithNothingHeldAttaches(t *testing.T) {
	s, path := listen(t)
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: 0, Name: "cmap"}); err != nil {
		t.Fatal(err)
	}
	ev := next(t, s)
	if ev.Msg == nil || ev.Msg.Kind != ipcproto.KindAttach || ev.Msg.Service != 0 || ev.Msg.Name != "cmap" ||
		ev.Svc.Name != "cmap" || s.Attached(0) != ev.Svc {
		t.Fatalf("resume with nothing held: %+v", ev)
	}
	// The node loop answers as to an attach.
	if err := ev.Svc.Send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1}); err != nil {
		t.Fatal(err)
	}
	if m, err := c.Recv(); err != nil || m.Kind != ipcproto.KindAttached {
		t.Fatalf("got %+v %v, want attached", m, err)
	}
	for _, kind := range []ipcproto.Kind{ipcproto.KindResume, ipcproto.KindAttach} {
		d := dial(t, path)
		d.Send(&ipcproto.Msg{Kind: kind, Service: 0, Name: "cmap"})
		if m, err := d.Recv(); err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, "already attached") {
			t.Fatalf("%s while attached: %+v %v", kind, m, err)
		}
	}
	// Parked is not handed over either.
	parkDaemon(t, c)
	d := dial(t, path)
	d.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: 0, Name: "cmap"})
	if m, err := d.Recv(); err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, "already attached") {
		t.Fatalf("resume while parked: %+v %v", m, err)
	}
	noEvent(t, s, 100*time.Millisecond)
}

// TestResumeUnderAnotherName is refused; the session stays held for the
// right successor.
func TestResumeUnderAnotherName(t *testing.T) {
	s, path := listen(t)
	svc, _ := holdSession(t, s, path, 2, "cpg")
	c := dial(t, path)
	c.Send(&ipcproto.Msg{Kind: ipcproto.KindResume, Service: 2, Name: "impostor"})
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Recv()
	if err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, `handed over by "cpg", not "impostor"`) {
		t.Fatalf("resume under another name: %+v %v", m, err)
	}
	noEvent(t, s, 100*time.Millisecond)
	waitHeld(t, svc)
	b, payloads, files, end := resumeAs(t, path, 2, "cpg")
	if len(payloads) != 1 || payloads[0] != "state" || len(files[0]) != 1 || end.ID != 1 {
		t.Fatalf("successor got %v %v %+v", payloads, files, end)
	}
	want := sendRange(t, svc, 0, 2)
	if got := recvItems(t, b, 2); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestBrokenHandoverDetaches: whatever goes wrong after KindPark, the
// session is detached as if the daemon had closed its connection, and
// every descriptor received is closed.
func TestBrokenHandoverDetaches(t *testing.T) {
	cases := []struct {
		name string
		// daemon misbehaves, after its KindParked if parked, with w a
		// pipe's write end to hand over (the test closes its copy after).
		daemon func(t *testing.T, c *ipcproto.Conn, w *os.File)
		parked bool
		want   string
	}{
		{"count mismatch", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			handOver(t, c, []string{"a", "b"}, [][]*os.File{{w}, nil}, 3)
		}, true, "handover-end counts 3 handover frames, 2 came"},
		{"closed mid-handover", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: []byte("a")}, []*os.File{w})
		}, true, "connection ended after 1 handover frames, without handover-end"},
		{"closed after park", func(t *testing.T, c *ipcproto.Conn, w *os.File) {}, true,
			"connection ended after 0 handover frames, without handover-end"},
		{"frame after handover-end", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			handOver(t, c, []string{"a"}, [][]*os.File{{w}}, 1)
			c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1})
		}, true, "mcast after handover-end"},
		{"mcast while parked", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: []byte("a")}, []*os.File{w})
			c.Send(&ipcproto.Msg{Kind: ipcproto.KindMcast, ID: 1})
			time.Sleep(50 * time.Millisecond)
		}, true, "mcast, where only unpark, handover or handover-end may come"},
		{"frames behind park", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			closeFiles([]*os.File{w})
			c.SendBatch([]*ipcproto.Msg{{Kind: ipcproto.KindPark}, {Kind: ipcproto.KindMcast, ID: 1}})
			time.Sleep(50 * time.Millisecond)
		}, false, "already buffered"},
		{"files with unpark", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindUnpark}, []*os.File{w})
			closeFiles([]*os.File{w})
			time.Sleep(50 * time.Millisecond)
		}, true, "1 descriptors with unpark"},
		{"unpark after chunks", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindHandover, Payload: []byte("a")}, []*os.File{w})
			closeFiles([]*os.File{w})
			c.Send(&ipcproto.Msg{Kind: ipcproto.KindUnpark})
			time.Sleep(50 * time.Millisecond)
		}, true, "unpark after 1 handover frames"},
		{"too many chunks", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			closeFiles([]*os.File{w})
			for i := 0; i <= MaxHandoverChunks; i++ {
				if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindHandover}); err != nil {
					return // detached: the rest need not come
				}
			}
			time.Sleep(50 * time.Millisecond)
		}, true, fmt.Sprintf("more than %d handover frames", MaxHandoverChunks)},
		{"handover without park", func(t *testing.T, c *ipcproto.Conn, w *os.File) {
			closeFiles([]*os.File{w})
			c.Send(&ipcproto.Msg{Kind: ipcproto.KindHandoverEnd})
			time.Sleep(50 * time.Millisecond)
		}, false, "sent handover-end without park"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, path := listen(t)
			a, svc := attachAs(t, s, path, 2, "cpg")
			if tc.parked {
				parkDaemon(t, a)
			}
			r, w := pipe(t)
			tc.daemon(t, a, w)
			w.Close()
			a.Close()
			err := detached(t, s, svc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("detach error %v, want one naming %q", err, tc.want)
			}
			pipeClosed(t, r)
			noEvent(t, s, 100*time.Millisecond)
		})
	}
}

// TestHeldSessionEnds: a held session whose queue overflows, or that
// totemd's bus closes under, or that a daemon attaches over instead of
// resuming, is detached once, its descriptors closed.
func TestHeldSessionEnds(t *testing.T) {
	t.Run("overflow", func(t *testing.T) {
		s, path := listen(t)
		svc, r := holdSession(t, s, path, 2, "cpg")
		for i := 0; i < QueueLen; i++ {
			if err := svc.Send(deliver(1, "x")); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		if err := svc.Send(deliver(1, "x")); err == nil {
			t.Fatal("send past the queue succeeded")
		}
		if err := detached(t, s, svc); err == nil || !strings.Contains(err.Error(), "fell 65536 messages behind") {
			t.Fatalf("detach error %v", err)
		}
		pipeClosed(t, r)
		noEvent(t, s, 100*time.Millisecond)
	})
	t.Run("close", func(t *testing.T) {
		s, path := listen(t)
		svc, r := holdSession(t, s, path, 2, "cpg")
		s.Close()
		if err := detached(t, s, svc); err == nil || !strings.Contains(err.Error(), "shutting down") {
			t.Fatalf("detach error %v", err)
		}
		pipeClosed(t, r)
		noEvent(t, s, 100*time.Millisecond)
	})
	t.Run("attach instead of resume", func(t *testing.T) {
		s, path := listen(t)
		svc, r := holdSession(t, s, path, 2, "cpg")
		c := dial(t, path)
		c.Send(&ipcproto.Msg{Kind: ipcproto.KindAttach, Service: 2, Name: "cpg"})
		if err := detached(t, s, svc); err == nil || !strings.Contains(err.Error(), "attached instead of resuming") {
			t.Fatalf("detach error %v", err)
		}
		ev := next(t, s)
		if ev.Msg == nil || ev.Msg.Kind != ipcproto.KindAttach || ev.Svc == svc || s.Attached(2) != ev.Svc {
			t.Fatalf("attach after the held session: %+v", ev)
		}
		pipeClosed(t, r)
	})
}
