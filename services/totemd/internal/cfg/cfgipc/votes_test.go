package cfgipc

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/client"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/corotest"
)

func dial(t *testing.T) *client.Client {
	t.Helper()
	var c *client.Client
	corotest.WaitFor(t, "cfg service", func(ctx context.Context) error {
		var err error
		c, err = client.Dial(ctx)
		return err
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func wantCode(t *testing.T, what string, err error, want cs.Error) {
	t.Helper()
	if got := client.Code(err); got != want {
		t.Fatalf("%s: %s (%v), want %s", what, got.Strerror(), err, want.Strerror())
	}
}

// wantCodeOrGone is wantCode for an answer the server sent just before
// hanging up: libs/qbipc's socket client can lose it (libqb does not).
func wantCodeOrGone(t *testing.T, what string, err error, want cs.Error) {
	t.Helper()
	if errors.Is(err, qbipc.ErrDisconnected) {
		t.Logf("%s: %v (answer lost to the hang-up: libs/qbipc socket-mode race)", what, err)
		return
	}
	wantCode(t, what, err, want)
}

// voteScript drives shutdown votes through three clients and checks
// every answer and event; down waits for the node to start shutting
// down. cfg.shutdown_timeout must be 300 ms.
func voteScript(t *testing.T, down func() bool) {
	ctx := context.Background()
	c, tracker, other, t1 := dial(t), dial(t), dial(t), dial(t)
	wantCode(t, "vote without a request", c.ReplyToShutdown(ctx, true), cs.ErrAccess)

	// A tracker that says no vetoes a REQUEST; a second request meanwhile
	// is refused.
	wantCode(t, "trackstart", tracker.TrackStart(ctx), cs.OK)
	res := make(chan error, 1)
	go func() { res <- c.TryShutdown(ctx, cfg.ShutdownRequest) }()
	if ev, err := tracker.NextEvent(ctx); err != nil || ev != (cfg.TestShutdownEvent{Error: cs.OK, Flags: cfg.ShutdownRequest}) {
		t.Fatalf("event %+v, %v", ev, err)
	}
	wantCode(t, "second request", other.TryShutdown(ctx, cfg.ShutdownRequest), cs.ErrExist)
	wantCode(t, "vote no", tracker.ReplyToShutdown(ctx, false), cs.OK)
	wantCode(t, "vetoed request", <-res, cs.ErrBusy)

	// A tracker that once requested a shutdown itself is the only one
	// told about a timeout (3.1.7 quirk, spec/cfg.md §3.3).
	wantCode(t, "trackstart t1", t1.TrackStart(ctx), cs.OK)
	go func() { res <- t1.TryShutdown(ctx, cfg.ShutdownRequest) }()
	if ev, err := tracker.NextEvent(ctx); err != nil || ev.Error != cs.OK {
		t.Fatalf("question from t1: %+v, %v", ev, err)
	}
	wantCode(t, "veto t1", tracker.ReplyToShutdown(ctx, false), cs.OK)
	wantCode(t, "t1's request", <-res, cs.ErrBusy)
	start := time.Now()
	wantCode(t, "request nobody answers", c.TryShutdown(ctx, cfg.ShutdownRequest), cs.ErrBusy)
	if d := time.Since(start); d < 250*time.Millisecond {
		t.Fatalf("vote ended after %v, before cfg.shutdown_timeout", d)
	}
	for _, want := range []cs.Error{cs.OK, cs.ErrTimeout} {
		if ev, err := t1.NextEvent(ctx); err != nil || ev.Error != want {
			t.Fatalf("t1 event %+v, %v; want %s", ev, err, want.Strerror())
		}
	}
	if ev, err := tracker.NextEvent(ctx); err != nil || ev.Error != cs.OK {
		t.Fatalf("question to the plain tracker %+v, %v", ev, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	ev, err := tracker.NextEvent(short)
	cancel()
	if err == nil {
		t.Fatalf("plain tracker got a timeout event %+v", ev)
	}

	// A tracker joining a running vote is asked at once; trackers that
	// leave count as yes, so the request is granted.
	wantCode(t, "trackstop t1", t1.TrackStop(ctx), cs.OK)
	go func() { res <- c.TryShutdown(ctx, cfg.ShutdownRequest) }()
	if ev, err := tracker.NextEvent(ctx); err != nil || ev.Error != cs.OK {
		t.Fatalf("question %+v, %v", ev, err)
	}
	wantCode(t, "late trackstart", other.TrackStart(ctx), cs.OK)
	if ev, err := other.NextEvent(ctx); err != nil || ev.Error != cs.OK {
		t.Fatalf("question to the late tracker %+v, %v", ev, err)
	}
	wantCode(t, "yes", other.ReplyToShutdown(ctx, true), cs.OK)
	if down() {
		t.Fatal("shutdown before every tracker answered")
	}
	// The last answer decides: the daemon answers both and shuts down.
	wantCodeOrGone(t, "trackstop", tracker.TrackStop(ctx), cs.OK)
	wantCodeOrGone(t, "granted request", <-res, cs.OK)
	deadline := time.Now().Add(15 * time.Second)
	for !down() {
		if time.Now().After(deadline) {
			t.Fatal("node did not shut down")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestShutdownVotes runs the same vote script against a real corosync
// 3.1.7 and against the needle core, in both transports.
func TestShutdownVotes(t *testing.T) {
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	t.Run("corosync", func(t *testing.T) {
		co := corotest.Start(t, corotest.Options{Extra: "cfg {\n\tshutdown_timeout: 300\n}\n"})
		voteScript(t, func() bool {
			select {
			case <-co.Done():
				return true
			default:
				return false
			}
		})
	})
	for _, tr := range []qbipc.Transport{qbipc.SHM, qbipc.Socket} {
		t.Run("needle-"+tr.String(), func(t *testing.T) {
			n := newLoopNode(t)
			srv := serve(t, n, tr)
			down := false
			voteScript(t, func() bool {
				select {
				case <-n.stopped:
					down = true
					srv.Close()
				default:
				}
				return down
			})
		})
	}
}
