package cpgcheck

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/nstest"
	cpgclient "github.com/needle-cluster/needle/services/cpgd/client"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// TestIterationOrderMatchesCorosync joins the same processes to a real
// one-node corosync 3.1.7 and to the core, and compares what the three
// iteration types return: the order (a new group first, later members of a
// group right after its first one) comes from reading 3.1.7's source, not
// from spec/cpg.md §4.7, so it is checked against the real daemon here.
func TestIterationOrderMatchesCorosync(t *testing.T) {
	const bin = "/usr/sbin/corosync"
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("corosync not installed: %v", err)
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startCorosync(t)
	ctx := context.Background()
	dial := func(pid uint32) *cpgclient.Client { return dialReal(t, pid, 0) }

	// The same joins on the core (node 1, alone).
	core, _ := cpg.New(cpg.Config{NodeID: 1})
	r := cpg.Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1}, Trans: []uint32{1}}
	core.SyncInit(r)
	core.SyncProcess(r)
	core.SyncActivate(r)
	core.Ready()

	joins := []struct {
		pid   uint32
		group string
	}{{30, "G"}, {11, "H"}, {10, "G"}, {20, "G"}, {12, "cib\x00"}, {5, "H"}}
	var last *cpgclient.Client
	for i, j := range joins {
		c := dial(j.pid)
		if err := c.Join(ctx, j.group); err != nil {
			t.Fatalf("join %d %q: %v", j.pid, j.group, err)
		}
		last = c
		id := cpg.ConnID(i + 1)
		if err := core.Connect(id); err != nil {
			t.Fatal(err)
		}
		if st := core.Join(id, j.group, j.pid, 0); st != cs.OK {
			t.Fatalf("core join: %v", st)
		}
		for _, m := range core.Ready().Mcasts {
			if err := core.Deliver(1, m, false); err != nil {
				t.Fatal(err)
			}
		}
		core.Ready()
	}
	// Wait until corosync knows every member.
	deadline := time.Now().Add(10 * time.Second)
	for {
		all, err := last.Iterate(ctx, uint32(cpg.IterAll), "")
		if err == nil && len(all) == len(joins) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("corosync lists %d members (%v), want %d", len(all), err, len(joins))
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, tc := range []struct {
		typ   cpg.IterType
		group string
	}{{cpg.IterAll, ""}, {cpg.IterNameOnly, ""}, {cpg.IterOneGroup, "G"}, {cpg.IterOneGroup, "H"}} {
		real, err := last.Iterate(ctx, uint32(tc.typ), tc.group)
		if err != nil {
			t.Fatalf("corosync iteration %d: %v", tc.typ, err)
		}
		var want []string
		for _, e := range real {
			want = append(want, fmt.Sprintf("%q:%d/%d", e.Group, e.NodeID, e.PID))
		}
		h, st := core.IterationInit(1, tc.typ, tc.group)
		if st != cs.OK {
			t.Fatal(st)
		}
		var got []string
		for {
			e, st := core.IterationNext(1, h)
			if st != cs.OK {
				break
			}
			got = append(got, fmt.Sprintf("%q:%d/%d", e.Group, e.NodeID, e.PID))
		}
		t.Logf("type %d %q: corosync %s", tc.typ, tc.group, strings.Join(want, " "))
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("iteration type %d %q:\n core     %s\n corosync %s", tc.typ, tc.group, strings.Join(got, " "), strings.Join(want, " "))
		}
	}
}

const corosyncBin = "/usr/sbin/corosync"

// startCorosync runs a real one-node corosync 3.1.7 on loopback (the test
// runs in private namespaces) and stops it by PID when the test ends.
func startCorosync(t *testing.T) {
	t.Helper()
	bin := corosyncBin
	dir := t.TempDir()
	conf := fmt.Sprintf("totem {\n version: 2\n cluster_name: cpgorder\n transport: udpu\n crypto_cipher: none\n crypto_hash: none\n}\n"+
		"nodelist {\n node {\n  ring0_addr: 127.0.0.1\n  nodeid: 1\n }\n}\nquorum {\n provider: corosync_votequorum\n}\n"+
		"logging {\n to_stderr: yes\n to_syslog: no\n}\nsystem {\n state_dir: %s\n}\n", dir)
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, "-f", "-c", path)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
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

