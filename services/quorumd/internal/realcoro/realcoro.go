// Package realcoro runs Debian's real corosync 3.1.7 for quorumd's tests
// (the client against the real votequorum, quorumtool against
// corosync-quorumtool): each test that needs one re-runs itself in private
// network and mount namespaces (own abstract socket names, own /run and
// /dev/shm), so it meets neither another test's daemon nor the host's.
// Unlike totemd's cfg test helper it takes a quorum {} section and a
// cluster name, which the quorum tests vary.
package realcoro

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
	CorosyncBin   = "/usr/sbin/corosync"
	QuorumtoolBin = "/usr/sbin/corosync-quorumtool"
)

// InPrivateNamespaces runs the calling top-level test again in private
// network and mount namespaces with private /run and /dev/shm and returns
// true there; in the parent it reports the child's result and returns
// false. Without root the test is skipped.
func InPrivateNamespaces(t *testing.T) bool {
	t.Helper()
	return nstest.Run(t, nstest.Tmpfs{Dir: "/run", Opts: "mode=0755"}, nstest.Tmpfs{Dir: "/dev/shm", Opts: "mode=1777"})
}

// Node is one nodelist entry.
type Node struct {
	ID   uint32
	Addr string
	Name string // nodelist name: (optional)
}

// Options describe the corosync to run.
type Options struct {
	// Nodes is the nodelist; corosync picks the entry whose address it can
	// bind. Default: node 1 at 127.0.0.1.
	Nodes []Node
	// Quorum is the body of the quorum {} section ("" = provider
	// corosync_votequorum only; "-" = no quorum section at all).
	Quorum string
	// Netns runs the daemon in that named network namespace (see
	// PeerNamespace) with its own /run, instead of the test's.
	Netns string
	// StateDir is system.state_dir ("" = a fresh temporary directory).
	StateDir string
}

// Corosync is a running daemon.
type Corosync struct {
	Conf string // path of its corosync.conf
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	out  bytes.Buffer
}

// Config renders the corosync.conf for opts (also used to run needle on
// the very same configuration).
func Config(opts Options, stateDir string) string {
	if len(opts.Nodes) == 0 {
		opts.Nodes = []Node{{ID: 1, Addr: "127.0.0.1"}}
	}
	var nodes strings.Builder
	for _, n := range opts.Nodes {
		fmt.Fprintf(&nodes, "\tnode {\n\t\tring0_addr: %s\n\t\tnodeid: %d\n", n.Addr, n.ID)
		if n.Name != "" {
			fmt.Fprintf(&nodes, "\t\tname: %s\n", n.Name)
		}
		nodes.WriteString("\t}\n")
	}
	quorum := "quorum {\n\tprovider: corosync_votequorum\n"
	switch opts.Quorum {
	case "-":
		quorum = ""
	case "":
		quorum += "}\n"
	default:
		for _, l := range strings.Split(strings.TrimSpace(opts.Quorum), "\n") {
			quorum += "\t" + strings.TrimSpace(l) + "\n"
		}
		quorum += "}\n"
	}
	return fmt.Sprintf("totem {\n\tversion: 2\n\tcluster_name: qtest\n\ttransport: udpu\n\tcrypto_cipher: none\n\tcrypto_hash: none\n}\n"+
		"nodelist {\n%s}\n%s"+
		"logging {\n\tto_stderr: yes\n\tto_syslog: no\n\tto_logfile: no\n\tdebug: off\n}\n"+
		"system {\n\tstate_dir: %s\n}\n", nodes.String(), quorum, stateDir)
}

// Start runs corosync with opts and stops it by PID when the test ends.
// Skips the test if corosync is not installed.
func Start(t *testing.T, opts Options) *Corosync {
	t.Helper()
	if _, err := os.Stat(CorosyncBin); err != nil {
		t.Skipf("real corosync not installed: %v", err)
	}
	dir := t.TempDir()
	state := opts.StateDir
	if state == "" {
		state = filepath.Join(dir, "state")
		if err := os.Mkdir(state, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	c := &Corosync{Conf: filepath.Join(dir, "corosync.conf"), done: make(chan struct{})}
	if err := os.WriteFile(c.Conf, []byte(Config(opts, state)), 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd = exec.Command(CorosyncBin, "-f", "-c", c.Conf)
	if opts.Netns != "" {
		c.cmd = exec.Command("ip", "netns", "exec", opts.Netns, "unshare", "-m", "sh", "-c",
			`mount -t tmpfs tmpfs /run && mount -t tmpfs -o mode=1777 tmpfs /dev/shm && exec "$0" -f -c "$1"`, CorosyncBin, c.Conf)
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

// Kill stops the daemon with SIGKILL (a node failure).
func (c *Corosync) Kill() {
	c.cmd.Process.Kill()
	<-c.done
}

// WaitFor retries ready until it succeeds or 30 s pass.
func WaitFor(t *testing.T, what string, ready func(ctx context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
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

// PeerNamespace creates network namespace name joined to the test's by a
// veth pair (dev is our end's name; the peer's is dev+"p"): our end gets
// localAddr, the peer's peerAddr (both /24). Call it only inside
// InPrivateNamespaces (the name lives in the child's private /run).
func PeerNamespace(t *testing.T, name, dev, localAddr, peerAddr string) {
	t.Helper()
	for _, args := range [][]string{
		{"netns", "add", name},
		{"-n", name, "link", "set", "lo", "up"},
		{"link", "add", dev, "type", "veth", "peer", "name", dev + "p", "netns", name},
		{"addr", "add", localAddr + "/24", "dev", dev},
		{"link", "set", dev, "up"},
		{"-n", name, "addr", "add", peerAddr + "/24", "dev", dev + "p"},
		{"-n", name, "link", "set", dev + "p", "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
}
