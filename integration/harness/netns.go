// Package harness builds throw-away clusters for integration tests: one
// network namespace per node, all joined to a bridge that lives in a hub
// namespace of its own, so nothing touches the host's network. Every
// process of a node also gets private bind mounts for /run, /dev/shm,
// /etc/corosync, /var/lib/corosync and /var/log/corosync, so daemons and the
// client tools run against them see only that node's sockets and files.
//
// Everything a Cluster creates is removed by its cleanup, registered with
// the test, even when the test fails; namespaces left by a test binary that
// was killed are removed by the next New.
package harness

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// TB is the part of testing.TB the harness needs.
type TB interface {
	Helper()
	Logf(format string, args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// nsPrefix starts every namespace name the harness creates; the pid that
// follows lets a later run find and remove namespaces of dead runs.
const nsPrefix = "nit"

var staleName = regexp.MustCompile(`^` + nsPrefix + `(\d+)-`)

// Cluster is a set of nodes on one virtual LAN.
type Cluster struct {
	tb    TB
	name  string // namespace name prefix, unique per cluster
	hub   string // namespace holding the bridges
	Dir   string
	Nodes []*Node

	mu      sync.Mutex
	procs   []*Proc
	bridges int // bridges created in hub: br0 .. br<n-1>
	closed  sync.Once
}

// Node is one host of the cluster.
type Node struct {
	c     *Cluster
	Index int
	NS    string     // network namespace name
	Addr  netip.Addr // address on the cluster LAN
	Addr6 netip.Addr // IPv6 address on the cluster LAN
	Dir   string     // node root: run/, shm/, etc/, state/, log/
	port  string     // veth end in the hub namespace
}

// Requirements reports why integration tests cannot run here, or "".
func Requirements() string {
	if os.Geteuid() != 0 {
		return "integration tests need root (network namespaces)"
	}
	for _, bin := range []string{"ip", "unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Sprintf("integration tests need %s: %v", bin, err)
		}
	}
	return ""
}

var clusterSeq struct {
	sync.Mutex
	n int
}

// New creates n nodes with addresses 10.231.0.1 … on one bridge.
func New(tb TB, n int) *Cluster {
	tb.Helper()
	if why := Requirements(); why != "" {
		tb.Fatalf("%s", why)
	}
	removeStale(tb)
	clusterSeq.Lock()
	clusterSeq.n++
	seq := clusterSeq.n
	clusterSeq.Unlock()

	c := &Cluster{tb: tb, name: fmt.Sprintf("%s%d-%d", nsPrefix, os.Getpid(), seq), Dir: tb.TempDir()}
	c.hub = c.name + "-hub"
	tb.Cleanup(c.Close)
	if err := c.setupHub(); err != nil {
		tb.Fatalf("cluster hub: %v", err)
	}
	for i := 0; i < n; i++ {
		if _, err := c.AddNode(); err != nil {
			tb.Fatalf("cluster node %d: %v", i+1, err)
		}
	}
	return c
}

func (c *Cluster) setupHub() error {
	if err := run("ip", "netns", "add", c.hub); err != nil {
		return err
	}
	if err := run("ip", "-n", c.hub, "link", "set", "lo", "up"); err != nil {
		return err
	}
	return c.addBridge()
}

func (c *Cluster) addBridge() error {
	br := fmt.Sprintf("br%d", c.bridges)
	if err := run("ip", "-n", c.hub, "link", "add", br, "type", "bridge"); err != nil {
		return err
	}
	c.bridges++
	return run("ip", "-n", c.hub, "link", "set", br, "up")
}

// AddNode adds one more node to bridge br0 and returns it.
func (c *Cluster) AddNode() (*Node, error) {
	i := len(c.Nodes)
	if i >= 250 {
		return nil, fmt.Errorf("too many nodes (%d)", i)
	}
	nd := &Node{
		c:     c,
		Index: i,
		NS:    fmt.Sprintf("%s-n%d", c.name, i+1),
		Addr:  netip.AddrFrom4([4]byte{10, 231, 0, byte(i + 1)}),
		Addr6: netip.AddrFrom16([16]byte{0: 0xfd, 1: 0x31, 2: 0x02, 3: 0x31, 15: byte(i + 1)}),
		Dir:   filepath.Join(c.Dir, fmt.Sprintf("n%d", i+1)),
		port:  fmt.Sprintf("p%d", i+1),
	}
	for _, d := range []string{"run", "shm", "etc", "state", "log"} {
		if err := os.MkdirAll(filepath.Join(nd.Dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(filepath.Join(nd.Dir, "shm"), 0o1777); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"ip", "netns", "add", nd.NS},
		{"ip", "-n", nd.NS, "link", "set", "lo", "up"},
		{"ip", "link", "add", nd.port, "netns", c.hub, "type", "veth", "peer", "name", "eth0", "netns", nd.NS},
		{"ip", "-n", c.hub, "link", "set", nd.port, "master", "br0", "up"},
		{"ip", "-n", nd.NS, "addr", "add", nd.Addr.String() + "/24", "dev", "eth0"},
		{"ip", "-n", nd.NS, "addr", "add", nd.Addr6.String() + "/64", "dev", "eth0", "nodad"},
		{"ip", "-n", nd.NS, "link", "set", "eth0", "up"},
	}
	for _, s := range steps {
		if err := run(s...); err != nil {
			return nil, err
		}
	}
	c.Nodes = append(c.Nodes, nd)
	return nd, nil
}

// Partition splits the LAN: each group of node indexes gets a bridge of its
// own; nodes not named stay on br0. Heal joins everything again.
func (c *Cluster) Partition(groups ...[]int) error {
	for g, members := range groups {
		for c.bridges <= g+1 {
			if err := c.addBridge(); err != nil {
				return err
			}
		}
		for _, i := range members {
			if err := run("ip", "-n", c.hub, "link", "set", c.Nodes[i].port, "master", fmt.Sprintf("br%d", g+1)); err != nil {
				return err
			}
		}
	}
	return nil
}

// Heal puts every node back on br0.
func (c *Cluster) Heal() error {
	for _, nd := range c.Nodes {
		if err := run("ip", "-n", c.hub, "link", "set", nd.port, "master", "br0"); err != nil {
			return err
		}
	}
	return nil
}

// SetLoss drops pct percent of the UDP datagrams node i receives (0 removes
// the rule). The kernel here has no netem, so loss is an nftables rule with
// a random number generator; it needs the nft binary.
func (c *Cluster) SetLoss(i, pct int) error {
	nd := c.Nodes[i]
	_ = run("ip", "netns", "exec", nd.NS, "nft", "delete", "table", "inet", "needle_loss")
	if pct <= 0 {
		return nil
	}
	rules := fmt.Sprintf(`table inet needle_loss {
  chain input {
    type filter hook input priority 0; policy accept;
    iifname "eth0" meta l4proto udp numgen random mod 100 < %d drop
  }
}
`, pct)
	cmd := exec.Command("ip", "netns", "exec", nd.NS, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("nft loss %d%% on node %d: %v: %s", pct, i+1, err, out)
	}
	return nil
}

// mountScript runs inside the node's network and (new) mount namespace: it
// binds the node's private directories over the system paths and execs the
// command, so the PID the harness holds is the command's own.
const mountScript = `set -e
d="$1"; shift
mount --bind "$d/run" /run
mount --bind "$d/shm" /dev/shm
mkdir -p /etc/corosync /var/lib/corosync /var/log/corosync
mount --bind "$d/etc" /etc/corosync
mount --bind "$d/state" /var/lib/corosync
mount --bind "$d/log" /var/log/corosync
if [ -d "$d/pcmk" ]; then
  mount --bind "$d/pcmk/lib" /var/lib/pacemaker
  mount --bind "$d/pcmk/log" /var/log/pacemaker
fi
exec "$@"`

func (nd *Node) command(ctx context.Context, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", nd.NS, "unshare", "-m", "--propagation", "private",
		"sh", "-c", mountScript, "sh", nd.Dir}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// Run runs a command on the node to completion and returns its combined
// output.
func (nd *Node) Run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := nd.command(ctx, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("node %d: %s: %w: %s", nd.Index+1, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// WriteFile writes a file into the node's root (e.g. "etc/corosync.conf").
func (nd *Node) WriteFile(rel string, data []byte, mode os.FileMode) error {
	p := filepath.Join(nd.Dir, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, data, mode)
}

// Proc is a long-running process on a node.
type Proc struct {
	Node *Node
	Name string
	Log  string // path of its combined stdout/stderr
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts a long-running process on the node; its output goes to
// <node dir>/<name>.log.
func (nd *Node) Start(name string, args ...string) (*Proc, error) {
	logPath := filepath.Join(nd.Dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := nd.command(context.Background(), args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("node %d: start %s: %w", nd.Index+1, name, err)
	}
	p := &Proc{Node: nd, Name: name, Log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	nd.c.mu.Lock()
	nd.c.procs = append(nd.c.procs, p)
	nd.c.mu.Unlock()
	return p, nil
}

// PID is the process id (the command itself: the launch chain execs).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to timeout for the process to end by itself and returns
// its error (nil after exit status 0); after timeout it kills it.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("%s on node %d did not end within %v; killed", p.Name, p.Node.Index+1, timeout)
	}
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Proc) Kill() error {
	if p.Exited() {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	return nil
}

// Stop sends SIGTERM and waits up to timeout, then kills.
func (p *Proc) Stop(timeout time.Duration) error { return p.StopWith(syscall.SIGTERM, timeout) }

// StopWith is Stop with another signal: SIGINT stops a needle service
// daemon without handing its clients over to a successor (svchost), as
// a stop for good should.
func (p *Proc) StopWith(sig syscall.Signal, timeout time.Duration) error {
	if p.Exited() {
		return p.err
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		_ = p.Kill()
		return fmt.Errorf("%s on node %d did not stop within %v; killed", p.Name, p.Node.Index+1, timeout)
	}
}

// Output returns what the process has written so far.
func (p *Proc) Output() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Close kills the cluster's processes and deletes its namespaces now
// instead of at the end of the test. A test that builds one large cluster
// after another must close each first: the kernel's neighbour (ARP) table
// is one for all namespaces, gc_thresh3 = 1024 entries by default, and a
// 32-node cluster's full mesh holds 992 of them for a minute after its
// processes stopped; the next cluster's nodes then cannot resolve each
// other ("neighbour: arp_cache: neighbor table overflow!", sends failing
// with ENOBUFS) and form singleton rings until the old entries age out —
// which made every 32-node cluster after BenchmarkFormation's first take
// 40–55 s to form (on needle: the benchmark blamed it for a bimodal
// formation time).
func (c *Cluster) Close() { c.closed.Do(c.remove) }

func (c *Cluster) remove() {
	c.mu.Lock()
	procs := c.procs
	c.mu.Unlock()
	for _, p := range procs {
		_ = p.Kill()
	}
	for _, nd := range c.Nodes {
		nd.killLeftovers()
		if err := run("ip", "netns", "del", nd.NS); err != nil {
			c.tb.Logf("teardown: %v", err)
		}
	}
	if err := run("ip", "netns", "del", c.hub); err != nil {
		c.tb.Logf("teardown: %v", err)
	}
}

// killLeftovers kills what still runs in the node's network namespace
// after its processes were killed: children a daemon forked (pacemakerd's
// sub-daemons) outlive a SIGKILL of their parent. Only this cluster's
// processes live in its namespaces.
func (nd *Node) killLeftovers() {
	out, err := exec.Command("ip", "netns", "pids", nd.NS).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// removeStale deletes namespaces made by harness runs whose process is gone.
func removeStale(tb TB) {
	out, err := exec.Command("ip", "netns", "list").Output()
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		m := staleName.FindStringSubmatch(fields[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) == nil {
			continue
		}
		if err := run("ip", "netns", "del", fields[0]); err == nil {
			tb.Logf("removed stale namespace %s", fields[0])
		}
	}
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// ExitCode is the process's exit status once it has ended (-1 before, or
// when it died of a signal).
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// SetDelay adds a fixed delay (with jitter) to everything node i sends,
// with tc netem. Kernels built without sch_netem (this workplace's is one)
// cannot delay packets at all; then the error says so and the caller
// should skip. A zero delay removes the qdisc.
func (c *Cluster) SetDelay(i int, delay, jitter time.Duration) error {
	nd := c.Nodes[i]
	_ = run("ip", "netns", "exec", nd.NS, "tc", "qdisc", "del", "dev", "eth0", "root")
	if delay <= 0 {
		return nil
	}
	err := run("ip", "netns", "exec", nd.NS, "tc", "qdisc", "add", "dev", "eth0", "root", "netem",
		"delay", fmt.Sprintf("%dus", delay.Microseconds()), fmt.Sprintf("%dus", jitter.Microseconds()))
	if err != nil {
		return fmt.Errorf("delay on node %d needs tc netem (kernel sch_netem): %w", i+1, err)
	}
	return nil
}
