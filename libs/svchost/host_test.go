package svchost

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// testService records what the host called, for the test goroutine.
type testService struct {
	mu     sync.Mutex
	events []string
	host   Host
	// onSyncProcess runs inside SyncProcess; its result is returned.
	onSyncProcess func(h Host, r SyncRound) bool
	// onRequest answers libqb requests.
	onRequest func(h Host, c *Client, msg []byte) error
}

func (s *testService) record(f string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf(f, args...))
	s.mu.Unlock()
}

func (s *testService) has(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func (s *testService) Attached(h Host, a Attachment) {
	s.host = h
	s.record("attached %d", a.NodeID)
}
func (s *testService) Detached()                             { s.record("detached") }
func (s *testService) ConfChg(c ipcproto.Conf)               { s.record("confchg %v", c.Members) }
func (s *testService) Deliver(from uint32, p []byte, _ bool) { s.record("deliver %d %x", from, p) }
func (s *testService) SyncInit(r SyncRound)                  { s.record("sync-init %d", r.ID) }
func (s *testService) SyncProcess(r SyncRound) bool {
	s.record("sync-process %d", r.ID)
	if s.onSyncProcess != nil {
		return s.onSyncProcess(s.host, r)
	}
	return true
}
func (s *testService) SyncActivate(r SyncRound) { s.record("sync-activate %d", r.ID) }
func (s *testService) SyncAbort()               { s.record("sync-abort") }
func (s *testService) Connect(c *Client) error {
	s.record("connect %d", c.Conn.Creds().UID)
	return nil
}
func (s *testService) Request(c *Client, msg []byte) error {
	if s.onRequest != nil {
		return s.onRequest(s.host, c, msg)
	}
	return c.Respond(qbipc.NewResponse(0, 0, 0))
}
func (s *testService) Disconnect(c *Client) { s.record("disconnect") }
func (s *testService) CmapReady()           { s.record("cmap-ready") }
func (s *testService) Tick(time.Time)       {}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// rig is a running daemon with the test playing totemd (and cmapd) on a
// temporary bus socket.
type rig struct {
	t    *testing.T
	d    *Daemon
	svc  *testService
	bus  string
	ln   net.Listener
	log  *lockedBuffer
	stop context.CancelFunc
	done chan error
	// attaches are the daemon's attach connections (with their first
	// frame), in order; keeper connections are answered by keeper.
	attaches chan attachConn
	keeper   fakeKeeper
}

type attachConn struct {
	conn  *ipcproto.Conn
	first *ipcproto.Msg
}

// fakeKeeper plays totemd's side of keeper connections: it holds nothing
// at first and records what the daemon hands over.
type fakeKeeper struct {
	mu   sync.Mutex
	held []string
}

func (k *fakeKeeper) names() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.held)
}

func (k *fakeKeeper) serve(conn *ipcproto.Conn) {
	defer conn.Close()
	if err := conn.SendFiles(&ipcproto.Msg{Kind: ipcproto.KindKept}, nil); err != nil {
		return
	}
	m, files, err := conn.RecvFiles()
	if err != nil {
		return
	}
	for _, f := range files {
		f.Close()
	}
	k.mu.Lock()
	k.held = append(k.held, m.Names...)
	k.mu.Unlock()
	_, _ = conn.Recv()
}

func startRig(t *testing.T, svc *testService, opts Options) *rig {
	t.Helper()
	dir := t.TempDir()
	r := &rig{t: t, svc: svc, bus: filepath.Join(dir, "bus.sock"), log: &lockedBuffer{}, done: make(chan error, 1),
		attaches: make(chan attachConn, 16)}
	r.listen()
	lc, err := logsys.Parse(map[string]string{"logging.to_stderr": "yes", "logging.to_syslog": "no", "logging.debug": "on"})
	if err != nil {
		t.Fatal(err)
	}
	logs, err := logsys.Open(lc, logsys.Options{Stderr: r.log, Program: "svctest"})
	if err != nil {
		t.Fatal(err)
	}
	opts.Program = "svctest"
	opts.Service = 7
	opts.Name = "svctest"
	opts.New = func(Config) (Service, error) { return svc, nil }
	shm := qbipc.SHM
	opts.Transport = &shm
	keys := coroconf.Map{"uidgid.config.gid.4242": value.U8(1)}
	if r.d, err = New(opts, Config{Path: "test", Keys: keys, Logs: logs}, r.bus); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.stop = cancel
	go func() { r.done <- r.d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(10 * time.Second):
			t.Error("daemon did not stop")
		}
		r.ln.Close()
		logs.Close()
		if t.Failed() {
			t.Logf("daemon log:\n%s", r.log.String())
		}
	})
	return r
}

