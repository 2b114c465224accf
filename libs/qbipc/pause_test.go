package qbipc

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// TestHandoverKeepsFlowControl: the successor keeps the level its
// predecessor set (the client still refuses to send), and its count.
func TestHandoverKeepsFlowControl(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			ctx := testCtx(t)
			h1 := newHandoverHandler()
			s1 := startServer(t, tr, h1, nil)
			kept, err := s1.Files()
			if err != nil {
				t.Fatal(err)
			}
			// No request before the handover: in socket mode neither the
			// request nor the event socket is connected to the client yet.
			c := dial(t, s1.service)
			waitFor(t, "the connection", func() bool { return len(s1.Conns()) == 1 })
			if err := h1.only(t).SetFlowControl(1); err != nil {
				t.Fatal(err)
			}
			if err := s1.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			parked, err := s1.Handover()
			if err != nil || len(parked) != 1 {
				t.Fatalf("Handover: %d %v", len(parked), err)
			}
			if tr == Socket && (parked[0].tr.reqConnected || parked[0].tr.evConnected) {
				t.Fatalf("parked %+v: sockets connected already", parked[0].tr)
			}
			s2 := startServerThen(t, tr, newHandoverHandler(), func(cfg *Config) {
				cfg.Service, cfg.Inherited, cfg.Adopt = s1.service, kept, carry(t, parked)
			}, func(s *Server) { s.h.(*handoverHandler).restore(s.Adopted()) })
			conn2 := s2.h.(*handoverHandler).only(t)
			if st := conn2.Stats(); st.FlowControl != 1 || st.FlowControlCount != 1 {
				t.Fatalf("adopted stats %+v, want flow control 1, counted once", st)
			}
			if _, err := c.Request(ctx, echoReq(nil)); !errors.Is(err, ErrTryAgain) {
				t.Fatalf("request under flow control: %v", err)
			}
			if err := conn2.SetFlowControl(0); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Request(ctx, echoReq([]byte("open"))); err != nil {
				t.Fatalf("request after flow control lifted: %v", err)
			}
			if err := conn2.SendEvent(numberedEvent(7, 4)); err != nil {
				t.Fatal(err)
			}
			if ev, err := c.ReadEvent(ctx); err != nil || le.Uint32(ev[RespHeaderSize:]) != 7 {
				t.Fatalf("event from server 2: %v", err)
			}
		})
	}
}

// TestCloseAfterPause: a paused server that is closed disconnects its
// clients as usual, the one waiting for an answer included, runs
// Disconnect and removes the files.
func TestCloseAfterPause(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			ctx := testCtx(t)
			h := newHandoverHandler()
			s := startServer(t, tr, h, nil)
			c := dial(t, s.service)
			if _, err := c.Request(ctx, echoReq(nil)); err != nil {
				t.Fatal(err)
			}
			if err := s.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Pause(ctx); err != nil {
				t.Fatalf("second Pause: %v", err)
			}
			pending := make(chan error, 1)
			go func() {
				_, err := c.Request(ctx, echoReq(nil))
				pending <- err
			}()
			time.Sleep(20 * time.Millisecond)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if err := <-pending; !errors.Is(err, ErrDisconnected) {
				t.Fatalf("request pending at Close: %v", err)
			}
			if _, err := c.ReadEvent(ctx); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("ReadEvent after Close: %v", err)
			}
			waitDisconnect(t, h.echoHandler)
			waitServe(t, s)
			if tr == Socket {
				c.Close() // in socket mode the client removes its control file
			}
			s.waitEmpty(t)
			if _, err := s.Handover(); err == nil {
				t.Fatal("Handover of a closed server succeeded")
			}
			if err := s.Pause(ctx); err == nil {
				t.Fatal("Pause of a closed server succeeded")
			}
		})
	}
}

