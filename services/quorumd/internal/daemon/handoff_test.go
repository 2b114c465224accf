package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/client"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// conf is a one-node ring that expects two votes: node 1 alone is not
// quorate until corosync-quorumtool -e 1 (SetExpected) lowers the bar,
// which every tracker then sees as a quorum notification.
const conf = `totem {
	version: 2
	cluster_name: quorumd
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
quorum {
	provider: corosync_votequorum
	expected_votes: 2
}
logging {
	to_stderr: yes
	to_syslog: no
}
`

// startTotemd runs a real totemd on a one-node ring and returns its
// configuration's path.
func startTotemd(t *testing.T) string {
	t.Helper()
	return nstest.Totemd(t, "../../../totemd", conf)
}

// newQuorumd loads a quorumd (svchost.Daemon) for the configuration at path.
func newQuorumd(t *testing.T, path string) *svchost.Daemon {
	t.Helper()
	cfg, err := svchost.LoadConfig("quorumd", path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := svchost.New(Options(), cfg, svchost.DefaultBus)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// retry dials until quorumd serves (it refuses with TRY_AGAIN until its
// first sync round activated).
func retry[T any](t *testing.T, what string, f func(ctx context.Context) (T, error)) T {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		v, err := f(ctx)
		cancel()
		if err == nil {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// next reads one event.
func next[T interface {
	ReadEvent(context.Context) (any, error)
}](t *testing.T, c T) any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := c.ReadEvent(ctx)
	if err != nil {
		t.Fatalf("ReadEvent: %v", err)
	}
	return e
}

// TestHandoverKeepsClients is a quorumd restarted on purpose (SIGTERM:
// svchost's HandOverOnStop): its quorum (V0 and V1) and votequorum
// clients keep their connections and their tracking, none sees a
// notification across the handover, a request sent while no quorumd ran
// is answered by the next one, and the next one's tracking callbacks
// work: -e 1 makes the node quorate and every tracker hears it, first.
func TestHandoverKeepsClients(t *testing.T) {
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	path := startTotemd(t)
	run := func() (stop func()) {
		d := newQuorumd(t, path)
		d.HandOverOnStop()
		return nstest.Daemon(t, "quorumd", d.Run)
	}
	stop1 := run()
	ctx := context.Background()
	v0 := retry(t, "dial quorum V0", func(ctx context.Context) (*client.Quorum, error) { return client.DialQuorum(ctx, wire.ModelV0) })
	t.Cleanup(func() { v0.Close() })
	v1 := retry(t, "dial quorum V1", func(ctx context.Context) (*client.Quorum, error) { return client.DialQuorum(ctx, wire.ModelV1) })
	t.Cleanup(func() { v1.Close() })
	vq := retry(t, "dial votequorum", func(ctx context.Context) (*client.Votequorum, error) { return client.DialVotequorum(ctx) })
	t.Cleanup(func() { vq.Close() })
	idle := retry(t, "dial votequorum", func(ctx context.Context) (*client.Votequorum, error) { return client.DialVotequorum(ctx) })
	t.Cleanup(func() { idle.Close() })

	track := wire.TrackCurrent | wire.TrackChanges
	if err := v0.TrackStart(ctx, track); err != nil {
		t.Fatal(err)
	}
	if e, ok := next(t, v0).(wire.QNotification); !ok || e.Quorate != 0 || !reflect.DeepEqual(e.View, []uint32{1}) {
		t.Fatalf("V0 current state %+v", e)
	}
	if err := v1.TrackStart(ctx, track); err != nil {
		t.Fatal(err)
	}
	if e, ok := next(t, v1).(wire.QV1Nodelist); !ok || !reflect.DeepEqual(e.Members, []uint32{1}) {
		t.Fatalf("V1 current nodelist %+v", e)
	}
	if e, ok := next(t, v1).(wire.QV1Quorum); !ok || e.Quorate != 0 {
		t.Fatalf("V1 current quorum %+v", e)
	}
	const vqCtx = 0x5eed
	if err := vq.TrackStart(ctx, vqCtx, track); err != nil {
		t.Fatal(err)
	}
	if e, ok := next(t, vq).(wire.VQNodelist); !ok || e.Context != vqCtx || !reflect.DeepEqual(e.Nodes, []uint32{1}) {
		t.Fatalf("votequorum current nodelist %+v", e)
	}
	if e, ok := next(t, vq).(wire.VQQuorum); !ok || e.Quorate != 0 || e.Context != vqCtx {
		t.Fatalf("votequorum current quorum %+v", e)
	}
	in, err := vq.GetInfo(ctx, 0)
	if err != nil || in.Expected != 2 || in.Quorum != 2 || in.Flags&wire.InfoQuorate != 0 {
		t.Fatalf("before the handover: %+v %v", in, err)
	}

	stop1()
	// No quorumd now: a request waits for the answer of the next one.
	answered := make(chan error, 1)
	go func() {
		in, err := idle.GetInfo(ctx, 0)
		if err == nil && (in.NodeID != 1 || in.Expected != 2) {
			err = fmt.Errorf("info %+v", in)
		}
		answered <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-answered:
		t.Fatalf("a request was answered with no quorumd running: %v", err)
	default:
	}
	run()
	if err := <-answered; err != nil {
		t.Fatalf("getinfo asked while quorumd restarted: %v", err)
	}
	for _, q := range []*client.Quorum{v0, v1} {
		if ok, err := q.GetQuorate(ctx); err != nil || ok {
			t.Fatalf("quorate after the handover: %v %v", ok, err)
		}
	}

	// -e 1: the node becomes quorate. Each tracker's next event is that
	// change: anything the handover had sent them would come first.
	if err := vq.SetExpected(ctx, 1); err != nil {
		t.Fatalf("setexpected 1 after the handover: %v", err)
	}
	if e, ok := next(t, vq).(wire.VQExpectedVotes); !ok || e.Context != vqCtx || e.Expected != 1 {
		t.Fatalf("votequorum: first event after the handover %+v, want expected votes 1", e)
	}
	if e, ok := next(t, vq).(wire.VQQuorum); !ok || e.Quorate != 1 || e.Context != vqCtx {
		t.Fatalf("votequorum: second event after the handover %+v, want quorate", e)
	}
	if e, ok := next(t, v0).(wire.QNotification); !ok || e.Quorate != 1 || !reflect.DeepEqual(e.View, []uint32{1}) {
		t.Fatalf("V0: first event after the handover %+v, want quorate", e)
	}
	if e, ok := next(t, v1).(wire.QV1Quorum); !ok || e.Quorate != 1 {
		t.Fatalf("V1: first event after the handover %+v, want quorate", e)
	}
	in, err = idle.GetInfo(ctx, 0)
	if err != nil || in.Expected != 1 || in.Flags&wire.InfoQuorate == 0 {
		t.Fatalf("after -e 1: %+v %v", in, err)
	}
	// The clients' tracking was carried: stopping it works once, and a
	// client that never tracked still does not.
	if err := vq.TrackStop(ctx); err != nil {
		t.Errorf("votequorum trackstop: %v", err)
	}
	if err := idle.TrackStop(ctx); !errors.Is(err, cs.ErrNotExist) {
		t.Errorf("trackstop of a client that never tracked: %v, want NOT_EXIST", err)
	}
	if err := v1.TrackStart(ctx, wire.TrackChanges); !errors.Is(err, cs.ErrExist) {
		t.Errorf("V1 trackstart again: %v, want EXIST (still tracking)", err)
	}
	// The next quorumd serves newcomers at once.
	nq, err := client.DialQuorum(ctx, wire.ModelV1)
	if err != nil {
		t.Fatalf("a new client after the handover: %v", err)
	}
	if ok, err := nq.GetQuorate(ctx); err != nil || !ok {
		t.Fatalf("new client: quorate %v %v", ok, err)
	}
	nq.Close()
}
