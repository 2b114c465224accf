package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	qclient "github.com/needle-cluster/needle/services/quorumd/client"
	"github.com/needle-cluster/needle/services/quorumd/internal/realcoro"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// result is what one invocation printed and returned.
type result struct {
	stdout, stderr string
	exit           int
}

var dateLine = regexp.MustCompile(`(?m)^Date:             .*$`)

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.exit, dateLine.ReplaceAllString(r.stdout, "Date: (masked)"), r.stderr)
}

// theirs runs Debian's corosync-quorumtool.
func theirs(t *testing.T, args []string) result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := exec.Command(realcoro.QuorumtoolBin, args...)
	cmd.Args[0] = "corosync-quorumtool" // getopt and the usage print argv[0]
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := result{}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.exit = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s: %v", realcoro.QuorumtoolBin, err)
	}
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// ours runs this tool in-process.
func ours(args []string) result {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, append([]string{"corosync-quorumtool"}, args...), &out, &errb)
	return result{stdout: out.String(), stderr: errb.String(), exit: code}
}

// compare runs every argument list with both tools, theirs first, and
// requires the same stdout (Date line aside), stderr and exit status.
func compare(t *testing.T, cases ...string) {
	t.Helper()
	if _, err := os.Stat(realcoro.QuorumtoolBin); err != nil {
		t.Skipf("Debian's corosync-quorumtool not installed: %v", err)
	}
	for _, c := range cases {
		args := strings.Fields(c)
		want, got := theirs(t, args), ours(args)
		if want.String() != got.String() {
			t.Errorf("quorumtool %s differs from corosync-quorumtool:\n=== ours\n%s=== corosync's\n%s", c, got, want)
		}
	}
}

// waitView waits until the quorum service reports n members.
func waitView(t *testing.T, n int) {
	t.Helper()
	realcoro.WaitFor(t, "quorum view", func(ctx context.Context) error {
		q, err := qclient.DialQuorum(ctx, wire.ModelV0)
		if err != nil {
			return err
		}
		defer q.Close()
		if err := q.TrackStart(ctx, wire.TrackCurrent); err != nil {
			return err
		}
		ev, err := q.ReadEvent(ctx)
		if err != nil {
			return err
		}
		if v := ev.(wire.QNotification).View; len(v) != n {
			return fmt.Errorf("view %v, want %d members", v, n)
		}
		return nil
	})
}

// optionCases need no daemon or fail before reaching it.
var optionCases = []string{
	"-h", "-V", "-x", "-e", "-e 0", "-e abc", "-e 2147483648", "-e ' 3'", "-v -1", "-v", "-n 0", "-n x",
	"-n 4294967296", "-o x", "-o", "-h -x", "-x -h", "-V -h", "--foo", "-sx", "-e3x", "-e 5x", "-o ii",
}

// TestNoDaemon: option handling, and what happens when nothing serves.
func TestNoDaemon(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	compare(t, optionCases...)
	compare(t, "", "-s", "-l", "-m", "-f", "-e 2", "-v 1", "-p -s", "a -s", "-- -x", "-s -- -x")
}

// TestOneNode: a quorate single node, every read-only view and the
// refused or idempotent changes.
func TestOneNode(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	realcoro.Start(t, realcoro.Options{})
	waitView(t, 1)
	compare(t, "", "-s", "-l", "-s -H", "-l -H", "-l -i", "-l -a", "-l -a -i", "-s -p", "-l -p", "-s -o i",
		"-s -o n", "-s -o a", "-l -o n -H -p", "-e 3", "-e 1", "-v 0", "-v 2 -n 3", "-v 1", "-f", "-n 1 -v 1", "-s -l", "-l -s")
	compare(t, optionCases...)
}

// TestWaitForAll: an inquorate node (expected 3, wait_for_all, LMS, ATB):
// -s exits 2 and prints "Activity blocked" and every flag.
func TestWaitForAll(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	realcoro.Start(t, realcoro.Options{Quorum: "provider: corosync_votequorum\nexpected_votes: 3\nwait_for_all: 1\nlast_man_standing: 1\nauto_tie_breaker: 1"})
	waitView(t, 1)
	compare(t, "-s", "-l", "-s -p -H", "-v 2")
}

// TestTwoNode: node 1 of a two_node pair, alone (wait_for_all implied),
// with nodelist names; -a prints the name in place of the first address.
func TestTwoNode(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	nodes := []realcoro.Node{{ID: 1, Addr: "127.0.0.1", Name: "alpha"}, {ID: 2, Addr: "127.0.0.2", Name: "beta"}}
	realcoro.Start(t, realcoro.Options{Nodes: nodes, Quorum: "provider: corosync_votequorum\ntwo_node: 1"})
	waitView(t, 1)
	compare(t, "-s", "-l", "-l -a", "-l -i", "-s -o n", "-e 1", "-s")
}

// TestNoProvider: no quorum section: QUORUM_FREE, no votequorum.
func TestNoProvider(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	realcoro.Start(t, realcoro.Options{Quorum: "-"})
	realcoro.WaitFor(t, "quorum service", func(ctx context.Context) error {
		q, err := qclient.DialQuorum(ctx, wire.ModelV0)
		if err == nil {
			q.Close()
		}
		return err
	})
	compare(t, "-s", "-l", "-e 2", "-v 1", "-f", "-s -H", "-p -l")
}