// TestHandoverWaitsForRequest: a Pause whose ctx ended leaves a request
// running; Handover waits for it, then hands the connection over.
// Closing the Parked (a handover that did not happen) ends the client's
// connection.
func TestHandoverWaitsForRequest(t *testing.T) {
	ctx := testCtx(t)
	h := newHandoverHandler()
	s := startServer(t, SHM, h, nil)
	if _, err := s.Handover(); err == nil || !strings.Contains(err.Error(), "not paused") {
		t.Fatalf("Handover before Pause: %v", err)
	}
	c := dial(t, s.service)
	if _, err := c.Call(ctx, request(opBlock, ""), CallOptions{NoResponse: true}); err != nil {
		t.Fatal(err)
	}
	<-h.entered
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := s.Pause(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Pause with a request running and a short ctx: %v", err)
	}
	type result struct {
		ps  []*Parked
		err error
	}
	done := make(chan result, 1)
	go func() {
		ps, err := s.Handover()
		done <- result{ps, err}
	}()
	select {
	case r := <-done:
		t.Fatalf("Handover returned (%d, %v) while a request was being handled", len(r.ps), r.err)
	case <-time.After(100 * time.Millisecond):
	}
	h.release <- struct{}{}
	r := <-done
	if r.err != nil || len(r.ps) != 1 || r.ps[0].Stats.Requests != 1 {
		t.Fatalf("Handover: %v, %d parked", r.err, len(r.ps))
	}
	waitServe(t, s)
	if _, err := s.Handover(); err == nil {
		t.Fatal("second Handover succeeded")
	}
	r.ps[0].Close()
	if _, err := c.ReadEvent(ctx); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("ReadEvent after the Parked was closed: %v", err)
	}
	if _, d := h.counts(); d != 0 {
		t.Fatalf("%d Disconnects for a handed-over connection", d)
	}
}

// TestAdoptRefusals: Listen refuses Parked it cannot serve, and ends
// them (their clients see the end, their files go), and it ends a
// connection whose ring a client truncated while serving the others.
func TestAdoptRefusals(t *testing.T) {
	ctx := testCtx(t)
	park := func(t *testing.T, n int) (*testServer, []*Client, []*Parked) {
		s := startServer(t, SHM, newHandoverHandler(), nil)
		var cs []*Client
		for range n {
			c := dial(t, s.service)
			if _, err := c.Request(ctx, echoReq(nil)); err != nil {
				t.Fatal(err)
			}
			cs = append(cs, c)
		}
		if err := s.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		ps, err := s.Handover()
		if err != nil || len(ps) != n {
			t.Fatalf("Handover: %d, %v", len(ps), err)
		}
		return s, cs, carry(t, ps)
	}
	t.Run("another service", func(t *testing.T) {
		s, cs, ps := park(t, 1)
		_, err := Listen(Config{Service: testService(), Dir: s.dir, Adopt: ps}, newHandoverHandler())
		if err == nil || !strings.Contains(err.Error(), "not \"qbipc-test") {
			t.Fatalf("Listen adopting another service's connection: %v", err)
		}
		if _, err := cs[0].ReadEvent(ctx); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("client of the refused connection: %v", err)
		}
		cs[0].Close()
		s.waitEmpty(t)
	})
	t.Run("same ID twice", func(t *testing.T) {
		s, _, ps := park(t, 1)
		twin, err := DecodeParked(ps[0].appendState(nil), fakeFiles(t, SHM))
		if err != nil {
			t.Fatal(err)
		}
		_, err = Listen(Config{Service: s.service, Dir: s.dir, Adopt: []*Parked{ps[0], twin}}, newHandoverHandler())
		if err == nil || !strings.Contains(err.Error(), "given twice") {
			t.Fatalf("Listen adopting one ID twice: %v", err)
		}
	})
	t.Run("truncated ring", func(t *testing.T) {
		s, cs, ps := park(t, 2)
		if err := os.Truncate(ringName(ps[0].tr.dir, "response", s.service)+"-data", 100); err != nil {
			t.Fatal(err)
		}
		s2 := startServerThen(t, SHM, newHandoverHandler(), func(cfg *Config) {
			cfg.Service, cfg.Adopt = s.service, ps
		}, func(srv *Server) { srv.h.(*handoverHandler).restore(srv.Adopted()) })
		if a := s2.Adopted(); len(a) != 1 || a[0].ID() != ps[1].ID {
			t.Fatalf("adopted %d connections, want only %d", len(a), ps[1].ID)
		}
		if _, err := cs[0].ReadEvent(ctx); !errors.Is(err, ErrDisconnected) {
			t.Fatalf("client whose ring was truncated: %v", err)
		}
		if _, err := cs[1].Request(ctx, echoReq(nil)); err != nil {
			t.Fatalf("the other client: %v", err)
		}
	})
}

