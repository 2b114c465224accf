package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/nstest"
)

func startCorosync(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	conf := fmt.Sprintf("totem {\n\tversion: 2\n\tcluster_name: cpgload\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\n"+
		"nodelist {\n\tnode {\n\t\tring0_addr: 127.0.0.1\n\t\tnodeid: 1\n\t}\n}\nquorum {\n\tprovider: corosync_votequorum\n}\n"+
		"logging {\n\tto_stderr: yes\n\tto_syslog: no\n}\nsystem {\n\tstate_dir: %s\n}\n", dir)
	path := filepath.Join(dir, "corosync.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command("/usr/sbin/corosync", "-f", "-c", path)
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

// TestRealCorosync runs three instances against a real corosync 3.1.7
// (two senders flat out, one receive-only; then 2 MiB messages that travel
// as partial fragments): every instance completes with nothing lost and
// the same order hash.
func TestRealCorosync(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/corosync"); err != nil {
		t.Skipf("corosync not installed: %v", err)
	}
	if !nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"}) {
		return
	}
	startCorosync(t)
	for _, tc := range []struct {
		name        string
		size, count int
		rate        float64
	}{{"1KiB flat out", 1024, 3000, 0}, {"2MiB partial", 2 << 20, 4, 0}, {"paced", 100, 200, 1000}} {
		t.Run(tc.name, func(t *testing.T) {
			var wg sync.WaitGroup
			outs := make([]bytes.Buffer, 3)
			errs := make([]error, 3)
			for i := range outs {
				cfg := config{group: "load-" + tc.name, members: 3, size: tc.size, count: tc.count, rate: tc.rate,
					timeout: 60 * time.Second, pid: uint32(7000 + i)}
				if i == 2 {
					cfg.count = 0
				}
				wg.Add(1)
				go func() { defer wg.Done(); errs[i] = runLoad(cfg, &outs[i]) }()
			}
			wg.Wait()
			var hash string
			for i := range outs {
				var r result
				if err := json.Unmarshal(outs[i].Bytes(), &r); err != nil || errs[i] != nil {
					t.Fatalf("instance %d: %v %v %q", i, errs[i], err, outs[i].String())
				}
				t.Logf("%s", bytes.TrimSpace(outs[i].Bytes()))
				if !r.OK || r.Received != uint64(2*tc.count) || r.Senders != 2 {
					t.Fatalf("instance %d: %+v", i, r)
				}
				if hash != "" && r.OrderHash != hash {
					t.Fatalf("order hashes differ: %s and %s", hash, r.OrderHash)
				}
				hash = r.OrderHash
			}
		})
	}
}
