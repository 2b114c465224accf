package main

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

	"github.com/needle-cluster/needle/libs/nstest"
	"github.com/needle-cluster/needle/services/cpgd/client"
)

const (
	corosyncBin = "/usr/sbin/corosync"
	realTool    = "/usr/sbin/corosync-cpgtool"
)

func startCorosync(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("totem {\n\tversion: 2\n\tcluster_name: cpgtool\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\n"+
		"nodelist {\n\tnode {\n\t\tring0_addr: 127.0.0.1\n\t\tnodeid: 1\n\t}\n}\nquorum {\n\tprovider: corosync_votequorum\n}\n"+
		"logging {\n\tto_stderr: yes\n\tto_syslog: no\n}\nsystem {\n\tstate_dir: %s\n}\n", dir)
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(corosyncBin, "-f", "-c", path)
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

// compare runs Debian's corosync-cpgtool and ours with the same
// arguments and wants identical stdout, stderr and exit status.
func compare(t *testing.T, args ...string) {
	t.Helper()
	var rout, rerr bytes.Buffer
	cmd := exec.Command(realTool, args...)
	cmd.Stdout, cmd.Stderr = &rout, &rerr
	err := cmd.Run()
	rcode := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rcode = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(append([]string{realTool}, args...), &out, &errb)
	if out.String() != rout.String() || errb.String() != rerr.String() || code != rcode {
		t.Errorf("cpgtool %q:\nreal (exit %d) stdout %q stderr %q\nours (exit %d) stdout %q stderr %q",
			args, rcode, rout.String(), rerr.String(), code, out.String(), errb.String())
	}
}

var argSets = [][]string{
	{}, {"-e"}, {"-n"}, {"-n", "-e"}, {"-n", "-d", ","}, {"-d", ";"}, {"-d;", "-e"}, {"-d", ""},
	{"-h"}, {"-x"}, {"-d"}, {"extra", "-n"}, {"-ne"},
}

// TestMatchesRealTool compares cpgtool with Debian's corosync-cpgtool on
// a real corosync 3.1.7: first with no daemon running, then with groups
// our client joined whose names hold NUL, backslash, bytes ≥ 0x80, the
// maximum 128 bytes and zero bytes (a zero-length name), several members.
func TestMatchesRealTool(t *testing.T) {
	for _, bin := range []string{corosyncBin, realTool} {
		if _, err := os.Stat(bin); err != nil {
			t.Skipf("%s not installed: %v", bin, err)
		}
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	for _, a := range [][]string{{}, {"-n"}, {"-h"}} {
		compare(t, a...)
	}
	startCorosync(t)
	ctx := context.Background()
	groups := []string{"grp", "GROUP\x00", `a\b`, "\x80\xff\x01 x", strings.Repeat("L", 128), ""}
	var pid uint32 = 500
	for i, g := range groups {
		for k := 0; k <= i%3; k++ {
			pid++
			var c *client.Client
			for deadline := time.Now().Add(20 * time.Second); ; {
				var err error
				if c, err = client.Dial(ctx, client.Options{PID: pid}); err == nil {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal(err)
				}
				time.Sleep(100 * time.Millisecond)
			}
			defer c.Close()
			if err := c.Join(ctx, g); err != nil {
				t.Fatalf("join %q: %v", g, err)
			}
			c.ReadEvent(ctx) // its own join confchg: the join is visible everywhere
		}
	}
	for _, a := range argSets {
		compare(t, a...)
	}
	var out bytes.Buffer
	if code := run([]string{"cpgtool", "--json"}, &out, os.Stderr); code != 0 || !strings.Contains(out.String(), `"name":"GROUP\\x00","name_hex":"47524f555000","members":[{"pid":502,"nodeid":1,"addrs":["127.0.0.1"]}`) {
		t.Errorf("--json (exit %d): %s", code, out.String())
	}
}
