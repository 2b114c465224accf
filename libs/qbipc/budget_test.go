package qbipc

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// trackingCmap is the part of cmap that issue 9 (7b) and issue 15 (5)
// exercised: TRACK_ADD registers a tracker, and every SET of a u32 key
// fans a NOTIFY_CALLBACK event out to every tracker (corosync 3.1.7's
// wire shapes, cmap_test.go). A tracker that is gone is skipped, as cmapd
// skips a client whose SendEvent failed.
type trackingCmap struct {
	mu       sync.Mutex
	trackers map[*Conn]uint64 // conn → track instance
	old      uint32
	dropped  chan *Conn
	sendErrs int
}

func newTrackingCmap() *trackingCmap {
	return &trackingCmap{trackers: map[*Conn]uint64{}, dropped: make(chan *Conn, 1000)}
}

func (f *trackingCmap) Connect(*Conn) error { return nil }

func (f *trackingCmap) Disconnect(c *Conn) {
	f.mu.Lock()
	_, was := f.trackers[c]
	delete(f.trackers, c)
	f.mu.Unlock()
	if was {
		f.dropped <- c
	}
}

func (f *trackingCmap) Request(c *Conn, msg []byte) ([]byte, error) {
	h, _ := DecodeReqHeader(msg)
	switch h.ID {
	case cmapReqTrackAdd:
		f.mu.Lock()
		f.trackers[c] = le.Uint64(msg[288:])
		f.mu.Unlock()
		r := NewResponse(cmapReqTrackAdd, csOK, 8)
		le.PutUint64(r[24:], 1)
		return r, nil
	case cmapReqSet:
		v := le.Uint32(msg[296:])
		f.mu.Lock()
		defer f.mu.Unlock()
		for t, inst := range f.trackers {
			if err := t.SendEvent(cmapNotifyU32(inst, getName(msg[16:]), 2, v, f.old)); err != nil {
				if !errors.Is(err, ErrClosed) {
					return nil, err
				}
				f.sendErrs++
			}
		}
		f.old = v
		return NewResponse(cmapReqSet, csOK, 0), nil
	}
	return NewResponse(0, csInvalid, 0), nil
}

// slowScenario is one run of the reported scenario: slow trackers that
// add a track and never read, one tracker that keeps up (it reads each
// change before the writer makes the next), and a writer changing a key
// as fast as that allows.
type slowScenario struct {
	tr          Transport
	slow        int
	queueBytes  int // Config.EventQueueBytes
	budgetBytes int // Config.EventBudgetBytes
}

// slowResult is what the scenario observed.
type slowResult struct {
	sets     int    // SETs the writer made before every slow tracker was gone
	peak     int    // largest EventBudget.Used seen after a SET
	peakConn int64  // largest per-connection EventsQueuedBytes seen
	logs     string // the server's log
}

func runSlowScenario(t *testing.T, sc slowScenario) slowResult {
	t.Helper()
	h := newTrackingCmap()
	logs := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	ts := startServer(t, sc.tr, h, func(c *Config) {
		c.EventQueueBytes = sc.queueBytes
		c.EventBudgetBytes = sc.budgetBytes
		c.Logger = slogTo(logs)
	})
	ctx := testCtx(t)
	track := func(c *Client) {
		t.Helper()
		if _, err := c.Request(ctx, cmapTrackAdd("test.", 4, 7)); err != nil {
			t.Fatal(err)
		}
	}
	slow := map[uint64]bool{}
	for i := 0; i < sc.slow; i++ {
		track(dial(t, ts.service)) // and never read an event
	}
	for _, c := range ts.Conns() {
		slow[c.ID()] = true
	}
	reader := dial(t, ts.service)
	track(reader)

	writer := dial(t, ts.service)
	budget := ts.EventBudget()
	var r slowResult
	gone := 0
	for gone < sc.slow {
		r.sets++
		if r.sets > 2_000_000 {
			t.Fatalf("%d slow trackers still connected after %d SETs", sc.slow-gone, r.sets)
		}
		if _, err := writer.Request(ctx, cmapSetU32("test.key", uint32(r.sets))); err != nil {
			t.Fatalf("writer's SET %d: %v", r.sets, err)
		}
		// The reader keeps up: it takes each change before the next.
		ev, err := reader.ReadEvent(ctx)
		if err != nil {
			t.Fatalf("reader, event %d: %v", r.sets, err)
		}
		if v := le.Uint32(ev[336:]); v != uint32(r.sets) {
			t.Fatalf("reader: event for value %d, want %d", v, r.sets)
		}
		r.peak = max(r.peak, budget.Used())
		for _, c := range ts.Conns() {
			r.peakConn = max(r.peakConn, c.Stats().EventsQueuedBytes)
		}
		for drained := false; !drained; {
			select {
			case c := <-h.dropped:
				if !slow[c.ID()] {
					t.Fatalf("conn %d dropped, but it reads its events", c.ID())
				}
				gone++
			default:
				drained = true
			}
		}
	}
	if len(ts.Conns()) != 2 {
		t.Fatalf("%d connections left, want the reader and the writer", len(ts.Conns()))
	}
	r.logs = logs.String()
	return r
}

