package daemon

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/logsys"
	"github.com/needle-cluster/needle/services/cmapd/client"
	"github.com/needle-cluster/needle/services/cmapd/internal/cfgver"
)

const testConf = `totem {
	version: 2
	cluster_name: unit
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
	node {
		ring0_addr: 127.0.0.2
		nodeid: 2
	}
}
quorum {
	provider: corosync_votequorum
}
logging {
	to_stderr: yes
	to_syslog: no
}
system {
	qb_ipc_type: %IPC%
}
`

// lockedBuffer collects the daemon's log lines.
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

// harness is a running daemon with the test playing totemd on its bus.
type harness struct {
	dir  string
	conf string
	log  *lockedBuffer
	bus  net.Listener
	done chan error
}

func startDaemon(tb testing.TB, ipc string) *harness {
	tb.Helper()
	return startDaemonConf(tb, strings.ReplaceAll(testConf, "%IPC%", ipc))
}

func startDaemonConf(tb testing.TB, conf string) *harness {
	tb.Helper()
	inNamespaces(tb)
	dir := tb.TempDir()
	h := &harness{dir: dir, conf: filepath.Join(dir, "corosync.conf"), log: &lockedBuffer{}, done: make(chan error, 1)}
	h.writeConf(tb, conf)
	var err error
	if h.bus, err = net.Listen("unix", filepath.Join(dir, "bus.sock")); err != nil {
		tb.Fatal(err)
	}
	lc, err := logsys.Parse(map[string]string{"logging.to_stderr": "yes", "logging.to_syslog": "no", "logging.debug": "on"})
	if err != nil {
		tb.Fatal(err)
	}
	logs, err := logsys.Open(lc, logsys.Options{Stderr: h.log, Program: "cmapd"})
	if err != nil {
		tb.Fatal(err)
	}
	d, err := New(Config{ConfPath: h.conf, BusPath: filepath.Join(dir, "bus.sock"), Logs: logs, Debounce: 30 * time.Millisecond})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { h.done <- d.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if h.done != nil {
			<-h.done
		}
		h.bus.Close()
		logs.Close()
		if tb.Failed() {
			tb.Logf("cmapd log:\n%s", h.log.String())
		}
	})
	return h
}

func (h *harness) writeConf(tb testing.TB, s string) {
	tb.Helper()
	tmp := h.conf + ".new"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, h.conf); err != nil {
		tb.Fatal(err)
	}
}

// busPeer is the test's end of the bus: it plays totemd.
type busPeer struct {
	tb   testing.TB
	conn *ipcproto.Conn
}

func (h *harness) accept(tb testing.TB) *busPeer {
	tb.Helper()
	var p *busPeer
	var m *ipcproto.Msg
	for {
		c, err := h.bus.Accept()
		if err != nil {
			tb.Fatal(err)
		}
		p = &busPeer{tb: tb, conn: ipcproto.NewConn(c)}
		tb.Cleanup(func() { p.conn.Close() })
		if m = p.recv(); m.Kind != ipcproto.KindKeep {
			break
		}
		// cmapd's keeper connection (svchost's keeper.go): this totemd
		// keeps no sockets, and says so by hanging up.
		p.conn.Close()
	}
	if m.Kind != ipcproto.KindAttach || m.Service != 0 || m.Name != "cmap" {
		tb.Fatalf("first bus message %+v, want attach of cmap", m)
	}
	return p
}

func (p *busPeer) send(m *ipcproto.Msg) {
	p.tb.Helper()
	if err := p.conn.Send(m); err != nil {
		p.tb.Fatal(err)
	}
}

// recv returns cmapd's next bus message, skipping the hellos it sends
// every other service on attach (cmapreq.Hello: "track your prefixes
// again").
func (p *busPeer) recv() *ipcproto.Msg {
	p.tb.Helper()
	for {
		m := p.recvAny()
		if m.Kind == ipcproto.KindRequest && bytes.Equal(m.Payload, cmapreq.Hello()) {
			continue
		}
		return m
	}
}

