package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/services/cpgd/client"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// TestHandoverKeepsClients is a cpgd restarted on purpose (SIGTERM:
// svchost's HandOverOnStop): its clients keep their connections, their
// groups and every message, events queued before the stop arrive after
// it in order, a request sent while no cpgd ran is answered by the next
// one, and nobody sees a configuration change; afterwards the next cpgd
// serves new clients as usual and cleans up after a leaving one.
func TestHandoverKeepsClients(t *testing.T) {
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	path := startTotemd(t)
	run := func() (stop func()) {
		d := newCpgd(t, path)
		d.HandOverOnStop()
		return nstest.Daemon(t, "cpgd", d.Run)
	}
	stop1 := run()
	a, b := dial(t, 300), dial(t, 301)
	join(t, a, "h")
	join(t, b, "h")
	readUntil(t, a, func(e wire.Event) bool { c, ok := e.(wire.ConfChg); return ok && len(c.Members) == 2 })
	ctx := context.Background()
	send := func(c *client.Client, text string) {
		t.Helper()
		for {
			err := c.Mcast(ctx, client.TypeAgreed, []byte(text))
			if err == cs.ErrTryAgain {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if err != nil {
				t.Fatalf("mcast %q: %v", text, err)
			}
			return
		}
	}
	// Deliveries b does not read before the restart stay queued for it.
	for i := range 50 {
		send(a, fmt.Sprintf("before %d", i))
	}
	readN := func(c *client.Client, want []string) {
		t.Helper()
		var got []string
		for len(got) < len(want) {
			e := readUntil(t, c, func(wire.Event) bool { return true })
			switch e := e.(type) {
			case wire.Deliver:
				got = append(got, string(e.Msg))
			case wire.ConfChg:
				t.Fatalf("pid %d: configuration change across the handover: %+v", c.PID(), e)
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("pid %d got %q, want %q", c.PID(), got, want)
		}
	}
	var before []string
	for i := range 50 {
		before = append(before, fmt.Sprintf("before %d", i))
	}
	readN(a, before)
	shm := shmFiles(t)

	stop1()
	// No cpgd now: a's multicast (libcpg expects no response to it) waits
	// in its channel for the next one, and a's request for its membership
	// waits for the answer of the next one.
	send(a, "while away")
	answered := make(chan error, 1)
	go func() {
		ms, err := a.Membership(ctx, "h")
		if err == nil && len(ms) != 2 {
			err = fmt.Errorf("members %v", ms)
		}
		answered <- err
	}()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-answered:
		t.Fatalf("a request was answered with no cpgd running: %v", err)
	default:
	}
	run()
	if err := <-answered; err != nil {
		t.Fatalf("membership asked while cpgd restarted: %v", err)
	}
	send(b, "after")
	readN(b, append(before, "while away", "after"))
	readN(a, []string{"while away", "after"})
	if got := shmFiles(t); !slices.Equal(got, shm) {
		t.Errorf("shared-memory files before the handover %v, after %v", shm, got)
	}
	for _, c := range []*client.Client{a, b} {
		ms, err := c.Membership(ctx, "h")
		if err != nil || len(ms) != 2 {
			t.Fatalf("membership after the handover: %v %v", ms, err)
		}
	}
	// The next cpgd serves as usual: a newcomer joins, b leaves by
	// closing its connection.
	n := dial(t, 302)
	join(t, n, "h")
	e := readUntil(t, a, func(e wire.Event) bool { _, ok := e.(wire.ConfChg); return ok }).(wire.ConfChg)
	if len(e.Joined) != 1 || e.Joined[0].PID != 302 {
		t.Fatalf("newcomer's join seen as %+v", e)
	}
	b.Close()
	e = readUntil(t, a, func(e wire.Event) bool { _, ok := e.(wire.ConfChg); return ok }).(wire.ConfChg)
	if len(e.Left) != 1 || e.Left[0].PID != 301 {
		t.Fatalf("b's departure seen as %+v", e)
	}
}

// shmFiles lists libqb's cpg ring files in /dev/shm.
func shmFiles(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir("/dev/shm", func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "cpg") {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}