// dropLines returns the server's "dropping client" warnings.
func dropLines(logs string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "dropping client") {
			out = append(out, l)
		}
	}
	return out
}

// namesClient: a drop warning names the service, the client's pid, uid,
// gid and process name.
var namesClient = regexp.MustCompile(`service=qbipc-test-\S+ conn=\d+ pid=\d+ uid=0 gid=0 .*comm=\S+`)

// TestTrackersThatNeverRead is issue 9 part 7b: four cmap clients add a
// track and never read their events while another client changes keys
// as fast as it can. Each slow tracker's queue stops at the
// per-connection limit, where the client is dropped with a warning
// naming it; the writer and a tracker that reads are unaffected.
func TestTrackersThatNeverRead(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			const perConn = 256 << 10
			r := runSlowScenario(t, slowScenario{tr: tr, slow: 4, queueBytes: perConn, budgetBytes: 64 << 20})
			t.Logf("%d SETs; peak queued %d bytes in all, %d in one connection", r.sets, r.peak, r.peakConn)
			if r.peakConn > perConn {
				t.Errorf("a connection held %d queued bytes, limit %d", r.peakConn, perConn)
			}
			if r.peak > 5*perConn { // four slow trackers and the reader, each under its limit
				t.Errorf("%d bytes queued in all, more than the five trackers' limits", r.peak)
			}
			lines := dropLines(r.logs)
			if len(lines) != 4 {
				t.Fatalf("%d drop warnings, want 4:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if !strings.Contains(l, "per-connection limit") || !namesClient.MatchString(l) {
					t.Errorf("drop warning does not say why or whom: %s", l)
				}
			}
		})
	}
}

// TestManySlowClients is issue 15 point 5: forty slow trackers at once,
// each under its own limit (set above the budget here, so that only the
// budget binds), together over the server's event budget. The total never
// passes the budget; the clients holding the most are dropped one by one,
// each with a warning naming it; the reader keeps every event.
func TestManySlowClients(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			const perConn, budget = 4 << 20, 2 << 20
			r := runSlowScenario(t, slowScenario{tr: tr, slow: 40, queueBytes: perConn, budgetBytes: budget})
			t.Logf("%d SETs; peak queued %d bytes in all, %d in one connection", r.sets, r.peak, r.peakConn)
			if r.peak > budget {
				t.Errorf("%d bytes queued in all, budget %d", r.peak, budget)
			}
			lines := dropLines(r.logs)
			if len(lines) != 40 {
				t.Fatalf("%d drop warnings, want 40:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			for _, l := range lines {
				if !strings.Contains(l, "event budget is exhausted") || !namesClient.MatchString(l) {
					t.Errorf("drop warning does not say why or whom: %s", l)
				}
			}
		})
	}
}

// TestSharedEventBudget: two Servers given one EventBudget draw on it
// together, and a slow client of one is dropped to make room for an
// event to a client of the other.
func TestSharedEventBudget(t *testing.T) {
	shared := NewEventBudget(256 << 10)
	var servers [2]*testServer
	var handlers [2]*trackingCmap
	for i := range servers {
		handlers[i] = newTrackingCmap()
		servers[i] = startServer(t, Socket, handlers[i], func(c *Config) { c.EventBudget = shared })
		if servers[i].EventBudget() != shared {
			t.Fatal("server does not use the shared budget")
		}
	}
	ctx := testCtx(t)
	slow := dial(t, servers[0].service)
	if _, err := slow.Request(ctx, cmapTrackAdd("test.", 4, 1)); err != nil {
		t.Fatal(err)
	}
	// Fill the budget through server 0 alone, until one more event does
	// not fit.
	w0 := dial(t, servers[0].service)
	cost := int(eventCost(cmapNotifyU32(1, "test.k", 2, 1, 1)))
	for shared.Used()+cost <= shared.Limit() {
		if _, err := w0.Request(ctx, cmapSetU32("test.k", 1)); err != nil {
			t.Fatal(err)
		}
	}
	// An event for a client of server 1 needs room: server 0's slow
	// tracker, the only one holding any, goes.
	other := dial(t, servers[1].service)
	if _, err := other.Request(ctx, cmapTrackAdd("test.", 4, 2)); err != nil {
		t.Fatal(err)
	}
	w1 := dial(t, servers[1].service)
	if _, err := w1.Request(ctx, cmapSetU32("test.k", 2)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.ReadEvent(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-handlers[0].dropped:
	case <-ctx.Done():
		t.Fatalf("the slow client of server 0 was not dropped (budget %d of %d used)", shared.Used(), shared.Limit())
	}
	if len(handlers[1].dropped) != 0 {
		t.Fatal("server 1 dropped a client")
	}
}

// TestBudgetAccountingReturnsToZero: once every client is gone, nothing
// is accounted, whichever way the clients went (read, closed, dropped).
func TestBudgetAccountingReturnsToZero(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.String(), func(t *testing.T) {
			h := newEchoHandler()
			ts := startServer(t, tr, h, func(c *Config) { c.EventQueueBytes = 512 << 10 })
			ctx := testCtx(t)
			a, b := dial(t, ts.service), dial(t, ts.service)
			a.Request(ctx, eventsReq(100, 2048))  // stays queued, then a closes
			b.Request(ctx, eventsReq(1000, 2048)) // over the limit: dropped
			a.Close()
			waitDisconnect(t, h)
			waitDisconnect(t, h)
			if used := ts.EventBudget().Used(); used != 0 {
				t.Fatalf("%d bytes still accounted with no client", used)
			}
		})
	}
}