// TestQdevice: a registered quorum device (no quorum.device section, so it
// has 0 votes), first silent, then polling with a vote and master-wins.
func TestQdevice(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	realcoro.Start(t, realcoro.Options{})
	waitView(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	v, err := qclient.DialVotequorum(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if err := v.QdeviceRegister(ctx, "Qdevice"); err != nil {
		t.Fatal(err)
	}
	compare(t, "-s", "-l", "-s -p", "-l -H")
	if err := v.TrackStart(ctx, 0, wire.TrackCurrent); err != nil {
		t.Fatal(err)
	}
	ev, err := v.ReadEvent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ring := ev.(wire.VQNodelist).Ring
	if err := v.QdevicePoll(ctx, "Qdevice", true, ring); err != nil {
		t.Fatal(err)
	}
	if err := v.QdeviceMasterWins(ctx, "Qdevice", true); err != nil {
		t.Fatal(err)
	}
	realcoro.WaitFor(t, "qdevice alive", func(ctx context.Context) error {
		i, err := v.GetInfo(ctx, 0)
		if err == nil && i.Flags&wire.InfoQdeviceMasterWins == 0 {
			err = fmt.Errorf("flags %#x", i.Flags)
		}
		return err
	})
	compare(t, "-s", "-l -p")
	// -f unregisters: corosync's tool first, then ours finds nothing to do;
	// register again and let ours do it.
	compare(t, "-f")
	if err := v.QdeviceRegister(ctx, "Qdevice"); err != nil {
		t.Fatal(err)
	}
	if r := ours([]string{"-f"}); r.exit != 0 || r.stdout+r.stderr != "" {
		t.Errorf("our -f: %s", r)
	}
	if i, err := v.GetInfo(ctx, 0); err != nil || i.Flags&wire.InfoQdeviceRegistered != 0 {
		t.Errorf("after our -f: flags %#x, %v", i.Flags, err)
	}
}

// TestJSON: --json -s and -l carry what the text says.
func TestJSON(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	realcoro.Start(t, realcoro.Options{Nodes: []realcoro.Node{{ID: 1, Addr: "127.0.0.1", Name: "alpha"}}})
	waitView(t, 1)
	r := ours([]string{"--json", "-s"})
	if r.exit != 0 || r.stderr != "" {
		t.Fatalf("--json -s: %s", r)
	}
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json -s output %q: %v", r.stdout, err)
	}
	if rep.Quorum == nil || !rep.Quorum.Quorate || rep.Quorum.Provider != "corosync_votequorum" || rep.Quorum.NodeID != 1 ||
		rep.Quorum.Nodes != 1 || rep.Quorum.RingID.NodeID != 1 || rep.Quorum.RingID.Seq == 0 {
		t.Errorf("quorum part %+v", rep.Quorum)
	}
	if rep.Votequorum == nil || rep.Votequorum.Expected != 1 || rep.Votequorum.Quorum != 1 || strings.Join(rep.Votequorum.Flags, " ") != "Quorate" {
		t.Errorf("votequorum part %+v", rep.Votequorum)
	}
	if len(rep.Members) != 1 || rep.Members[0].Name != "alpha" || !rep.Members[0].Local || rep.Members[0].Votes == nil || *rep.Members[0].Votes != 1 {
		t.Errorf("members %+v", rep.Members)
	}
	if _, err := time.Parse(time.RFC3339, rep.Date); err != nil {
		t.Errorf("date %q: %v", rep.Date, err)
	}
	r = ours([]string{"-l", "--json"})
	var l report
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || r.exit != 0 || l.Quorum != nil || len(l.Members) != 1 {
		t.Errorf("--json -l: %s (%+v, %v)", r, l, err)
	}
	if r := ours([]string{"--json", "-h"}); !strings.Contains(r.stdout, `"votequorum"`) || r.exit != 0 {
		t.Errorf("--json -h does not document the schema: %s", r)
	}
}

// syncBuf is a bytes.Buffer safe for one writer and one reader.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMonitor: -m prints the status block at start (and at every change);
// ours and Debian's (line-buffered through stdbuf) print the same first
// block.
func TestMonitor(t *testing.T) {
	if !realcoro.InPrivateNamespaces(t) {
		return
	}
	stdbuf, err := exec.LookPath("stdbuf")
	if err != nil {
		t.Skipf("stdbuf not installed: %v", err)
	}
	realcoro.Start(t, realcoro.Options{})
	waitView(t, 1)
	const end = " (local)\n\n" // the last line of a block, then the separating empty line
	var theirsOut syncBuf
	cmd := exec.Command(stdbuf, "-oL", realcoro.QuorumtoolBin, "-m")
	cmd.Stdout = &theirsOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var oursOut, oursErr syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- run(ctx, []string{"corosync-quorumtool", "-m"}, &oursOut, &oursErr) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.HasSuffix(theirsOut.String(), end) || !strings.HasSuffix(oursOut.String(), end) {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != exitFailure {
		t.Errorf("-m ended with %d, want 1 once its connection is gone", code)
	}
	mask := func(s string) string { return dateLine.ReplaceAllString(s, "Date: (masked)") }
	if g, w := mask(oursOut.String()), mask(theirsOut.String()); g != w || !strings.HasSuffix(w, end) {
		t.Errorf("-m output differs:\n=== ours\n%s=== corosync-quorumtool\n%s", g, w)
	}
}