func (r *rig) listen() {
	var err error
	if r.ln, err = net.Listen("unix", r.bus); err != nil {
		r.t.Fatal(err)
	}
	go func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conn := ipcproto.NewConn(c)
			m, err := conn.Recv()
			if err != nil {
				conn.Close()
				continue
			}
			if m.Kind == ipcproto.KindKeep {
				go r.keeper.serve(conn)
				continue
			}
			r.attaches <- attachConn{conn, m}
		}
	}(r.ln)
}

// do runs f on the daemon's owner goroutine and waits.
func (r *rig) do(f func()) {
	r.t.Helper()
	ch := make(chan struct{})
	if !r.d.Post(func() { f(); close(ch) }) {
		r.t.Fatal("daemon stopped")
	}
	<-ch
}

// peer is the test's end of one bus connection: it plays totemd.
type peer struct {
	t    *testing.T
	conn *ipcproto.Conn
	msgs chan *ipcproto.Msg
}

// accept takes the daemon's next attach and answers it.
func (r *rig) accept(nodeID uint32) *peer {
	r.t.Helper()
	var a attachConn
	select {
	case a = <-r.attaches:
	case <-time.After(10 * time.Second):
		r.t.Fatal("no attach within 10 s")
	}
	p := &peer{t: r.t, conn: a.conn, msgs: make(chan *ipcproto.Msg, 1024)}
	r.t.Cleanup(func() { p.conn.Close() })
	go func() {
		defer close(p.msgs)
		for {
			m, err := p.conn.Recv()
			if err != nil {
				return
			}
			p.msgs <- m
		}
	}()
	if m := a.first; m.Kind != ipcproto.KindAttach || m.Service != 7 || m.Name != "svctest" {
		r.t.Fatalf("first message %+v, want attach", m)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: nodeID, Ring: &ipcproto.Ring{Rep: 1, Seq: 4}, RingMembers: []uint32{1, 2}, Members: []uint32{1, 2}})
	return p
}

func (p *peer) send(m *ipcproto.Msg) {
	p.t.Helper()
	if err := p.conn.Send(m); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) recv() *ipcproto.Msg {
	p.t.Helper()
	select {
	case m, ok := <-p.msgs:
		if !ok {
			p.t.Fatal("bus connection closed")
		}
		return m
	case <-time.After(5 * time.Second):
		p.t.Fatal("no bus message within 5 s")
	}
	return nil
}

// recvSkipping returns the next message of kind, answering cmap track
// requests with an empty map on the way.
func (p *peer) recvKind(k ipcproto.Kind) *ipcproto.Msg {
	p.t.Helper()
	for {
		m := p.recv()
		if m.Kind == k {
			return m
		}
		if m.Kind == ipcproto.KindRequest && m.Service == cmapService {
			p.answerCmap(m, nil)
		}
	}
}

// answerCmap answers a track request from keys, as cmapd would.
func (p *peer) answerCmap(m *ipcproto.Msg, keys map[string]value.Value) {
	p.t.Helper()
	prefix, err := cmapreq.DecodeTrack(m.Payload)
	if err != nil {
		p.send(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: cs.OK})
		return
	}
	var es []cmapreq.Entry
	for k, v := range keys {
		if strings.HasPrefix(k, prefix) {
			es = append(es, cmapreq.Entry{Key: k, Value: v})
		}
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: m.Service, Status: cs.OK, Payload: cmapreq.TrackReply(cs.OK, es)})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestAttachAndReattachAfterTotemdRestart(t *testing.T) {
	svc := &testService{}
	r := startRig(t, svc, Options{})
	p := r.accept(3)
	waitFor(t, "attached", func() bool { return svc.has("attached 3") == 1 })
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 2, Payload: []byte{1, 2}})
	waitFor(t, "deliver", func() bool { return svc.has("deliver 2 0102") == 1 })

	// totemd goes away and comes back on the same path.
	p.conn.Close()
	r.ln.Close()
	waitFor(t, "detached", func() bool { return svc.has("detached") == 1 })
	var st cs.Error = -1
	r.do(func() { svc.host.Mcast([]byte{9}, func(e cs.Error) { st = e }) })
	r.do(func() {})
	if st != cs.ErrLibrary {
		t.Errorf("multicast while detached: %v, want ErrLibrary", st)
	}
	r.listen()
	r.accept(4)
	waitFor(t, "reattached", func() bool { return svc.has("attached 4") == 1 })
}

