package qbipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			if c.Transport() != tr {
				t.Fatalf("transport %v, want %v", c.Transport(), tr)
			}
			if c.MaxMsgSize() != DefaultMaxMsgSize {
				t.Fatalf("max_msg_size %d", c.MaxMsgSize())
			}
			// What Pacemaker checks on the client's fd: the server process.
			if sc := c.ServerCreds(); sc.PID != int32(os.Getpid()) || sc.UID != uint32(os.Geteuid()) {
				t.Fatalf("server credentials %v", sc)
			}
			if conn := ts.Conn(ts.Conns()[0].ID()); conn.Creds().PID != int32(os.Getpid()) || conn.Transport() != tr || conn.Service() != ts.service {
				t.Fatalf("server side: %v %v %s", conn.Creds(), conn.Transport(), conn.Service())
			}
			ctx := testCtx(t)
			// Responses are 8 bytes longer than requests: the largest
			// request whose echo still fits is max-8.
			for _, n := range []int{0, 1, 3, 4, 100, 4093, 65536, DefaultMaxMsgSize - ReqHeaderSize - 8} {
				body := bytes.Repeat([]byte{byte(n)}, n)
				for i := range body {
					body[i] = byte(i * 7)
				}
				resp, err := c.Request(ctx, echoReq(body))
				if err != nil {
					t.Fatalf("body %d: %v", n, err)
				}
				h, _ := DecodeRespHeader(resp)
				if h.ID != respEchoID || h.Error != 1 || int(h.Size) != len(resp) {
					t.Fatalf("body %d: header %+v len %d", n, h, len(resp))
				}
				if !bytes.Equal(resp[RespHeaderSize:], body) {
					t.Fatalf("body %d: echo differs", n)
				}
			}
			// A message over the limit is refused locally.
			if _, err := c.Request(ctx, echoReq(make([]byte, DefaultMaxMsgSize))); !errors.Is(err, ErrTooBig) {
				t.Fatalf("oversized request: %v", err)
			}
			// Many small round trips wrap the rings many times.
			for i := 0; i < 3000; i++ {
				body := []byte(fmt.Sprintf("msg %d %s", i, bytes.Repeat([]byte("x"), i%300)))
				resp, err := c.Request(ctx, echoReq(body))
				if err != nil || !bytes.Equal(resp[RespHeaderSize:], body) {
					t.Fatalf("round trip %d: %v", i, err)
				}
			}
			st := ts.Conns()[0].Stats()
			if st.Requests != 3000+8 || st.Responses != st.Requests || st.Events != 0 || st.FlowControl != 0 {
				t.Fatalf("stats %+v", st)
			}
			c.Close()
			waitDisconnect(t, h)
			ts.waitEmpty(t)
			if conn, disc := h.counts(); conn != 1 || disc != 1 {
				t.Fatalf("connect/disconnect calls %d/%d", conn, disc)
			}
		})
	}
}