func (p *busPeer) recvAny() *ipcproto.Msg {
	p.tb.Helper()
	type res struct {
		m   *ipcproto.Msg
		err error
	}
	ch := make(chan res, 1)
	go func() { m, err := p.conn.Recv(); ch <- res{m, err} }()
	select {
	case r := <-ch:
		if r.err != nil {
			p.tb.Fatal(r.err)
		}
		return r.m
	case <-time.After(5 * time.Second):
		p.tb.Fatal("no bus message from cmapd within 5 s")
	}
	return nil
}

func dial(tb testing.TB) *client.Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var c *client.Client
	var err error
	for i := 0; i < 100; i++ {
		if c, err = client.Dial(ctx, client.MapDefault); err == nil {
			tb.Cleanup(func() { c.Close() })
			return c
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("dial cmap: %v", err)
	return nil
}

func getStr(tb testing.TB, c *client.Client, key string) string {
	tb.Helper()
	v, err := c.Get(context.Background(), key)
	if err != nil {
		tb.Fatalf("get %s: %v", key, err)
	}
	s, _ := v.AsString()
	return s
}

func TestClientOperations(t *testing.T) {
	for _, ipc := range []string{"shm", "socket"} {
		t.Run(ipc, func(t *testing.T) {
			startDaemon(t, ipc)
			c := dial(t)
			ctx := context.Background()
			if got := c.Transport().String(); got != ipc {
				t.Fatalf("transport %s, want %s", got, ipc)
			}
			if s := getStr(t, c, "totem.cluster_name"); s != "unit" {
				t.Fatalf("totem.cluster_name %q", s)
			}
			if _, err := c.TrackAdd(ctx, "t.", client.TrackAdd|client.TrackModify|client.TrackDelete|client.TrackPrefix, 77); err != nil {
				t.Fatal(err)
			}
			steps := []struct {
				name string
				do   func() error
				want error
			}{
				{"set", func() error { return c.Set(ctx, "t.a", value.U32(5)) }, nil},
				{"inc", func() error { return c.Inc(ctx, "t.a") }, nil},
				{"dec", func() error { return c.Dec(ctx, "t.a") }, nil},
				{"bad size", func() error { return c.Set(ctx, "t.b", value.Value{Type: value.Uint32, Data: []byte{1}}) }, cs.ErrInvalidParam},
				{"read-only", func() error { return c.Set(ctx, "totem.cluster_name", value.Str("x")) }, cs.ErrAccess},
				{"delete", func() error { return c.Delete(ctx, "t.a") }, nil},
				{"delete missing", func() error { return c.Delete(ctx, "t.a") }, cs.ErrNotExist},
			}
			for _, s := range steps {
				if err := s.do(); err != s.want && !(err != nil && s.want != nil && client.Code(err) == client.Code(s.want)) {
					t.Fatalf("%s: %v, want %v", s.name, err, s.want)
				}
			}
			wantEv := []struct {
				kind int32
				val  uint32
			}{{client.TrackAdd, 5}, {client.TrackModify, 6}, {client.TrackModify, 5}, {client.TrackDelete, 5}}
			for i, w := range wantEv {
				ectx, cancel := context.WithTimeout(ctx, 5*time.Second)
				n, err := c.ReadEvent(ectx)
				cancel()
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
				v := n.New
				if w.kind == client.TrackDelete {
					v = n.Old
				}
				x, _ := v.AsUint()
				if n.Event != w.kind || n.Key != "t.a" || n.Cookie != 77 || uint32(x) != w.val {
					t.Fatalf("event %d: %+v, want kind %d value %d", i, n, w.kind, w.val)
				}
			}
			es, err := c.Keys(ctx, "internal_configuration.service.0.")
			if err != nil || len(es) != 2 || es[0].Key != "internal_configuration.service.0.name" {
				t.Fatalf("iteration: %+v %v", es, err)
			}
		})
	}
}

func TestBusSyncMembersAndRequests(t *testing.T) {
	h := startDaemon(t, "shm")
	p := h.accept(t)
	ring := &ipcproto.Ring{Rep: 1, Seq: 4}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1, Ring: ring, RingMembers: []uint32{1}, Members: []uint32{1}})
	c := dial(t)
	ctx := context.Background()
	waitStr(t, c, "runtime.members.1.status", "joined")
	if s := getStr(t, c, "runtime.members.1.ip"); s != "r(0) ip(127.0.0.1) " {
		t.Fatalf("runtime.members.1.ip %q", s)
	}

	// Node 2 joins: a regular configuration, then the cmap sync round.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &ipcproto.Conf{Type: ipcproto.Regular, Ring: *ring, Members: []uint32{1, 2}, Joined: []uint32{2}}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 9, Ring: ring, Trans: []uint32{1}, Members: []uint32{1, 2}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: 9, Ring: ring})
	m := p.recv()
	if m.Kind != ipcproto.KindMcast {
		t.Fatalf("got %s, want the sync multicast", m.Kind)
	}
	if _, err := cfgver.Decode(m.Payload, false); err != nil {
		t.Fatal(err)
	}
	// The ring is busy once: cmapd retries the same message.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Sync: m.Sync, Status: cs.ErrTryAgain})
	m2 := p.recv()
	if m2.Kind != ipcproto.KindMcast || !bytes.Equal(m2.Payload, m.Payload) {
		t.Fatalf("retry: got %+v", m2)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m2.ID, Sync: m2.Sync, Status: cs.OK})
	if done := p.recv(); done.Kind != ipcproto.KindSyncDone || done.ID != 9 {
		t.Fatalf("got %+v, want sync-done of round 9", done)
	}
	// Both nodes' messages are delivered; node 2 has version 0 too.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 1, Payload: m.Payload})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 2, Payload: m.Payload})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: 9, Ring: ring})
	waitStr(t, c, "runtime.members.2.status", "joined")
	waitValue(t, c, "runtime.members.2.config_version", value.U64(0))

	// A config_version change is announced on the ring.
	if err := c.Set(ctx, "totem.config_version", value.U64(3)); err != nil {
		t.Fatal(err)
	}
	m = p.recv()
	msg, err := cfgver.Decode(m.Payload, false)
	if err != nil || msg.Reason != cfgver.ReasonNewConfigVersion || msg.Version() != 3 {
		t.Fatalf("announcement %+v %v", msg, err)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Sync: m.Sync, Status: cs.OK})

	// Node 2 leaves.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindConfChg, Conf: &ipcproto.Conf{Type: ipcproto.Transitional, Ring: *ring, Members: []uint32{1}, Left: []uint32{2}}})
	waitStr(t, c, "runtime.members.2.status", "left")

	// Another daemon writes a runtime key and a statistic.
	batch := cmapreq.Batch(
		cmapwire.Set{Key: "runtime.votequorum.this_node_id", Type: value.Uint32, Value: value.U32(1).Data}.Encode(),
		cmapwire.SetCurrentMap{Map: 1}.Encode(),
		cmapwire.Set{Key: "stats.srp.mcast_tx", Type: value.Uint64, Value: value.U64(42).Data}.Encode(),
		cmapwire.Delete{Key: "stats.no.such"}.Encode(),
	)
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 5, Service: 3, Payload: batch})
	r := p.recv()
	if r.Kind != ipcproto.KindResponse || r.ID != 5 || r.Service != 3 || r.Status != cs.ErrNotExist {
		t.Fatalf("response %+v", r)
	}
	replies, err := cmapreq.Split(r.Payload, cmapwire.RespHeaderSize)
	if err != nil || len(replies) != 4 {
		t.Fatalf("replies: %d %v", len(replies), err)
	}
	if v, err := c.Get(ctx, "runtime.votequorum.this_node_id"); err != nil || !v.Equal(value.U32(1)) {
		t.Fatalf("runtime.votequorum.this_node_id %+v %v", v, err)
	}
	sc, err := client.Dial(ctx, client.MapStats)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if v, err := sc.Get(ctx, "stats.srp.mcast_tx"); err != nil || !v.Equal(value.U64(42)) {
		t.Fatalf("stats.srp.mcast_tx %+v %v", v, err)
	}

	// A reload asked for over the bus.
	// The file has no totem.config_version: the reload deletes the key
	// set above, which is announced on the ring; the reply and the
	// announcement travel on separate streams, so either may come first.
	p.send(&ipcproto.Msg{Kind: ipcproto.KindRequest, ID: 6, Service: 1, Payload: cmapreq.Reload()})
	var announced, replied bool
	for !announced || !replied {
		m = p.recv()
		switch m.Kind {
		case ipcproto.KindMcast:
			if msg, err := cfgver.Decode(m.Payload, false); announced || err != nil || msg.Version() != 0 {
				t.Fatalf("got %+v (%v), want one config_version 0 announcement", m, err)
			}
			announced = true
			p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Sync: m.Sync, Status: cs.OK})
		case ipcproto.KindResponse:
			if replied || m.ID != 6 || m.Status != cs.OK {
				t.Fatalf("reload response %+v", m)
			}
			replied = true
		default:
			t.Fatalf("got %+v, want the announcement and the reload response", m)
		}
	}
	if v, err := c.Get(ctx, "config.reload_status"); err != nil || !v.Equal(value.I32(int32(cs.OK))) {
		t.Fatalf("config.reload_status %+v %v", v, err)
	}
}

