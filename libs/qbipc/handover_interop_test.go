package qbipc

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHandoverCmapctl hands Debian's unmodified corosync-cmapctl (libcmap
// on libqb 2.0.6) over between two servers impersonating cmap, in both
// transports: "cmapctl -t" idles in dispatch on server 1, gets events
// from it, also while it is paused; a "cmapctl -g" started during the
// pause waits in the kept socket's backlog. After the handover server 2,
// on server 1's kept sockets, answers the waiting -g, and its events
// reach the tracker, which notices nothing until server 2 closes.
func TestHandoverCmapctl(t *testing.T) {
	if _, err := os.Stat(cmapctlBin); err != nil {
		t.Skipf("corosync-cmapctl not installed (%s): %v", cmapctlBin, err)
	}
	if !inPrivateNamespaces(t) {
		return
	}
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) { testHandoverCmapctl(t, tr) })
	}
}

func testHandoverCmapctl(t *testing.T, tr Transport) {
	dir, err := os.MkdirTemp("/dev/shm", "qbipc-interop-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serve := func(s *Server) (stop func()) {
		sctx, scancel := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- s.Serve(sctx) }()
		return func() {
			scancel()
			if err := <-served; err != nil {
				t.Errorf("Serve: %v", err)
			}
		}
	}

	f1 := &fakeCmap{key: "needle.test", value: 4242, tracked: make(chan tracker, 1)}
	s1, err := Listen(Config{Service: "cmap", Transport: tr, Dir: dir}, f1)
	if err != nil {
		t.Fatal(err)
	}
	stop1 := serve(s1)
	kept, err := s1.Files()
	if err != nil {
		t.Fatal(err)
	}

	trk, tout, stdin, tk := startCmapctlTrack(ctx, t, f1)
	defer stdin.Close()
	value := uint32(4242)
	notify := func(c *Conn, n int) {
		t.Helper()
		for range n {
			if err := c.SendEvent(cmapNotifyU32(tk.inst, "needle.test", 2, value+1, value)); err != nil {
				t.Fatal(err)
			}
			value++
		}
	}
	printed := func(v uint32) {
		t.Helper()
		want := "= " + itoa(v) + "\n"
		for !strings.Contains(tout.String(), want) {
			if ctx.Err() != nil {
				t.Fatalf("cmapctl -t did not print %d: %q", v, tout.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	notify(tk.c, 2)
	printed(value)

	if err := s1.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	notify(tk.c, 2) // events on a paused server
	printed(value)
	get := exec.CommandContext(ctx, cmapctlBin, "-g", "needle.test")
	var gout syncBuffer
	get.Stdout, get.Stderr = &gout, &gout
	if err := get.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // into the backlog, waiting for its connection response
	parked, err := s1.Handover()
	if err != nil || len(parked) != 1 {
		t.Fatalf("Handover: %d parked, %v", len(parked), err)
	}
	stop1()

	f2 := &fakeCmap{key: "needle.test", value: 4343}
	s2, err := Listen(Config{Service: "cmap", Transport: tr, Dir: dir, Inherited: kept, Adopt: carry(t, parked)}, f2)
	if err != nil {
		t.Fatal(err)
	}
	adopted := s2.Adopted()
	if len(adopted) != 1 || adopted[0].ID() != tk.c.ID() {
		t.Fatalf("adopted %d connections", len(adopted))
	}
	stop2 := serve(s2)
	if err := get.Wait(); err != nil || gout.String() != "needle.test (u32) = 4343\n" {
		t.Fatalf("cmapctl -g that waited across the handover: %v: %q", err, gout.String())
	}
	notify(adopted[0], 2)
	printed(value)
	stop2()
	err = trk.Wait()
	want := "Type \"q\" to finish\n"
	for v := uint32(4243); v <= value; v++ {
		want += "modify> needle.test (u32) = " + itoa(v) + "\n"
	}
	want += "Dispatch error CS_ERR_LIBRARY\n"
	if ctx.Err() != nil || tout.String() != want {
		t.Fatalf("cmapctl -t across the handover, then server 2 closed: %v: %q, want %q", err, tout.String(), want)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind in %s: %v", dir, ents)
	}
}

func itoa(v uint32) string { return strconv.FormatUint(uint64(v), 10) }