func TestEvents(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			ctx := testCtx(t)
			// 3000 events of 2 KiB: 6 MiB, several times the event ring,
			// so most wait in the server's queue while we read.
			const n, size = 3000, 2048
			if _, err := c.Request(ctx, eventsReq(n, size)); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i++ {
				ev, err := c.ReadEvent(ctx)
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				h, _ := DecodeRespHeader(ev)
				if h.ID != eventID || len(ev) != RespHeaderSize+size || le.Uint32(ev[RespHeaderSize:]) != uint32(i) {
					t.Fatalf("event %d: %+v len %d seq %d", i, h, len(ev), le.Uint32(ev[RespHeaderSize:]))
				}
			}
			// Events near the size limit.
			big := DefaultMaxMsgSize - RespHeaderSize
			if _, err := c.Request(ctx, eventsReq(3, big)); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				ev, err := c.ReadEvent(ctx)
				if err != nil || len(ev) != DefaultMaxMsgSize || le.Uint32(ev[RespHeaderSize:]) != uint32(i) {
					t.Fatalf("big event %d: %v len %d", i, err, len(ev))
				}
			}
			// An event larger than the client's limit is refused at the source.
			conn := ts.Conns()[0]
			if err := conn.SendEvent(make([]byte, DefaultMaxMsgSize+1)); err == nil {
				t.Fatal("oversized event accepted")
			}
			// ReadEvent honours its context.
			short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
			defer cancel()
			if _, err := c.ReadEvent(short); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("idle ReadEvent: %v", err)
			}
			// Requests still work after the cancelled wait.
			if _, err := c.Request(ctx, echoReq([]byte("after"))); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestConcurrentClients(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			ctx := testCtx(t)
			const clients, rounds = 24, 100
			var wg sync.WaitGroup
			errs := make(chan error, clients)
			for i := 0; i < clients; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					c, err := Dial(ctx, ts.service, DialOptions{})
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					// Each client also reads events concurrently with its requests.
					evDone := make(chan error, 1)
					go func() {
						for j := 0; j < rounds; j++ {
							ev, err := c.ReadEvent(ctx)
							if err != nil {
								evDone <- err
								return
							}
							if le.Uint32(ev[RespHeaderSize:]) != 0 {
								evDone <- fmt.Errorf("client %d event %d out of order", i, j)
								return
							}
						}
						evDone <- nil
					}()
					for j := 0; j < rounds; j++ {
						body := []byte(fmt.Sprintf("client %d round %d", i, j))
						resp, err := c.Request(ctx, echoReq(body))
						if err != nil || !bytes.Equal(resp[RespHeaderSize:], body) {
							errs <- fmt.Errorf("client %d round %d: %v", i, j, err)
							return
						}
						if _, err := c.Request(ctx, eventsReq(1, 64)); err != nil {
							errs <- err
							return
						}
					}
					if err := <-evDone; err != nil {
						errs <- err
					}
				}(i)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for i := 0; i < clients; i++ {
				waitDisconnect(t, h)
			}
			ts.waitEmpty(t)
		})
	}
}

func TestRefused(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			for _, tc := range []struct {
				refuse error
				want   syscall.Errno
			}{
				{Authorize(Creds{UID: 5, GID: 5}, nil), syscall.EACCES},
				{fmt.Errorf("starting up: %w", syscall.EAGAIN), syscall.EAGAIN},
				{errors.New("no reason given"), syscall.EACCES},
			} {
				h := newEchoHandler()
				h.refuse = tc.refuse
				ts := startServer(t, tr, h, nil)
				_, err := Dial(testCtx(t), ts.service, DialOptions{})
				var re *RefusedError
				if !errors.As(err, &re) || re.Errno != tc.want {
					t.Fatalf("refused with %v: got %v", tc.refuse, err)
				}
				if left := ts.leftovers(t); len(left) != 0 {
					t.Fatalf("refusal left %v", left)
				}
			}
			_, err := Dial(testCtx(t), testService(), DialOptions{})
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Fatalf("nobody listening: %v", err)
			}
		})
	}
}

func TestRequestKinds(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			ctx := testCtx(t)
			// Without response: the next request's answer is its own.
			if _, err := c.Call(ctx, NewRequest(opNoReply, 0), CallOptions{NoResponse: true}); err != nil {
				t.Fatal(err)
			}
			// Answered later from another goroutine.
			if r, err := c.Request(ctx, NewRequest(opLater, 0)); err != nil || len(r) != RespHeaderSize {
				t.Fatalf("deferred: %v", err)
			}
			if r, err := c.Request(ctx, echoReq([]byte("next"))); err != nil || string(r[RespHeaderSize:]) != "next" {
				t.Fatalf("after no-reply: %q %v", r, err)
			}
			// Unknown id: the service's generic error, connection stays.
			r, err := c.Request(ctx, NewRequest(99, 0))
			if rh, _ := DecodeRespHeader(r); err != nil || rh.Error != 7 {
				t.Fatalf("unknown id: %+v %v", rh, err)
			}
			// A request abandoned by its context: its late answer is skipped.
			short, cancel := context.WithTimeout(ctx, time.Millisecond)
			_, err = c.Request(short, NewRequest(opLater, 0))
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("abandoned request: %v", err)
			}
			if r, err := c.Request(ctx, echoReq([]byte("in sync"))); err != nil || string(r[RespHeaderSize:]) != "in sync" {
				t.Fatalf("after abandoned request: %q %v", r, err)
			}
		})
	}
}

