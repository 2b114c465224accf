package svchost

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// TestMainExitCodes: the command line refuses what corosync refuses, with
// corosync's messages and exit statuses, before anything is served.
func TestMainExitCodes(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.conf")
	badLog := filepath.Join(dir, "badlog.conf")
	os.WriteFile(broken, []byte("totem {\n"), 0o644)
	os.WriteFile(badLog, []byte("logging {\n\tto_logfile: maybe\n}\n"), 0o644)
	opts := Options{Program: "svctest", New: func(Config) (Service, error) { return &testService{}, nil }}
	cases := []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"svctest", "-c", filepath.Join(dir, "missing.conf")}, 8, "Can't read file"},
		{[]string{"svctest", "-c", broken}, 8, "Missing closing brace"},
		{[]string{"svctest", "-c", badLog}, 7, "to_logfile"},
		{[]string{"svctest", "extra"}, 1, `svctest: unexpected argument "extra"`},
		{[]string{"svctest", "--no-such-flag"}, 1, "flag provided but not defined"},
	}
	for _, c := range cases {
		var out, errb bytes.Buffer
		if code := MainArgs(opts, c.args, &out, &errb); code != c.code || !strings.Contains(errb.String()+out.String(), c.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d and %q", c.args, code, errb.String(), c.code, c.stderr)
		}
	}
}

// TestDrainWaitsForQueuedMulticasts: a daemon told to stop first lets the
// ring accept what its service queued, then detaches cleanly.
func TestDrainWaitsForQueuedMulticasts(t *testing.T) {
	svc := &testService{}
	r := startRig(t, svc, Options{})
	p := r.accept(1)
	waitFor(t, "attached", func() bool { return svc.has("attached") == 1 })
	var st cs.Error = -1
	r.do(func() { svc.host.Mcast([]byte("last"), func(e cs.Error) { st = e }) })
	m := p.recvKind(ipcproto.KindMcast)
	r.stop()
	time.Sleep(50 * time.Millisecond)
	select {
	case <-r.done:
		t.Fatal("stopped with a multicast not yet accepted")
	default:
	}
	p.send(&ipcproto.Msg{Kind: ipcproto.KindMcastAck, ID: m.ID, Status: cs.OK})
	if d := p.recvKind(ipcproto.KindDetach); d == nil {
		t.Fatal("no detach")
	}
	p.conn.Close()
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatal(err)
		}
		r.done <- nil // for the rig's cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop after the drain")
	}
	if st != cs.OK {
		t.Errorf("queued multicast ended with %v", st)
	}
}