// TestTryAgainKeepsOrder: totemd refuses at random (and then everything
// after the refused message until it comes again); the ring gets every
// multicast once, in the order made, and each done runs once with OK.
func TestTryAgainKeepsOrder(t *testing.T) {
	svc := &testService{}
	r := startRig(t, svc, Options{Window: 8})
	p := r.accept(1)
	waitFor(t, "attached", func() bool { return svc.has("attached") == 1 })
	const n = 500
	var dones []int
	r.do(func() {
		for i := range n {
			svc.host.Mcast(binary.BigEndian.AppendUint32(nil, uint32(i)), func(st cs.Error) {
				if st == cs.OK {
					dones = append(dones, i)
				}
			})
		}
		if svc.host.Backlog() != n {
			t.Errorf("backlog %d, want %d", svc.host.Backlog(), n)
		}
	})
	var ring []uint32
	var refused, lastRefused uint64
	for k := 0; len(ring) < n; k++ {
		m := p.recvKind(ipcproto.KindMcast)
		st := cs.OK
		switch {
		case refused != 0 && m.ID != refused:
			st = cs.ErrTryAgain
		case k%7 == 3 && m.ID != lastRefused:
			// Never the same message twice in a row: with 6 others in
			// flight its resend would come back at the same k mod 7
			// and be refused for ever (a livelock of this test's rule).
			st, refused, lastRefused = cs.ErrTryAgain, m.ID, m.ID
		default:
			refused = 0
			ring = append(ring, binary.BigEndian.Uint32(m.Payload))
		}
		p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: st})
	}
	for i, v := range ring {
		if v != uint32(i) {
			t.Fatalf("ring order broken at %d: %v", i, ring[max(0, i-3):i+1])
		}
	}
	waitFor(t, "every done", func() bool {
		var l int
		r.do(func() { l = len(dones) })
		return l == n
	})
	r.do(func() {
		if !slices.IsSorted(dones) || svc.host.Backlog() != 0 {
			t.Errorf("dones out of order or backlog left: %d", svc.host.Backlog())
		}
	})
}

// TestSyncDoneAfterAcceptedMulticasts: a service that multicasts in
// SyncProcess and says done at once is reported done to totemd only
// after the ring accepted those multicasts (here after a TryAgain).
func TestSyncDoneAfterAcceptedMulticasts(t *testing.T) {
	svc := &testService{onSyncProcess: func(h Host, r SyncRound) bool {
		h.Mcast([]byte("a"), nil)
		h.Mcast([]byte("b"), nil)
		return true
	}}
	r := startRig(t, svc, Options{})
	p := r.accept(1)
	ring := &ipcproto.Ring{Rep: 1, Seq: 8}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 5, Ring: ring, Members: []uint32{1, 2}, Trans: []uint32{1}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: 5, Ring: ring})
	a := p.recvKind(ipcproto.KindMcast)
	b := p.recvKind(ipcproto.KindMcast)
	if !a.Sync || !b.Sync {
		t.Fatalf("multicasts of SyncProcess not marked Sync: %+v %+v", a, b)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: a.ID, Status: cs.ErrTryAgain, Sync: true})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: b.ID, Status: cs.ErrTryAgain, Sync: true})
	a2 := p.recvKind(ipcproto.KindMcast)
	if a2.ID != a.ID || string(a2.Payload) != "a" {
		t.Fatalf("resend %+v, want the refused first message", a2)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: a.ID, Status: cs.OK, Sync: true})
	b2 := p.recv()
	if b2.Kind != ipcproto.KindMcast || b2.ID != b.ID {
		t.Fatalf("got %s %d before the second multicast was accepted, want its resend", b2.Kind, b2.ID)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: b.ID, Status: cs.OK, Sync: true})
	done := p.recvKind(ipcproto.KindSyncDone)
	if done.ID != 5 || *done.Ring != *ring {
		t.Fatalf("sync done %+v", done)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: 5, Ring: ring, Members: []uint32{1, 2}})
	waitFor(t, "activate", func() bool { return svc.has("sync-activate 5") == 1 })
	// A round aborted by a detach: SyncAbort, then Detached.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 6, Ring: ring, Members: []uint32{1}})
	waitFor(t, "init", func() bool { return svc.has("sync-init 6") == 1 })
	p.conn.Close()
	waitFor(t, "abort and detach", func() bool { return svc.has("sync-abort") == 1 && svc.has("detached") == 1 })
}

