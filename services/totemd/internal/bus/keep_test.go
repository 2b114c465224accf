package bus

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/ipcproto"
)

// keeperConn opens a keeper connection for names and returns the sockets
// totemd handed over.
func keeperConn(t *testing.T, path string, names ...string) (*ipcproto.Conn, *ipcproto.Msg, []*os.File) {
	t.Helper()
	c := dial(t, path)
	if err := c.Send(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: names}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, files, err := c.RecvFiles()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, m, files
}

// listener is a fresh listening socket standing for a libqb setup socket.
func listener(t *testing.T) (*net.UnixListener, *os.File) {
	t.Helper()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(t.TempDir(), "qb.sock"), Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false) // the path must outlive the daemon's copy
	t.Cleanup(func() { l.Close() })
	f, err := l.File()
	if err != nil {
		t.Fatal(err)
	}
	return l, f
}

// TestKeeperHandsSocketsToTheRestartedDaemon: a daemon's sockets outlive
// its keeper connection; the next keeper connection for the name gets
// them, while a second daemon for a name already served is refused.
func TestKeeperHandsSocketsToTheRestartedDaemon(t *testing.T) {
	s, path := listen(t)
	c1, m, files := keeperConn(t, path, "cpg")
	if m.Kind != ipcproto.KindKept || len(m.Names) != 0 || len(files) != 0 {
		t.Fatalf("first keeper got %+v and %d sockets, want nothing held", m, len(files))
	}
	l, f := listener(t)
	if err := c1.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: []string{"cpg"}}, []*os.File{f}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitKept(t, s, "cpg", true)

	// A second daemon for cpg while the first runs: refused.
	_, m, files = keeperConn(t, path, "cpg")
	if m.Kind != ipcproto.KindError || !strings.Contains(m.Text, `"cpg" is served by a running daemon`) || len(files) != 0 {
		t.Fatalf("second daemon got %+v with %d sockets, want a refusal", m, len(files))
	}

	// The daemon stops and restarts: it gets its socket back, the same
	// one (a client connecting in between is accepted through it).
	l.Close()
	c1.Close()
	waitKept(t, s, "cpg", false)
	client, err := net.Dial("unix", l.Addr().String())
	if err != nil {
		t.Fatalf("connect while the daemon is away: %v", err)
	}
	defer client.Close()
	_, m, files = keeperConn(t, path, "cpg", "cpg-other")
	if len(m.Names) != 1 || m.Names[0] != "cpg" || len(files) != 1 {
		t.Fatalf("restarted daemon got %+v with %d sockets", m, len(files))
	}
	nl, err := net.FileListener(files[0])
	files[0].Close()
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	if _, err := nl.Accept(); err != nil {
		t.Fatalf("accept the client that waited: %v", err)
	}
}

// TestKeeperClosesAfterGrace: with no daemon back within the grace
// period, totemd closes the socket, and connecting fails again.
func TestKeeperClosesAfterGrace(t *testing.T) {
	s, path := listen(t)
	s.mu.Lock()
	s.keepGrace = 200 * time.Millisecond
	s.mu.Unlock()
	c, _, _ := keeperConn(t, path, "quorum")
	l, f := listener(t)
	if err := c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: []string{"quorum"}}, []*os.File{f}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitKept(t, s, "quorum", true)
	l.Close()
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		_, held := s.kept["quorum"]
		s.mu.Unlock()
		if !held {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("socket still held 5 s after a 200 ms grace")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if conn, err := net.Dial("unix", l.Addr().String()); err == nil {
		conn.Close()
		t.Fatal("connect after the grace succeeded; the socket should be closed")
	}
}

// TestKeeperRefusesSocketsForOtherNames: a daemon hands over only sockets
// of the names it declared.
func TestKeeperRefusesSocketsForOtherNames(t *testing.T) {
	s, path := listen(t)
	c, _, _ := keeperConn(t, path, "cmap")
	_, f := listener(t)
	if err := c.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKeep, Names: []string{"cfg"}}, []*os.File{f}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := c.Recv()
	if err != nil || m.Kind != ipcproto.KindError || !strings.Contains(m.Text, `"cfg", not one of [cmap]`) {
		t.Fatalf("got %+v %v, want a refusal naming cfg", m, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.kept) != 0 {
		t.Fatalf("held %v after a refused hand-over", s.kept)
	}
}

// waitKept waits until name is held with (owned) or without a daemon.
func waitKept(t *testing.T, s *Server, name string, owned bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		s.mu.Lock()
		k := s.kept[name]
		ok := k != nil && len(k.files) > 0 && (k.owner != nil) == owned
		s.mu.Unlock()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not held (owned %v) within 5 s", name, owned)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
