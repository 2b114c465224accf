package qbipc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var svcSeq atomic.Int64

// testService is a service name no real daemon uses.
func testService() string {
	return fmt.Sprintf("qbipc-test-%d-%d", os.Getpid(), svcSeq.Add(1))
}

// Request ids understood by echoHandler.
const (
	opEcho     = 0 // respond with the body
	opEvents   = 1 // body: u32 count, u32 size; respond, then send that many events
	opNoReply  = 2 // no response
	opFail     = 3 // handler error: drop the client
	opLater    = 4 // respond from another goroutine
	opFlowCtl  = 5 // body: i32 level; set flow control, respond
	respEchoID = 100
	eventID    = 200
)

// echoHandler is a small real service for the tests.
type echoHandler struct {
	mu           sync.Mutex
	connected    int
	disconnected int
	conns        map[uint64]*Conn
	refuse       error
	disc         chan uint64
}

func newEchoHandler() *echoHandler {
	return &echoHandler{conns: map[uint64]*Conn{}, disc: make(chan uint64, 1000)}
}

func (h *echoHandler) Connect(c *Conn) error {
	if h.refuse != nil {
		return h.refuse
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.connected++
	h.conns[c.ID()] = c
	c.SetValue(c.ID())
	return nil
}

func (h *echoHandler) Request(c *Conn, msg []byte) ([]byte, error) {
	hd, _ := DecodeReqHeader(msg)
	body := msg[ReqHeaderSize:]
	switch hd.ID {
	case opEcho:
		r := NewResponse(respEchoID, 1, len(body))
		copy(r[RespHeaderSize:], body)
		return r, nil
	case opEvents:
		if len(body) < 8 {
			return nil, errors.New("short events request")
		}
		n, size := int(le.Uint32(body)), int(le.Uint32(body[4:]))
		for i := 0; i < n; i++ {
			ev := NewResponse(eventID, 1, size)
			if size >= 4 {
				le.PutUint32(ev[RespHeaderSize:], uint32(i))
			}
			if err := c.SendEvent(ev); err != nil {
				return nil, err
			}
		}
		return NewResponse(respEchoID, 1, 0), nil
	case opNoReply:
		return nil, nil
	case opFail:
		return nil, errors.New("handler refuses this request")
	case opLater:
		go func() {
			time.Sleep(10 * time.Millisecond)
			c.Respond(NewResponse(respEchoID, 1, 0))
		}()
		return nil, nil
	case opFlowCtl:
		if err := c.SetFlowControl(int32(le.Uint32(body))); err != nil {
			return nil, err
		}
		return NewResponse(respEchoID, 1, 0), nil
	}
	return NewResponse(0, 7, 0), nil // CS_ERR_INVALID_PARAM, as corosync's generic reply
}

func (h *echoHandler) Disconnect(c *Conn) {
	if c.Value() != c.ID() {
		panic("per-connection value lost")
	}
	h.mu.Lock()
	h.disconnected++
	delete(h.conns, c.ID())
	h.mu.Unlock()
	h.disc <- c.ID()
}

func (h *echoHandler) counts() (int, int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.connected, h.disconnected
}

// testServer runs a server for h in its own directory under /dev/shm.
type testServer struct {
	*Server
	service string
	dir     string
	cancel  context.CancelFunc
	done    chan error
}

func startServer(t testing.TB, tr Transport, h Handler, mod func(*Config)) *testServer {
	t.Helper()
	return startServerThen(t, tr, h, mod, nil)
}

// startServerThen is startServer with a step between Listen and Serve
// (a successor restoring its handler's state from Server.Adopted).
func startServerThen(t testing.TB, tr Transport, h Handler, mod func(*Config), beforeServe func(*Server)) *testServer {
	t.Helper()
	dir, err := os.MkdirTemp("/dev/shm", "qbipc-test-")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{Service: testService(), Transport: tr, Dir: dir,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if mod != nil {
		mod(&cfg)
	}
	s, err := Listen(cfg, h)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	if beforeServe != nil {
		beforeServe(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: s, service: cfg.Service, dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		ts.stop(t)
		os.RemoveAll(dir)
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return ts
}

func (ts *testServer) stop(t testing.TB) {
	ts.cancel()
	select {
	case err := <-ts.done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
		ts.done <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop")
	}
}

// leftovers lists what is left in the server's directory.
func (ts *testServer) leftovers(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(ts.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// waitEmpty waits until every per-connection directory is gone.
func (ts *testServer) waitEmpty(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(ts.leftovers(t)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("connection directories left behind: %v", ts.leftovers(t))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func dial(t testing.TB, service string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, service, DialOptions{})
	if err != nil {
		t.Fatalf("Dial %s: %v", service, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func echoReq(body []byte) []byte {
	r := NewRequest(opEcho, len(body))
	copy(r[ReqHeaderSize:], body)
	return r
}

func eventsReq(n, size int) []byte {
	r := NewRequest(opEvents, 8)
	le.PutUint32(r[16:], uint32(n))
	le.PutUint32(r[20:], uint32(size))
	return r
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var transports = []Transport{SHM, Socket}

// waitDisconnect waits for one Handler.Disconnect call.
func waitDisconnect(t testing.TB, h *echoHandler) uint64 {
	t.Helper()
	select {
	case id := <-h.disc:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no Disconnect call")
	}
	return 0
}

// syncBuffer collects server logs for failing tests.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