func TestReattachAfterBusRestart(t *testing.T) {
	h := startDaemon(t, "shm")
	p := h.accept(t)
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1, Ring: &ipcproto.Ring{Rep: 1, Seq: 4}, RingMembers: []uint32{1, 2}, Members: []uint32{1, 2}})
	c := dial(t)
	waitStr(t, c, "runtime.members.2.status", "joined")
	p.conn.Close() // totemd went away
	p = h.accept(t)
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1, Ring: &ipcproto.Ring{Rep: 1, Seq: 8}, RingMembers: []uint32{1}, Members: []uint32{1}})
	waitStr(t, c, "runtime.members.2.status", "left")
}

func TestReloadOnFileChange(t *testing.T) {
	h := startDaemon(t, "shm")
	c := dial(t)
	ctx := context.Background()
	base := strings.ReplaceAll(testConf, "%IPC%", "shm")
	h.writeConf(t, strings.Replace(base, "cluster_name: unit", "cluster_name: unit\n\ttoken: 5000", 1))
	waitU32(t, c, "runtime.config.totem.token", 5000)
	if v, err := c.Get(ctx, "totem.token"); err != nil || !v.Equal(value.U32(5000)) {
		t.Fatalf("totem.token %+v %v", v, err)
	}
	// A file that does not parse keeps the running map and says why,
	// naming the file and line.
	h.writeConf(t, base+"totem {\n")
	waitLog(t, h, "not reloaded")
	waitLog(t, h, h.conf+":")
	if v, err := c.Get(ctx, "totem.token"); err != nil || !v.Equal(value.U32(5000)) {
		t.Fatalf("totem.token after a broken edit %+v %v", v, err)
	}
	// An invalid configuration (parses, fails validation) too.
	h.writeConf(t, strings.Replace(base, "cluster_name: unit", "cluster_name: unit\n\ttoken: 5000\n\ttoken_warning: 200", 1))
	waitLog(t, h, "Configuration is not valid")
	if v, err := c.Get(ctx, "totem.token"); err != nil || !v.Equal(value.U32(5000)) {
		t.Fatalf("totem.token after an invalid edit %+v %v", v, err)
	}
}