// TestHandoverTwice: an adopted connection is handed over again, here
// without Encode (a Parked given straight to Config.Adopt, as within one
// process), from a server that never served it and from one that did.
func TestHandoverTwice(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s1 := startServer(t, tr, newHandoverHandler(), nil)
			kept, err := s1.Files()
			if err != nil {
				t.Fatal(err)
			}
			c := dial(t, s1.service)
			if _, err := c.Request(ctx, eventsReq(2, 8)); err != nil {
				t.Fatal(err)
			}
			hop := func(from *Server, carried bool) *testServer {
				t.Helper()
				if err := from.Pause(ctx); err != nil {
					t.Fatal(err)
				}
				ps, err := from.Handover()
				if err != nil || len(ps) != 1 {
					t.Fatalf("Handover: %d, %v", len(ps), err)
				}
				if carried {
					ps = carry(t, ps)
				}
				return startServerThen(t, tr, newHandoverHandler(), func(cfg *Config) {
					cfg.Service, cfg.Inherited, cfg.Adopt = s1.service, kept, ps
				}, func(s *Server) { s.h.(*handoverHandler).restore(s.Adopted()) })
			}
			// Server 2 hands over before it serves: the adopted connection
			// was never started.
			if err := s1.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			ps, err := s1.Handover()
			if err != nil || len(ps) != 1 {
				t.Fatalf("Handover: %d, %v", len(ps), err)
			}
			s2, err := Listen(Config{Service: s1.service, Transport: tr, Dir: s1.dir, Inherited: kept, Adopt: carry(t, ps)}, newHandoverHandler())
			if err != nil {
				t.Fatal(err)
			}
			if kept, err = s2.Files(); err != nil {
				t.Fatal(err)
			}
			if err := s2.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			ps, err = s2.Handover()
			if err != nil || len(ps) != 1 || ps[0].Stats.EventsQueued+int(ps[0].Stats.Events) != 2 {
				t.Fatalf("Handover of a server that never served: %d, %v", len(ps), err)
			}
			s3 := startServerThen(t, tr, newHandoverHandler(), func(cfg *Config) {
				cfg.Service, cfg.Inherited, cfg.Adopt = s1.service, kept, ps
			}, func(s *Server) { s.h.(*handoverHandler).restore(s.Adopted()) })
			kept, err = s3.Files()
			if err != nil {
				t.Fatal(err)
			}
			if resp, err := c.Request(ctx, echoReq([]byte("s3"))); err != nil || !strings.Contains(string(resp), "s3") {
				t.Fatalf("request to server 3: %q %v", resp, err)
			}
			s4 := hop(s3.Server, false)
			h4 := s4.h.(*handoverHandler)
			if resp, err := c.Request(ctx, eventsReq(2, 8)); err != nil || len(resp) != RespHeaderSize {
				t.Fatalf("request to server 4: %v", err)
			}
			for i := range 4 { // two from server 1, two from server 4
				if ev, err := c.ReadEvent(ctx); err != nil || le.Uint32(ev[RespHeaderSize:]) != uint32(i%2) {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			if st := h4.only(t).Stats(); st.Requests != 3 || st.Events != 4 {
				t.Fatalf("stats after two handovers %+v", st)
			}
			c.Close()
			waitDisconnect(t, h4.echoHandler)
			s1.waitEmpty(t)
		})
	}
}

// TestCloseAdoptedBeforeServe: a server closed before it served its
// adopted connections ends them as usual, Disconnect included.
func TestCloseAdoptedBeforeServe(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			ctx := testCtx(t)
			s1 := startServer(t, tr, newHandoverHandler(), nil)
			c := dial(t, s1.service)
			if _, err := c.Request(ctx, echoReq(nil)); err != nil {
				t.Fatal(err)
			}
			if err := s1.Pause(ctx); err != nil {
				t.Fatal(err)
			}
			ps, err := s1.Handover()
			if err != nil || len(ps) != 1 {
				t.Fatalf("Handover: %d, %v", len(ps), err)
			}
			h := newHandoverHandler()
			s2, err := Listen(Config{Service: s1.service, Transport: tr, Dir: s1.dir, Adopt: carry(t, ps)}, h)
			if err != nil {
				t.Fatal(err)
			}
			h.restore(s2.Adopted())
			if n, _ := h.counts(); n != 0 {
				t.Fatalf("Connect called %d times for adopted connections", n)
			}
			s2.Close()
			if id := waitDisconnect(t, h.echoHandler); id != ps[0].ID {
				t.Fatalf("Disconnect of %d", id)
			}
			<-s2.Adopted()[0].Done()
			if _, err := c.Request(ctx, echoReq(nil)); !errors.Is(err, ErrDisconnected) {
				t.Fatalf("request after the close: %v", err)
			}
			if err := s2.Serve(ctx); err != nil {
				t.Fatalf("Serve of a closed server: %v", err)
			}
			c.Close()
			s1.waitEmpty(t)
		})
	}
}
