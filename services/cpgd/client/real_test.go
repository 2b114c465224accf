package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

const corosyncBin = "/usr/sbin/corosync"

// startCorosync runs a real one-node corosync 3.1.7 on loopback inside
// the test's private namespaces and stops it (by PID) when the test ends.
func startCorosync(t *testing.T, ipcType string) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf(`totem {
	version: 2
	cluster_name: cpgclient
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
}
logging {
	to_stderr: yes
	to_syslog: no
}
system {
	state_dir: %s
	qb_ipc_type: %s
}
`, dir, ipcType)
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(corosyncBin, "-f", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start corosync: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("corosync output:\n%s", out.String())
		}
	})
}

// dial connects while corosync is starting.
func dial(t *testing.T, o Options) *Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := Dial(ctx, o)
		cancel()
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial cpg: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// next reads one event within 10 s.
func next(t *testing.T, c *Client) wire.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := c.ReadEvent(ctx)
	if err != nil {
		t.Fatalf("ReadEvent (pid %d): %v", c.PID(), err)
	}
	return e
}

func want(t *testing.T, got, exp wire.Event) {
	t.Helper()
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("event\n got %#v\nwant %#v", got, exp)
	}
}

// TestRealCorosync drives every cpg call of this client against Debian's
// corosync 3.1.7 (both libqb transports): join, confchg and the initial
// totem confchg, membership, local_get, the three iterations, a small
// multicast, a 2.5 MiB multicast that travels as partial fragments and is
// reassembled, leave, and close (PROCDOWN).
func TestRealCorosync(t *testing.T) {
	if _, err := os.Stat(corosyncBin); err != nil {
		t.Skipf("corosync not installed: %v", err)
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	for _, ipcType := range []string{"native", "socket"} {
		t.Run(ipcType, func(t *testing.T) {
			startCorosync(t, ipcType)
			ctx := context.Background()
			const grp = "grp\x00" // Pacemaker-style: the NUL counted in the length
			a := dial(t, Options{Flags: wire.FlagInitialTotemConf, PID: 1001})
			b := dial(t, Options{PID: 1002})
			if n, err := a.LocalGet(ctx); err != nil || n != 1 {
				t.Fatalf("LocalGet = %d, %v", n, err)
			}
			if err := a.Join(ctx, grp); err != nil {
				t.Fatalf("join a: %v", err)
			}
			A := wire.Address{NodeID: 1, PID: 1001}
			B := wire.Address{NodeID: 1, PID: 1002}
			join := func(x wire.Address) wire.Address { x.Reason = wire.ReasonJoin; return x }
			want(t, next(t, a), wire.ConfChg{Group: grp, Members: []wire.Address{A}, Left: []wire.Address{}, Joined: []wire.Address{join(A)}})
			tc, ok := next(t, a).(wire.TotemConfChg)
			if !ok || !reflect.DeepEqual(tc.Members, []uint32{1}) || tc.Ring.NodeID != 1 {
				t.Fatalf("initial totem confchg: %#v", tc)
			}
			if err := a.Join(ctx, grp); err != cs.ErrExist {
				t.Fatalf("second join: %v, want CS_ERR_EXIST", err)
			}
			if err := b.Join(ctx, grp); err != nil {
				t.Fatalf("join b: %v", err)
			}
			cc := wire.ConfChg{Group: grp, Members: []wire.Address{A, B}, Left: []wire.Address{}, Joined: []wire.Address{join(B)}}
			want(t, next(t, a), cc)
			want(t, next(t, b), cc)

			if m, err := b.Membership(ctx, grp); err != nil || !reflect.DeepEqual(m, []wire.Address{A, B}) {
				t.Fatalf("Membership = %v, %v", m, err)
			}
			if m, err := b.Membership(ctx, "nobody"); err != nil || len(m) != 0 {
				t.Fatalf("Membership of an unknown group = %v, %v", m, err)
			}
			all, err := b.Iterate(ctx, wire.IterAll, "")
			if err != nil || !reflect.DeepEqual(all, []wire.IterEntry{{Group: grp, NodeID: 1, PID: 1001}, {Group: grp, NodeID: 1, PID: 1002}}) {
				t.Fatalf("iterate all: %v %v", all, err)
			}
			names, err := b.Iterate(ctx, wire.IterNameOnly, "")
			if err != nil || !reflect.DeepEqual(names, []wire.IterEntry{{Group: grp}}) {
				t.Fatalf("iterate names: %v %v", names, err)
			}
			one, err := b.Iterate(ctx, wire.IterOneGroup, grp)
			if err != nil || len(one) != 2 {
				t.Fatalf("iterate one group: %v %v", one, err)
			}
			if _, err := b.IterNext(ctx, 0xdeadbeef); err != cs.ErrLibrary {
				t.Fatalf("IterNext of an unknown handle: %v, want CS_ERR_LIBRARY", err)
			}

			if err := a.Mcast(ctx, TypeAgreed, []byte("hello")); err != nil {
				t.Fatalf("mcast: %v", err)
			}
			d := wire.Deliver{Group: grp, NodeID: 1, PID: 1001, Msg: []byte("hello")}
			want(t, next(t, a), d)
			want(t, next(t, b), d)

			big := make([]byte, 2*wire.MaxAtomic+12345)
			for i := range big {
				big[i] = byte(i * 7)
			}
			if err := b.Mcast(ctx, TypeAgreed, big); err != nil {
				t.Fatalf("partial mcast: %v", err)
			}
			for _, c := range []*Client{a, b} {
				got, ok := next(t, c).(wire.Deliver)
				if !ok || got.NodeID != 1 || got.PID != 1002 || !bytes.Equal(got.Msg, big) {
					t.Fatalf("reassembled delivery to %d: %d bytes, ok %v", c.PID(), len(got.Msg), ok)
				}
			}

			if err := b.Leave(ctx, grp); err != nil {
				t.Fatalf("leave: %v", err)
			}
			left := wire.ConfChg{Group: grp, Members: []wire.Address{A}, Left: []wire.Address{{NodeID: 1, PID: 1002, Reason: wire.ReasonLeave}}, Joined: []wire.Address{}}
			want(t, next(t, a), left)
			want(t, next(t, b), left)
			b.Close()
			c := dial(t, Options{PID: 1003})
			if err := c.Join(ctx, grp); err != nil {
				t.Fatal(err)
			}
			next(t, a)
			c.Close() // no finalize: corosync leaves with PROCDOWN
			want(t, next(t, a), wire.ConfChg{Group: grp, Members: []wire.Address{A}, Left: []wire.Address{{NodeID: 1, PID: 1003, Reason: wire.ReasonProcDown}}, Joined: []wire.Address{}})
			if err := a.Finalize(ctx); err != nil {
				t.Fatalf("finalize: %v", err)
			}
		})
	}
}

// TestRealCorosyncTryAgain sends 64 KiB multicasts flat out to a real
// corosync while another goroutine dispatches: some sends meet
// CS_ERR_TRY_AGAIN (flag or full ring) and are repeated, and every
// message arrives once, in order.
func TestRealCorosyncTryAgain(t *testing.T) {
	if _, err := os.Stat(corosyncBin); err != nil {
		t.Skipf("corosync not installed: %v", err)
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startCorosync(t, "native")
	ctx := context.Background()
	c := dial(t, Options{})
	if err := c.Join(ctx, "flood"); err != nil {
		t.Fatal(err)
	}
	next(t, c)
	const n = 2000
	got := make(chan error, 1)
	go func() {
		for i := 0; i < n; {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			e, err := c.ReadEvent(ctx)
			cancel()
			if err != nil {
				got <- err
				return
			}
			d, ok := e.(wire.Deliver)
			if !ok {
				continue
			}
			if int(ne32(d.Msg)) != i {
				got <- fmt.Errorf("delivery %d carries number %d", i, ne32(d.Msg))
				return
			}
			i++
		}
		got <- nil
	}()
	msg := make([]byte, 64<<10)
	tryAgain := 0
	for i := 0; i < n; {
		msg[0], msg[1], msg[2], msg[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		err := c.Mcast(ctx, TypeAgreed, msg)
		if errors.Is(err, cs.ErrTryAgain) {
			tryAgain++
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
	t.Logf("%d messages of 64 KiB, %d TRY_AGAIN answers", n, tryAgain)
}

func ne32(b []byte) uint32 {
	return uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
}
