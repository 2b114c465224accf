package daemon

import (
	"context"
	"encoding/binary"
	"fmt"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/client"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

const conf = `totem {
	version: 2
	cluster_name: cpgd
	transport: udpu
	crypto_cipher: none
	crypto_hash: none
}
nodelist {
	node {
		ring0_addr: 127.0.0.1
		nodeid: 1
	}
}
logging {
	to_stderr: yes
	to_syslog: no
}
`

// startNode runs a real totemd (built from the workspace) and cpgd's
// service in this process on a one-node ring, inside private namespaces.
func startNode(t *testing.T) {
	t.Helper()
	path := startTotemd(t)
	d := newCpgd(t, path)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// startTotemd runs a real totemd on a one-node ring and returns its
// configuration's path.
func startTotemd(t *testing.T) string {
	t.Helper()
	return nstest.Totemd(t, "../../../totemd", conf)
}

// newCpgd loads a cpgd (svchost.Daemon) for the configuration at path.
func newCpgd(t *testing.T, path string) *svchost.Daemon {
	t.Helper()
	cfg, err := svchost.LoadConfig("cpgd", path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := svchost.New(Options(), cfg, svchost.DefaultBus)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func dial(t *testing.T, pid uint32) *client.Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := client.Dial(context.Background(), client.Options{PID: pid})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial cpg: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readUntil reads events until one satisfies ok.
func readUntil(t *testing.T, c *client.Client, ok func(wire.Event) bool) wire.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		e, err := c.ReadEvent(ctx)
		if err != nil {
			t.Fatalf("ReadEvent: %v", err)
		}
		if ok(e) {
			return e
		}
	}
}

func join(t *testing.T, c *client.Client, group string) {
	t.Helper()
	for {
		err := c.Join(context.Background(), group)
		if err == cs.ErrTryAgain { // the first sync round may still run
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("join %q: %v", group, err)
		}
		break
	}
	readUntil(t, c, func(e wire.Event) bool { _, ok := e.(wire.ConfChg); return ok })
}

// TestBadRequests sends cpgd what no libcpg sends — truncated, lying,
// unknown, overlong names, zero-copy, unknown handles — and wants
// corosync's error replies, the connection kept, and the daemon serving
// others throughout.
func TestBadRequests(t *testing.T) {
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startNode(t)
	good := dial(t, 100)
	join(t, good, "g")
	dial(t, 101) // cpgd is up
	raw, err := qbipc.Dial(context.Background(), "cpg", qbipc.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ctx := context.Background()
	status := func(name string, msg []byte, wantID int32, want cs.Error) {
		t.Helper()
		b, err := raw.Request(ctx, msg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		h, err := wire.DecodeRespHeader(b)
		if err != nil || h.ID != wantID || h.Error != want {
			t.Fatalf("%s: reply %+v (%v), want id %d %v", name, h, err, wantID, want)
		}
	}
	ne := binary.NativeEndian
	status("unknown id 13", qbipc.NewRequest(13, 0), 0, cs.ErrInvalidParam)
	status("truncated JOIN", qbipc.NewRequest(wire.ReqJoin, 84), 0, cs.ErrInvalidParam)
	long := wire.Join{Group: "x", PID: 1}.Encode()
	ne.PutUint32(long[16:], 200)
	status("JOIN with a 200-byte name", long, wire.ResJoin, cs.ErrNameTooLong)
	status("ZC_ALLOC", wire.ZcAlloc{MapSize: 4096, Path: "/dev/shm/nothing"}.Encode(), wire.ResNull, cs.ErrNotSupported)
	status("ZC_EXECUTE", wire.ZcExecute{ServerAddress: 1}.Encode(), wire.ResNull, cs.ErrNotSupported)
	status("ITERATIONNEXT of no iteration", wire.IterNext{Handle: 77}.Encode(), wire.ResIterNext, cs.ErrLibrary)
	status("LEAVE unjoined", wire.Leave{Group: "g", PID: 1}.Encode(), wire.ResLeave, cs.ErrNotExist)
	lying := wire.Mcast{Msg: []byte("abcd")}.Encode()
	ne.PutUint32(lying[32:], 9999)
	if _, err := raw.Call(ctx, lying, qbipc.CallOptions{NoResponse: true, FlowControlMax: 2}); err != nil {
		t.Fatalf("lying MCAST: %v", err)
	}
	if _, err := raw.Call(ctx, wire.Mcast{Msg: []byte("unjoined")}.Encode(), qbipc.CallOptions{NoResponse: true, FlowControlMax: 2}); err != nil {
		t.Fatalf("unjoined MCAST: %v", err)
	}
	b, err := raw.Request(ctx, wire.LocalGet{}.Encode())
	if n, st, err2 := wire.DecodeLocalGet(b); err != nil || err2 != nil || st != cs.OK || n != 1 {
		t.Fatalf("LOCAL_GET after the bad requests: %d %v %v %v", n, st, err, err2)
	}
	// The daemon still serves the well-behaved client, and nothing of the
	// bad multicasts reached the group.
	if err := good.Mcast(ctx, client.TypeAgreed, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	d := readUntil(t, good, func(e wire.Event) bool { _, ok := e.(wire.Deliver); return ok }).(wire.Deliver)
	if string(d.Msg) != "still here" || d.PID != 100 {
		t.Fatalf("delivered %q from %d", d.Msg, d.PID)
	}
}

// TestStuckReaderDropped: a client that joins and never reads its events
// is disconnected once its queue is full (its process leaves the group
// with PROCDOWN); a reading member keeps getting every message.
func TestStuckReaderDropped(t *testing.T) {
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startNode(t)
	reader := dial(t, 200)
	join(t, reader, "flood")
	stuck := dial(t, 201)
	join(t, stuck, "flood")
	readUntil(t, reader, func(e wire.Event) bool { _, ok := e.(wire.ConfChg); return ok })
	ctx := context.Background()
	msg := make([]byte, 64<<10)
	const n = 1200 // 75 MiB of events for the stuck client
	got := make(chan error, 1)
	left := make(chan struct{})
	go func() {
		seen, sawLeave := 0, false
		for seen < n {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			e, err := reader.ReadEvent(ctx)
			cancel()
			if err != nil {
				got <- err
				return
			}
			switch e := e.(type) {
			case wire.Deliver:
				if binary.NativeEndian.Uint32(e.Msg) != uint32(seen) {
					got <- fmt.Errorf("message %d carries %d", seen, binary.NativeEndian.Uint32(e.Msg))
					return
				}
				seen++
			case wire.ConfChg:
				if len(e.Left) == 1 && e.Left[0].PID == 201 && e.Left[0].Reason == wire.ReasonProcDown && !sawLeave {
					sawLeave = true
					close(left)
				}
			}
		}
		got <- nil
	}()
	for i := 0; i < n; {
		binary.NativeEndian.PutUint32(msg, uint32(i))
		err := reader.Mcast(ctx, client.TypeAgreed, msg)
		if err == cs.ErrTryAgain {
			time.Sleep(100 * time.Microsecond)
			continue
		}
		if err != nil {
			t.Fatalf("mcast %d: %v", i, err)
		}
		i++
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	select {
	case <-left:
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck client was never dropped (no PROCDOWN leave seen)")
	}
}