// TestSyncMessagesOvertakeOrdinary: ordinary multicasts queued before a
// round and refused by totemd during it (TryAgain) stay queued; the sync
// messages queued in SyncProcess go out as their own stream (Sync) ahead
// of them, SyncDone waits only for the sync stream, and after the
// activation the ordinary ones are resent in their own order.
func TestSyncMessagesOvertakeOrdinary(t *testing.T) {
	var order []string
	svc := &testService{onSyncProcess: func(h Host, r SyncRound) bool {
		h.Mcast([]byte("s1"), func(cs.Error) { order = append(order, "s1") })
		h.Mcast([]byte("s2"), func(cs.Error) { order = append(order, "s2") })
		return true
	}}
	r := startRig(t, svc, Options{})
	p := r.accept(1)
	ring := &ipcproto.Ring{Rep: 1, Seq: 8}
	waitFor(t, "attached", func() bool { return svc.has("attached") == 1 })
	r.do(func() {
		svc.host.Mcast([]byte("o1"), func(cs.Error) { order = append(order, "o1") })
		svc.host.Mcast([]byte("o2"), func(cs.Error) { order = append(order, "o2") })
	})
	o1 := p.recvKind(ipcproto.KindMcast)
	o2 := p.recvKind(ipcproto.KindMcast)
	if o1.Sync || o2.Sync || string(o1.Payload) != "o1" || string(o2.Payload) != "o2" {
		t.Fatalf("ordinary multicasts %+v %+v", o1, o2)
	}
	// The round begins: totemd refuses both.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 7, Ring: ring, Members: []uint32{1}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: o1.ID, Status: cs.ErrTryAgain})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: o2.ID, Status: cs.ErrTryAgain})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: 7, Ring: ring})
	var syncs []*ipcproto.Msg
	for len(syncs) < 2 {
		m := p.recvKind(ipcproto.KindMcast)
		if m.Sync {
			syncs = append(syncs, m)
			continue
		}
		// A resend of the ordinary stream: refused again during the round.
		p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.ErrTryAgain})
	}
	if string(syncs[0].Payload) != "s1" || string(syncs[1].Payload) != "s2" {
		t.Fatalf("sync messages %q %q, want s1 s2", syncs[0].Payload, syncs[1].Payload)
	}
	for _, m := range syncs {
		p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.OK, Sync: true})
	}
	for {
		m := p.recv()
		if m.Kind == ipcproto.KindSyncDone {
			break
		}
		if m.Kind == ipcproto.KindMcast && !m.Sync {
			p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.ErrTryAgain})
			continue
		}
		t.Fatalf("waiting for sync done: %+v", m)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: 7, Ring: ring, Members: []uint32{1}})
	// After the activation the ordinary stream is accepted, in its order.
	var got []string
	for len(got) < 2 {
		m := p.recvKind(ipcproto.KindMcast)
		if m.Sync {
			t.Fatalf("sync message %q after the round", m.Payload)
		}
		if len(got) == 0 && string(m.Payload) != "o1" {
			p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.ErrTryAgain})
			continue
		}
		got = append(got, string(m.Payload))
		p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.OK})
	}
	if got[0] != "o1" || got[1] != "o2" {
		t.Fatalf("ordinary resends %q, want o1 o2", got)
	}
	var seen []string
	r.do(func() { seen = append(seen, order...) })
	waitFor(t, "done callbacks", func() bool {
		r.do(func() { seen = append(seen[:0], order...) })
		return len(seen) == 4
	})
	if want := []string{"s1", "s2", "o1", "o2"}; !slicesEqual(seen, want) {
		t.Fatalf("accepted in order %q, want %q", seen, want)
	}
}

