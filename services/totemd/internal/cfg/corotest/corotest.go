// Package corotest runs real corosync 3.1.7 daemons for the cfg tests:
// each test that needs one re-runs itself in private network and mount
// namespaces (own abstract socket names, own /run), so it meets neither
// another test's daemon nor one running on the host.
package corotest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/libs/nstest"
)

// Binaries of Debian's corosync packages.
const (
	CorosyncBin = "/usr/sbin/corosync"
	CfgtoolBin  = "/usr/sbin/corosync-cfgtool"
)

// InPrivateNamespaces runs the calling top-level test again in private
// network and mount namespaces (nstest.Run) with a private /run, where
// corosync's pid lock lives, and returns true there; in the parent it
// reports the child's result and returns false. Tests that cannot have
// namespaces (not root) are skipped.
func InPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	return nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"})
}

// Node is one nodelist entry.
type Node struct {
	ID   uint32
	Addr string
}

// Options describe the corosync to run.
type Options struct {
	// Nodes is the nodelist; the daemon is the one whose Addr it can bind
	// (corosync picks it). Default: node 1 at 127.0.0.1.
	Nodes []Node
	// IPCType is system.qb_ipc_type ("" = native shm).
	IPCType string
	// Transport is totem.transport ("" = udpu).
	Transport string
	// TotemExtra is added inside the totem section (e.g. "ip_version: ipv6").
	TotemExtra string
	// Extra is appended to the configuration (e.g. a cfg section).
	Extra string
	// Netns runs the daemon in that named network namespace (see
	// PeerNamespace) with its own /run, instead of the test's.
	Netns string
}

// Corosync is a running daemon.
type Corosync struct {
	Conf string // path of its corosync.conf
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

// Start runs corosync with opts and stops it by PID when the test ends.
// Skips the test if corosync is not installed.
func Start(t *testing.T, opts Options) *Corosync {
	t.Helper()
	if _, err := os.Stat(CorosyncBin); err != nil {
		t.Skipf("real corosync not installed: %v", err)
	}
	if len(opts.Nodes) == 0 {
		opts.Nodes = []Node{{ID: 1, Addr: "127.0.0.1"}}
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	var nodes strings.Builder
	for _, n := range opts.Nodes {
		fmt.Fprintf(&nodes, "\tnode {\n\t\tring0_addr: %s\n\t\tnodeid: %d\n\t}\n", n.Addr, n.ID)
	}
	ipc := ""
	if opts.IPCType != "" {
		ipc = "\tqb_ipc_type: " + opts.IPCType + "\n"
	}
	totemExtra := ""
	if opts.TotemExtra != "" {
		totemExtra = "\t" + opts.TotemExtra + "\n"
	}
	if opts.Transport == "" {
		opts.Transport = "udpu"
	}
	conf := fmt.Sprintf("totem {\n\tversion: 2\n\tcluster_name: cfgtest\n\ttransport: %s\n\tcrypto_cipher: none\n\tcrypto_hash: none\n%s}\n"+
		"nodelist {\n%s}\nquorum {\n\tprovider: corosync_votequorum\n}\n"+
		"logging {\n\tto_stderr: yes\n\tto_syslog: no\n\tto_logfile: no\n\tdebug: on\n}\n"+
		"system {\n\tstate_dir: %s\n%s}\n%s", opts.Transport, totemExtra, nodes.String(), state, ipc, opts.Extra)
	c := &Corosync{Conf: filepath.Join(dir, "corosync.conf"), done: make(chan struct{})}
	if err := os.WriteFile(c.Conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(CorosyncBin, "-f", "-c", c.Conf)
	if opts.Netns != "" {
		c.cmd = exec.Command("ip", "netns", "exec", opts.Netns, "unshare", "-m", "sh", "-c",
			`mount -t tmpfs tmpfs /run && exec "$0" -f -c "$1"`, CorosyncBin, c.Conf)
	}
	c.cmd.Stdout, c.cmd.Stderr = (*lockedWriter)(c), (*lockedWriter)(c)
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start corosync: %v", err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.Stop()
		if t.Failed() {
			t.Logf("corosync output:\n%s", c.Output())
		}
	})
	return c
}

// lockedWriter collects the daemon's output.
type lockedWriter Corosync

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.out.Write(p)
}

// Output is what the daemon logged so far.
func (c *Corosync) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

// Done is closed when the daemon has exited.
func (c *Corosync) Done() <-chan struct{} { return c.done }

// ExitCode is the daemon's exit status once Done is closed.
func (c *Corosync) ExitCode() int { return c.cmd.ProcessState.ExitCode() }

// Stop terminates the daemon (SIGTERM, then SIGKILL after 10 s).
func (c *Corosync) Stop() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
		<-c.done
	}
}

// WaitFor retries ready until it succeeds or 20 s pass.
func WaitFor(t *testing.T, what string, ready func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ready(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PeerNamespace creates network namespace name joined to the test's by
// a veth pair: our end gets localAddr, the peer's peerAddr (both /24).
// Call it only inside InPrivateNamespaces (the name lives in the child's
// private /run, so it vanishes with the child).
func PeerNamespace(t *testing.T, name, localAddr, peerAddr string) {
	t.Helper()
	for _, args := range [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "set", "lo", "up"},
		{"link", "add", "cfgt0", "type", "veth", "peer", "name", "cfgt1", "netns", name},
		{"addr", "add", localAddr + "/24", "dev", "cfgt0"},
		{"link", "set", "cfgt0", "up"},
		{"-n", name, "addr", "add", peerAddr + "/24", "dev", "cfgt1"},
		{"-n", name, "link", "set", "cfgt1", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
}