func TestFlowControl(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			ctx := testCtx(t)
			fc := func(level int32) []byte {
				r := NewRequest(opFlowCtl, 4)
				le.PutUint32(r[16:], uint32(level))
				return r
			}
			if _, err := c.Request(ctx, fc(1)); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Request(ctx, echoReq(nil)); !errors.Is(err, ErrTryAgain) || !errors.Is(err, syscall.EAGAIN) {
				t.Fatalf("under flow control 1: %v", err)
			}
			conn := ts.Conns()[0]
			if err := conn.SetFlowControl(2); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Call(ctx, echoReq(nil), CallOptions{FlowControlMax: 2}); !errors.Is(err, ErrTryAgain) {
				t.Fatalf("cpg-style send under flow control 2: %v", err)
			}
			// A level-1 sender passes at level 2, but the server holds the
			// request until the flag drops.
			go func() {
				time.Sleep(50 * time.Millisecond)
				conn.SetFlowControl(0)
			}()
			if r, err := c.Request(ctx, echoReq([]byte("held"))); err != nil || string(r[RespHeaderSize:]) != "held" {
				t.Fatalf("held request: %q %v", r, err)
			}
			if err := conn.SetFlowControl(3); err == nil {
				t.Fatal("level 3 accepted")
			}
			if st := conn.Stats(); st.FlowControlCount != 1 || st.FlowControl != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

func TestListenNameTaken(t *testing.T) {
	ts := startServer(t, SHM, newEchoHandler(), nil)
	_, err := Listen(Config{Service: ts.service}, newEchoHandler())
	if !errors.Is(err, syscall.EADDRINUSE) || !strings.Contains(err.Error(), "name taken") {
		t.Fatalf("second Listen: %v", err)
	}
	if _, err := Listen(Config{}, newEchoHandler()); err == nil {
		t.Fatal("empty service name accepted")
	}
	if _, err := Listen(Config{Service: strings.Repeat("x", 108)}, newEchoHandler()); err == nil {
		t.Fatal("108-byte service name accepted")
	}
}

func TestNegotiation(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			ts := startServer(t, tr, newEchoHandler(), func(c *Config) { c.MaxMsgSize = 4 << 20 })
			ctx := testCtx(t)
			for _, tc := range []struct{ ask, want int }{
				{12328, DefaultMaxMsgSize}, // below corosync's 1 MiB: raised
				{3 << 20, 3 << 20},
				{64 << 20, 4 << 20}, // above the server's cap: capped
			} {
				c, err := Dial(ctx, ts.service, DialOptions{MaxMsgSize: tc.ask})
				if err != nil {
					t.Fatal(err)
				}
				if c.MaxMsgSize() != tc.want {
					t.Fatalf("asked %d, got %d, want %d", tc.ask, c.MaxMsgSize(), tc.want)
				}
				body := make([]byte, tc.want-ReqHeaderSize-8)
				body[len(body)-1] = 0x5a
				r, err := c.Request(ctx, echoReq(body))
				if err != nil || len(r) != tc.want || r[len(r)-1] != 0x5a {
					t.Fatalf("max-size echo at %d: %v", tc.want, err)
				}
				c.Close()
			}
		})
	}
}

// TestClientClose: closing a client ends its own blocked calls at once and
// the server sees the disconnect.
func TestClientClose(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, nil)
			c := dial(t, ts.service)
			got := make(chan error, 1)
			go func() {
				_, err := c.ReadEvent(context.Background())
				got <- err
			}()
			time.Sleep(20 * time.Millisecond)
			c.Close()
			select {
			case err := <-got:
				if err == nil {
					t.Fatal("ReadEvent returned an event after Close")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ReadEvent still blocked after Close")
			}
			if _, err := c.Request(context.Background(), echoReq(nil)); !errors.Is(err, ErrClosed) {
				t.Fatalf("Request after Close: %v", err)
			}
			waitDisconnect(t, h)
			ts.waitEmpty(t)
		})
	}
}