// TestAutoReloadNeverLosesKeys: the steps of ordinary ways to replace the
// file (a copy's truncation and its writes spread over time, an empty
// file, an editor's write-then-rename, a file far too big) never delete a
// key from the running map; the complete file is then applied.
func TestAutoReloadNeverLosesKeys(t *testing.T) {
	h := startDaemon(t, "shm")
	c := dial(t)
	ctx := context.Background()
	base := strings.ReplaceAll(testConf, "%IPC%", "shm")
	waitStr(t, c, "totem.cluster_name", "unit")
	for _, prefix := range []string{"totem.", "nodelist.", "quorum.", "logging."} {
		if _, err := c.TrackAdd(ctx, prefix, client.TrackAdd|client.TrackDelete|client.TrackPrefix, 9); err != nil {
			t.Fatal(err)
		}
	}
	// noDeletes reads the tracker's events of one step: a key deleted
	// and not written again within it is lost. (A complete reload deletes
	// and rewrites the derived nodelist.local_node_pos, and deletes the
	// bindnetaddr corosync derived at start-up, as 3.1.7 does: see
	// load.Reload.)
	noDeletes := func(step string) {
		t.Helper()
		ectx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		gone := map[string]bool{}
		for {
			ev, err := c.ReadEvent(ectx)
			if err != nil {
				break
			}
			gone[ev.Key] = ev.Event == client.TrackDelete
		}
		for k, g := range gone {
			if g && k != "totem.interface.0.bindnetaddr" {
				t.Errorf("%s: %q deleted from the running map", step, k)
			}
		}
	}

	// cat > file: truncated, then written in two parts with a pause
	// longer than the debounce in between.
	f, err := os.OpenFile(h.conf, os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	waitLog(t, h, "the file is empty")
	next := strings.Replace(base, "cluster_name: unit", "cluster_name: unit\n\ttoken: 7000", 1)
	half := strings.Index(next, "nodelist {") + 20
	if _, err := f.WriteString(next[:half]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	noDeletes("a copy in progress")
	if _, err := f.WriteString(next[half:]); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitU32(t, c, "totem.token", 7000)
	noDeletes("the copy's end")

	// An editor's save: write a new file and rename it over the old one.
	h.writeConf(t, strings.Replace(next, "token: 7000", "token: 8000", 1))
	waitU32(t, c, "totem.token", 8000)
	noDeletes("rename-on-save")

	// A file beyond the reload bound is refused whole.
	big := next + strings.Repeat("# padding\n", maxReloadBytes/10+1)
	h.writeConf(t, big)
	waitLog(t, h, "more than the")
	noDeletes("an oversized file")
	for _, k := range []string{"totem.cluster_name", "totem.version", "totem.transport", "quorum.provider"} {
		if _, err := c.Get(ctx, k); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if n := strings.Count(h.log.String(), "Configuration reloaded"); n != 2 {
		t.Errorf("%d reloads applied, want 2 (the copy once complete, the editor's save)", n)
	}
}

func waitLog(t *testing.T, h *harness, s string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(h.log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("%q not logged", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitStr(t *testing.T, c *client.Client, key, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := c.Get(context.Background(), key)
		if s, _ := v.AsString(); err == nil && s == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %+v (%v), want %q", key, v, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitU32(t *testing.T, c *client.Client, key string, want uint32) {
	t.Helper()
	waitValue(t, c, key, value.U32(want))
}

func waitValue(t *testing.T, c *client.Client, key string, want value.Value) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := c.Get(context.Background(), key)
		if err == nil && v.Equal(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is %+v (%v), want %+v", key, v, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConfigVersionMismatchExits: a node joining a cluster whose
// config_version differs from its own non-zero one stops, as corosync does.
func TestConfigVersionMismatchExits(t *testing.T) {
	conf := strings.Replace(strings.ReplaceAll(testConf, "%IPC%", "shm"), "cluster_name: unit", "cluster_name: unit\n\tconfig_version: 2", 1)
	h := startDaemonConf(t, conf)
	p := h.accept(t)
	ring := &ipcproto.Ring{Rep: 1, Seq: 8}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindAttached, NodeID: 1, Ring: ring, RingMembers: []uint32{1, 2}, Members: []uint32{1, 2}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncInit, ID: 1, Ring: ring, Trans: []uint32{1}, Members: []uint32{1, 2}})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncProcess, ID: 1, Ring: ring})
	m := p.recv()
	own, err := cfgver.Decode(m.Payload, false)
	if err != nil || own.Version() != 2 {
		t.Fatalf("own sync message %+v %v", own, err)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Sync: m.Sync, Status: cs.OK})
	p.recv() // sync-done
	other, err := cfgver.Message{Reason: cfgver.ReasonSync, Items: []cfgver.Item{{Key: cfgver.Key, Value: value.U64(3)}}}.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 1, Payload: m.Payload})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindDeliver, From: 2, Payload: other})
	p.send(&ipcproto.Msg{Kind: ipcproto.KindSyncActivate, ID: 1, Ring: ring})
	select {
	case err := <-h.done:
		h.done = nil
		if err == nil || !strings.Contains(err.Error(), "Received config version (3) is different than my config version (2)! Exiting") {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cmapd did not stop on a config_version mismatch")
	}
}