// The accounting of one event: its buffer's capacity plus the overhead.
func TestEventCost(t *testing.T) {
	if got := eventCost(make([]byte, 100, 4096)); got != 4096+eventOverhead {
		t.Fatalf("cost %d", got)
	}
	b := NewEventBudget(1000)
	if !b.reserve(1000) || b.reserve(1) {
		t.Fatal("reserve ignores the limit")
	}
	b.release(1000)
	defer func() {
		if recover() == nil {
			t.Fatal("releasing more than was reserved did not panic")
		}
	}()
	b.release(1)
}

func slogTo(w *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestEventLargerThanTheBudget: an event that cannot fit even an empty
// budget ends its client's connection (it would never be delivered), with
// a warning; it is not silently skipped.
func TestEventLargerThanTheBudget(t *testing.T) {
	h := newEchoHandler()
	logs := &syncBuffer{}
	ts := startServer(t, Socket, h, func(c *Config) { c.EventBudgetBytes = 4096; c.Logger = slogTo(logs) })
	c := dial(t, ts.service)
	c.Request(testCtx(t), eventsReq(1, 8192))
	waitDisconnect(t, h)
	if !strings.Contains(logs.String(), "its event does not fit the event budget") {
		t.Fatalf("no warning:\n%s", logs.String())
	}
	if used := ts.EventBudget().Used(); used != 0 {
		t.Fatalf("%d bytes accounted", used)
	}
}

// TestBudgetDropsTheStalledClientFirst: when the budget is full, the
// client that has gone longest without reading goes first, even if a
// client receiving a burst right now holds more; that one keeps every
// event.
func TestBudgetDropsTheStalledClientFirst(t *testing.T) {
	h := newEchoHandler()
	logs := &syncBuffer{}
	ts := startServer(t, SHM, h, func(c *Config) { c.EventBudgetBytes = 3 << 20; c.Logger = slogTo(logs) })
	ctx := testCtx(t)
	stalled, burst := dial(t, ts.service), dial(t, ts.service)
	if _, err := stalled.Request(ctx, eventsReq(1200, 2048)); err != nil { // more than its ring holds
		t.Fatal(err)
	}
	sc := ts.Conns()[0]
	for _, c := range ts.Conns() {
		if c.ID() < sc.ID() { // the stalled client connected first
			sc = c
		}
	}
	// Wait until its ring is full (the server has retried an event):
	// from then on its queue waits for a client that does not read.
	for sc.Stats().SendRetries == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the stalled client's ring never filled: %+v", sc.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	st := sc.Stats()
	if st.EventsQueuedBytes == 0 {
		t.Fatal("nothing queued for the stalled client")
	}
	// The burst fits the budget alone even if none of it has reached the
	// client's ring yet, but not beside the stalled client's queue once
	// a ring's worth (as many events as the stalled client's ring took)
	// has: so exactly one client must go, and it must be the stalled one.
	cost := int(eventCost(NewResponse(eventID, 1, 2048)))
	budget := ts.EventBudget().Limit()
	n := budget / cost
	if (n-int(st.Events))*cost <= budget-int(st.EventsQueuedBytes) {
		t.Fatalf("calibration: %d burst events, ring of %d, stalled queue %d bytes, budget %d", n, st.Events, st.EventsQueuedBytes, budget)
	}
	if _, err := burst.Request(ctx, eventsReq(n, 2048)); err != nil {
		t.Fatal(err)
	}
	if id := waitDisconnect(t, h); id != sc.ID() {
		t.Fatalf("conn %d dropped, want the stalled conn %d", id, sc.ID())
	}
	var bc *Conn
	for _, c := range ts.Conns() {
		bc = c
	}
	held := bc.Stats().EventsQueuedBytes
	m := regexp.MustCompile(`budget is exhausted.* queued_bytes=(\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no budget drop logged:\n%s", logs.String())
	}
	var stalledHeld int64
	fmt.Sscan(m[1], &stalledHeld)
	if stalledHeld >= held {
		t.Fatalf("stalled client held %d bytes, the burst's %d: this does not show the order", stalledHeld, held)
	}
	for i := 0; i < n; i++ {
		ev, err := burst.ReadEvent(ctx)
		if err != nil {
			t.Fatalf("burst event %d: %v", i, err)
		}
		if v := le.Uint32(ev[RespHeaderSize:]); v != uint32(i) {
			t.Fatalf("burst event %d carries %d", i, v)
		}
	}
}
