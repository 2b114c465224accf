package qbipc

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHandover is a daemon handing its live client to its successor. The
// client had a request answered; server 1 queued more events than its
// channel holds, none of them read; the client sent requests while server
// 1 was busy (one is taken, its notification byte read with the others'
// in shm mode, so that server 1 holds credits) and Pause waits for it;
// server 1 goes on sending events while paused; then it hands over. The
// state travels as a separate process would receive it (Encode, files
// over SCM_RIGHTS, DecodeParked) to server 2, which serves on server 1's
// kept sockets: the client gets every event in order, its unread
// requests are handled by server 2 and the waiting one answered, it goes
// on working, and when it leaves server 2's Disconnect runs once and
// every file is gone. Server 1's handler never sees a Disconnect.
func TestHandover(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) { testHandover(t, tr) })
	}
}

func testHandover(t *testing.T, tr Transport) {
	ctx := testCtx(t)
	h1 := newHandoverHandler()
	s1 := startServer(t, tr, h1, nil)
	kept, err := s1.Files()
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s1.service)
	if resp, err := c.Request(ctx, echoReq([]byte("first"))); err != nil || !strings.Contains(string(resp), "first") {
		t.Fatalf("first request: %q %v", resp, err)
	}
	conn1 := h1.only(t)
	if tr == SHM {
		// A small send buffer on the setup socket, so that notification
		// bytes back up too: server 1 then owes some when it parks.
		rc, _ := conn1.setup.SyscallConn()
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 1) })
	}

	// More events than the client's channel holds; it reads none yet.
	// Small ones: an shm ring holds some 32,000, far more notification
	// bytes than the setup socket takes.
	const evBody = 4
	sent := 0
	send := func(cn *Conn, n int) {
		t.Helper()
		for range n {
			if err := cn.SendEvent(numberedEvent(sent, evBody)); err != nil {
				t.Fatalf("event %d: %v", sent, err)
			}
			sent++
		}
	}
	send(conn1, 40000)
	waitFor(t, "the client's channel to fill", func() bool {
		st := conn1.Stats()
		return st.SendRetries > 0 && st.EventsQueued > 0
	})

	// R0 keeps server 1 busy while R1, R2 and R3 arrive behind it.
	if _, err := c.Call(ctx, request(opBlock, "R0"), CallOptions{NoResponse: true}); err != nil {
		t.Fatal(err)
	}
	<-h1.entered
	for _, r := range []string{"R1", "R2"} {
		op := int32(opBlock)
		if r == "R2" {
			op = opMark
		}
		if _, err := c.Call(ctx, request(op, r), CallOptions{NoResponse: true}); err != nil {
			t.Fatal(err)
		}
	}
	pending := make(chan error, 1)
	go func() {
		resp, err := c.Request(ctx, echoReq([]byte("R3")))
		if err == nil && !strings.Contains(string(resp), "R3") {
			err = fmt.Errorf("answer %q", resp)
		}
		pending <- err
	}()
	h1.release <- struct{}{} // R0 done; server 1 takes R1, which blocks
	<-h1.entered

	paused := make(chan error, 1)
	go func() { paused <- s1.Pause(ctx) }()
	select {
	case err := <-paused:
		t.Fatalf("Pause returned (%v) while a request was being handled", err)
	case <-time.After(100 * time.Millisecond):
	}
	send(conn1, 20) // events keep working on a pausing server
	h1.release <- struct{}{}
	if err := <-paused; err != nil {
		t.Fatalf("Pause: %v", err)
	}
	send(conn1, 20) // and on a paused one
	select {
	case err := <-pending:
		t.Fatalf("R3 answered by the paused server: %v", err)
	case <-time.After(50 * time.Millisecond):
	}

	parked, err := s1.Handover()
	if err != nil || len(parked) != 1 {
		t.Fatalf("Handover: %d parked, %v", len(parked), err)
	}
	p := parked[0]
	st := p.Stats
	if p.ID != conn1.ID() || p.Transport != tr || p.Creds != conn1.Creds() || p.MaxMsg != conn1.MaxMsgSize() {
		t.Fatalf("parked %+v, connection %d %v %v", p, conn1.ID(), conn1.Creds(), tr)
	}
	if st.Requests != 3 || st.Responses != 1 || st.EventsQueued == 0 || st.Events+uint64(st.EventsQueued) != uint64(sent) {
		t.Fatalf("parked stats %+v after %d events", st, sent)
	}
	t.Logf("parked: %+v transport %+v, %d events queued", st, p.tr, len(p.events))
	if tr == SHM && (p.tr.credits == 0 || p.tr.owed == 0) {
		t.Errorf("notification credits %d, owed %d parked: the test did not exercise both", p.tr.credits, p.tr.owed)
	}
	waitServe(t, s1)
	ownFiles := map[Transport]int{SHM: 6, Socket: 1} // the Parked's ring or control files, nothing else
	if n := fdsUnder(t, s1.dir); n != ownFiles[tr] {
		t.Fatalf("%d descriptors of the connection's files open after Handover", n)
	}
	if err := conn1.SendEvent(numberedEvent(0, 8)); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendEvent on a handed-over connection: %v", err)
	}
	<-conn1.Done()

	adopt := carry(t, parked)
	var budgetAtListen int
	s2 := startServerThen(t, tr, newHandoverHandler(), func(cfg *Config) {
		cfg.Service, cfg.Inherited, cfg.Adopt = s1.service, kept, adopt
	}, func(s *Server) {
		budgetAtListen = s.EventBudget().Used()
		s.h.(*handoverHandler).restore(s.Adopted())
	})
	h2 := s2.h.(*handoverHandler)
	if n := fdsUnder(t, s1.dir); n != 0 {
		t.Fatalf("%d descriptors of the connection's files left open once adopted", n)
	}
	if want := int(adopt[0].Stats.EventsQueuedBytes); budgetAtListen != want || want == 0 {
		t.Fatalf("server 2's budget holds %d bytes after Listen, want the queued events' %d", budgetAtListen, want)
	}
	conn2 := h2.only(t)
	if conn2.ID() != p.ID {
		t.Fatalf("adopted as connection %d, want %d", conn2.ID(), p.ID)
	}
	send(conn2, 10)

	for i := 0; i < sent; i++ {
		ev, err := c.ReadEvent(ctx)
		if err != nil {
			t.Fatalf("event %d of %d: %v", i, sent, err)
		}
		if n := le.Uint32(ev[RespHeaderSize:]); n != uint32(i) || len(ev) != RespHeaderSize+evBody {
			t.Fatalf("event %d: got number %d, %d bytes", i, n, len(ev))
		}
	}
	if err := <-pending; err != nil {
		t.Fatalf("R3, waiting across the handover: %v", err)
	}
	if m := h2.recorded(); len(m) != 1 || m[0] != "R2" {
		t.Fatalf("server 2 handled marks %q, want [R2]", m)
	}
	if m := h1.recorded(); len(m) != 0 {
		t.Fatalf("server 1 handled marks %q", m)
	}
	// It goes on working: a request, events from a request.
	if resp, err := c.Request(ctx, eventsReq(3, 8)); err != nil || len(resp) != RespHeaderSize {
		t.Fatalf("events request to server 2: %q %v", resp, err)
	}
	for i := range 3 {
		if ev, err := c.ReadEvent(ctx); err != nil || le.Uint32(ev[RespHeaderSize:]) != uint32(i) {
			t.Fatalf("event %d from server 2's handler: %v", i, err)
		}
	}
	st2 := conn2.Stats()
	if st2.Requests != st.Requests+3 || st2.Responses != st.Responses+2 || st2.Events != uint64(sent)+3 {
		t.Fatalf("stats after the handover %+v, before %+v", st2, st)
	}
	waitFor(t, "server 2's budget to empty", func() bool { return s2.EventBudget().Used() == 0 })
	// A new client of server 2 gets an ID above the adopted one.
	if other := dial(t, s1.service); other != nil {
		if _, err := other.Request(ctx, echoReq(nil)); err != nil {
			t.Fatal(err)
		}
		for _, cn := range s2.Conns() {
			if cn != conn2 && cn.ID() <= p.ID {
				t.Fatalf("new connection got ID %d, adopted one has %d", cn.ID(), p.ID)
			}
		}
	}

	c.Close()
	if id := waitDisconnect(t, h2.echoHandler); id != p.ID {
		t.Fatalf("Disconnect of %d, want %d", id, p.ID)
	}
	s1.waitEmpty(t) // the connection's directory was server 1's
	if _, d := h1.counts(); d != 0 {
		t.Fatalf("server 1's handler saw %d Disconnects", d)
	}
	select {
	case id := <-h2.disc:
		t.Fatalf("second Disconnect (%d)", id)
	case <-time.After(50 * time.Millisecond):
	}
}

// waitServe checks that Serve returned nil, and leaves the result for the
// test's cleanup.
func waitServe(t *testing.T, ts *testServer) {
	t.Helper()
	select {
	case err := <-ts.done:
		ts.done <- err
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