// dialReal connects to the real corosync's cpg while it starts.
func dialReal(t *testing.T, pid, flags uint32) *cpgclient.Client {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := cpgclient.Dial(context.Background(), cpgclient.Options{PID: pid, Flags: flags})
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("dial: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func realAddrs(as []wire.Address) string {
	var ss []string
	for _, a := range as {
		ss = append(ss, fmt.Sprintf("%d/%d:%d", a.NodeID, a.PID, a.Reason))
	}
	return "[" + strings.Join(ss, " ") + "]"
}

func coreAddrs(as []cpg.Address) string {
	var ss []string
	for _, a := range as {
		ss = append(ss, fmt.Sprintf("%d/%d:%d", a.NodeID, a.PID, a.Reason))
	}
	return "[" + strings.Join(ss, " ") + "]"
}

func renderReal(e wire.Event) string {
	switch e := e.(type) {
	case wire.ConfChg:
		return fmt.Sprintf("confchg %q members=%s left=%s joined=%s", e.Group, realAddrs(e.Members), realAddrs(e.Left), realAddrs(e.Joined))
	case wire.Deliver:
		return fmt.Sprintf("deliver %q from %d/%d %q", e.Group, e.NodeID, e.PID, e.Msg)
	case wire.TotemConfChg:
		return fmt.Sprintf("totem rep %d members %v", e.Ring.NodeID, e.Members)
	}
	return fmt.Sprintf("%T", e)
}

func renderCore(e cpg.Event) string {
	switch e := e.(type) {
	case cpg.ConfChgEvent:
		return fmt.Sprintf("confchg %q members=%s left=%s joined=%s", e.Group, coreAddrs(e.Members), coreAddrs(e.Left), coreAddrs(e.Joined))
	case cpg.DeliverEvent:
		return fmt.Sprintf("deliver %q from %d/%d %q", e.Group, e.NodeID, e.PID, e.Data)
	case cpg.TotemConfChgEvent:
		return fmt.Sprintf("totem rep %d members %v", e.Ring.Rep, e.Members)
	}
	return fmt.Sprintf("%T", e)
}

// TestEventsMatchCorosync plays one script of joins, a message, a client
// death and a leave on a real one-node corosync 3.1.7 and on the core, and
// compares every client's events up to its leave (where 3.1.7's defect
// and needle differ on purpose, spec/cpg.md §4.3).
func TestEventsMatchCorosync(t *testing.T) {
	if _, err := os.Stat(corosyncBin); err != nil {
		t.Skipf("corosync not installed: %v", err)
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startCorosync(t)
	ctx := context.Background()
	core, _ := cpg.New(cpg.Config{NodeID: 1})
	r := cpg.Round{ID: 1, Ring: ring.ID{Rep: 1, Seq: 4}, Members: []uint32{1}, Trans: []uint32{1}}
	core.SyncInit(r)
	core.SyncProcess(r)
	core.SyncActivate(r)
	core.Ready()
	coreEvents := map[cpg.ConnID][]string{}
	pump := func() {
		for core.HasReady() {
			rd := core.Ready()
			for _, e := range rd.Events {
				coreEvents[e.Target()] = append(coreEvents[e.Target()], renderCore(e))
			}
			for _, m := range rd.Mcasts {
				if err := core.Deliver(1, m, false); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	const grp = "grp\x00"
	type member struct {
		real *cpgclient.Client
		id   cpg.ConnID
		pid  uint32
	}
	mk := func(id cpg.ConnID, pid, flags uint32) member {
		if err := core.Connect(id); err != nil {
			t.Fatal(err)
		}
		return member{real: dialReal(t, pid, flags), id: id, pid: pid}
	}
	a := mk(1, 1001, cpg.FlagInitialTotemConf)
	b := mk(2, 1002, 0)
	c := mk(3, 1003, cpg.FlagInitialTotemConf)
	settle := func() { pump(); time.Sleep(150 * time.Millisecond) }
	join := func(m member, g string) {
		if err := m.real.Join(ctx, g); err != nil {
			t.Fatalf("corosync join %d: %v", m.pid, err)
		}
		if st := core.Join(m.id, g, m.pid, map[bool]uint32{true: cpg.FlagInitialTotemConf}[m.id != 2]); st != cs.OK {
			t.Fatalf("core join %d: %v", m.pid, st)
		}
		settle()
	}
	join(a, grp)
	join(b, grp)
	if err := a.real.Mcast(ctx, cpgclient.TypeAgreed, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	core.Mcast(a.id, []byte("hello"))
	settle()
	join(c, "other")
	// Errors both give for a second join of the same pid and group.
	if err := a.real.Join(ctx, grp); cpgclient.Code(err) != cs.ErrExist {
		t.Fatalf("corosync second join: %v", err)
	}
	if st := core.Join(a.id, grp, a.pid, 0); st != cs.ErrExist {
		t.Fatalf("core second join: %v", st)
	}
	b.real.Close()
	core.Disconnect(b.id)
	settle()
	if err := a.real.Leave(ctx, grp); err != nil {
		t.Fatal(err)
	}
	if st := core.Leave(a.id); st != cs.OK {
		t.Fatal(st)
	}
	settle()

	for _, m := range []member{a, c} {
		var got []string
		for {
			rctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			e, err := m.real.ReadEvent(rctx)
			cancel()
			if err != nil {
				break
			}
			got = append(got, renderReal(e))
		}
		want := strings.Join(got, "\n\t")
		have := strings.Join(coreEvents[m.id], "\n\t")
		t.Logf("pid %d, corosync:\n\t%s", m.pid, want)
		if have != want {
			t.Errorf("pid %d events differ:\n core:\n\t%s\n corosync:\n\t%s", m.pid, have, want)
		}
	}
}