func slicesEqual(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestCmapMirrorTracksAndRetracks: the host tracks its prefixes (and
// uidgid.) on attach, applies change notifications, writes through cmapd
// and tracks again when cmapd says hello after a restart.
func TestCmapMirrorTracksAndRetracks(t *testing.T) {
	svc := &testService{}
	r := startRig(t, svc, Options{CmapPrefixes: []string{"quorum."}})
	var events [][]string
	r.do(func() {
		if v, ok := r.d.host.Cmap().Get("uidgid.config.gid.4242"); !ok || !v.Equal(value.U8(1)) {
			t.Errorf("file uidgid key not seeded: %v %v", v, ok)
		}
		r.d.host.Cmap().Watch("quorum.", func(ch []string) { events = append(events, ch) })
	})
	p := r.accept(1)
	cmap := map[string]value.Value{"quorum.provider": value.Str("corosync_votequorum"), "uidgid.gid.5": value.U8(1)}
	var prefixes []string
	for range 3 {
		m := p.recvKind(ipcproto.KindRequest)
		pfx, _ := cmapreq.DecodeTrack(m.Payload)
		prefixes = append(prefixes, pfx)
		p.answerCmap(m, cmap)
	}
	slices.Sort(prefixes)
	if !slices.Equal(prefixes, []string{"logging.", "quorum.", "uidgid."}) {
		t.Fatalf("tracked %v", prefixes)
	}
	waitFor(t, "cmap ready", func() bool { return svc.has("cmap-ready") == 1 })
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 1, Service: cmapService, Payload: cmapreq.Changed([]cmapreq.Entry{
		{Key: "quorum.two_node", Value: value.U8(1)}, {Key: "totem.token", Value: value.U32(1)}})})
	if m := p.recvKind(ipcproto.KindResponse); m.ID != 1 || m.Status != cs.OK {
		t.Fatalf("notification answer %+v", m)
	}
	var setSt cs.Error = -1
	r.do(func() {
		if _, ok := r.d.host.Cmap().Get("uidgid.config.gid.4242"); ok {
			t.Error("seeded key survived cmapd's snapshot")
		}
		if _, ok := r.d.host.Cmap().Get("totem.token"); ok {
			t.Error("untracked key mirrored")
		}
		r.d.host.Cmap().Set("quorum.expected_votes", value.U32(3), func(st cs.Error) { setSt = st })
	})
	m := p.recvKind(ipcproto.KindRequest)
	req, err := cmapwire.DecodeRequest(m.Payload)
	if s, ok := req.(cmapwire.Set); err != nil || !ok || s.Key != "quorum.expected_votes" || m.Service != cmapService {
		t.Fatalf("write %+v %v", req, err)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: cmapService, Status: cs.OK})
	waitFor(t, "set done", func() bool { var s cs.Error; r.do(func() { s = setSt }); return s == cs.OK })

	// cmapd restarted with other contents: hello, then a new snapshot.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 2, Service: cmapService, Payload: cmapreq.Hello()})
	cmap = map[string]value.Value{"quorum.provider": value.Str("corosync_votequorum")}
	for range 3 {
		p.answerCmap(p.recvKind(ipcproto.KindRequest), cmap)
	}
	waitFor(t, "cmap ready again", func() bool { return svc.has("cmap-ready") == 2 })
	waitFor(t, "retrack", func() bool {
		var gone bool
		r.do(func() { _, ok := r.d.host.Cmap().Get("uidgid.gid.5"); gone = !ok && len(events) == 3 })
		return gone
	})
	r.do(func() {
		want := [][]string{{"quorum.provider"}, {"quorum.two_node"}, {"quorum.two_node"}}
		if !slices.EqualFunc(events, want, slices.Equal) {
			t.Errorf("watch events %v, want %v", events, want)
		}
	})
}

// TestLoggingFollowsCmap: a change of logging.* in cmap (a reload) is
// re-applied to the daemon's logs; an invalid one leaves them and says so.
func TestLoggingFollowsCmap(t *testing.T) {
	r := startRig(t, &testService{}, Options{})
	p := r.accept(1)
	cmap := map[string]value.Value{"logging.to_stderr": value.Str("yes"), "logging.to_syslog": value.Str("no"), "logging.debug": value.Str("on")}
	for range 2 {
		p.answerCmap(p.recvKind(ipcproto.KindRequest), cmap)
	}
	r.d.log.Debug("probe-1")
	waitFor(t, "debug line", func() bool { return strings.Contains(r.log.String(), "probe-1") })
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 1, Service: cmapService, Payload: cmapreq.Changed([]cmapreq.Entry{
		{Key: "logging.debug", Value: value.Str("off")}})})
	p.recvKind(ipcproto.KindResponse)
	r.do(func() {})
	r.d.log.Debug("probe-2")
	r.d.log.Info("probe-3")
	waitFor(t, "info line", func() bool { return strings.Contains(r.log.String(), "probe-3") })
	if strings.Contains(r.log.String(), "probe-2") {
		t.Fatal("debug line logged after logging.debug went off")
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 2, Service: cmapService, Payload: cmapreq.Changed([]cmapreq.Entry{
		{Key: "logging.debug", Value: value.Str("maybe")}})})
	p.recvKind(ipcproto.KindResponse)
	waitFor(t, "refusal logged", func() bool { return strings.Contains(r.log.String(), "logging configuration from cmap not applied") })
}
