package integration

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// cmapBins are cmapd and our cmapctl, built once by the first test that
// needs them (TestMain belongs to needle_test.go).
var cmapBins struct {
	once    sync.Once
	cmapd   string
	cmapctl string
	err     error
}

func needCmapd(t testing.TB) {
	t.Helper()
	cmapBins.once.Do(func() {
		cmapBins.cmapd = filepath.Join(bins.dir, "cmapd")
		cmapBins.cmapctl = filepath.Join(bins.dir, "cmapctl")
		for pkg, out := range map[string]string{"../services/cmapd": cmapBins.cmapd, "../services/cmapd/cmd/cmapctl": cmapBins.cmapctl} {
			if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
				cmapBins.err = fmt.Errorf("go build %s: %v: %s", pkg, err, b)
			}
		}
	})
	if cmapBins.err != nil {
		t.Fatal(cmapBins.err)
	}
}

// nodeMounts is the harness's per-node view (private /run, /dev/shm and
// /etc/corosync), repeated here for commands that need standard input.
const nodeMounts = `set -e
d="$1"; shift
mount --bind "$d/run" /run
mount --bind "$d/shm" /dev/shm
mkdir -p /etc/corosync /var/lib/corosync /var/log/corosync
mount --bind "$d/etc" /etc/corosync
mount --bind "$d/state" /var/lib/corosync
mount --bind "$d/log" /var/log/corosync
exec "$@"`

// nodeCmd builds a command run inside node nd's namespaces.
func nodeCmd(ctx context.Context, nd *harness.Node, args ...string) *exec.Cmd {
	full := append([]string{"netns", "exec", nd.NS, "unshare", "-m", "--propagation", "private",
		"sh", "-c", nodeMounts, "sh", nd.Dir}, args...)
	cmd := exec.CommandContext(ctx, "ip", full...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// ctlResult is one cmapctl run: what it printed and its exit status.
type ctlResult struct {
	Stdout, Stderr string
	Code           int
}

func (r ctlResult) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%sstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// ctl runs a cmapctl binary (ours or Debian's) on a node.
func ctl(t testing.TB, nd *harness.Node, tool string, args ...string) ctlResult {
	t.Helper()
	return ctlWithin(t, 30*time.Second, nd, tool, args...)
}

// ctlWithin is ctl for a command that may take up to limit.
func ctlWithin(t testing.TB, limit time.Duration, nd *harness.Node, tool string, args ...string) ctlResult {
	t.Helper()
	r, err := runTool(limit, nd, tool, args...)
	if err != nil {
		t.Fatalf("node %d: %s %v: %v", nd.Index+1, tool, args, err)
	}
	return r
}

// runTool runs tool in node nd for at most limit; err is set when it
// could not run. An exit status is not an error, nor is being killed at
// the limit (Code -1, as exec reports a signal). Goroutines that must not
// call t.Fatal use it directly.
func runTool(limit time.Duration, nd *harness.Node, tool string, args ...string) (ctlResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := nodeCmd(ctx, nd, append([]string{tool}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ctlResult{out.String(), errb.String(), ee.ExitCode()}, nil
	}
	return ctlResult{out.String(), errb.String(), 0}, err
}

const debianCmapctl = "/usr/sbin/corosync-cmapctl"

// waitMembers waits until cmap on nd lists every node in ids as joined,
// with the config_version it sent in the last sync round.
func waitMembers(t testing.TB, nd *harness.Node, ids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last ctlResult
	for time.Now().Before(deadline) {
		ok := true
		for _, id := range ids {
			last = ctl(t, nd, debianCmapctl, "-q", "-g", fmt.Sprintf("runtime.members.%d.status", id))
			if last.Code != 0 || last.Stdout != "joined\n" {
				ok = false
				break
			}
			// Present once the node's cmap took part in a sync round
			// with this member (cmapd may attach after the ring formed).
			last = ctl(t, nd, debianCmapctl, "-g", fmt.Sprintf("runtime.members.%d.config_version", id))
			if last.Code != 0 {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("node %d: members %v not all joined in cmap after %v; last: %s", nd.Index+1, ids, timeout, last)
}

// Keys that legitimately differ between a needle node and a real corosync
// node of the same configuration:
//   - runtime.services.<svc>.<n>.tx/rx: ring message counters, which
//     depend on timing; their names and types are still compared;
//   - runtime.votequorum.*: written by quorumd, which this test does not
//     run; dropped.
//
// Everything else, runtime.members.* included, must be identical.
var (
	counterKey = regexp.MustCompile(`^runtime\.services\.[a-z]+\.[0-9]+\.(tx|rx)$`)
	quorumdKey = regexp.MustCompile(`^runtime\.votequorum\.`)
)

// comparableDump drops the values of counters and the quorumd keys of a
// cmapctl listing.
func comparableDump(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		key, _, _ := strings.Cut(l, " (")
		switch {
		case l == "" || quorumdKey.MatchString(key):
		case counterKey.MatchString(key):
			head, _, _ := strings.Cut(l, " = ")
			b.WriteString(head + "\n")
		default:
			b.WriteString(l)
		}
	}
	return b.String()
}

// cmapScript is a sequence of cmapctl commands whose outputs must be the
// same against cmapd and against corosync, with either tool. It leaves
// the map as it found it.
var cmapScript = [][]string{
	{"-s", "it.u8", "u8", "200"},
	{"-s", "it.u8", "u8", "300"},
	{"-s", "--", "it.i32", "i32", "-5"},
	{"-s", "it.str", "str", "hello world"},
	{"-s", "it.dbl", "dbl", "2.5"},
	{"-s", "it.bad", "foo", "1"},
	{"-s", "a", "u8", "1"},
	{"-g", "it.u8", "it.i32", "it.str", "it.dbl"},
	{"-s", "it.bin", "bin", "/etc/corosync/it-bin"},
	{"-s", "it.bin2", "bin", "/etc/corosync/no-such-file"},
	{"it.bin"},
	{"-b", "-g", "it.bin"},
	{"-p", "/etc/corosync/it-load"},
	{"-b", "it."},
	{"-C", "all"},
	{"-m", "stats", "-g", "stats.clear.all"},
	{"-q", "-g", "it.str"},
	{"it."},
	{"-g", "it.nonexist"},
	{"-s", "totem.cluster_name", "str", "x"},
	{"-s", "runtime.config.totem.token", "u32", "5"},
	{"-d", "nodelist.local_node_pos"},
	{"-d", "it.u8"},
	{"-d", "it.u8"},
	{"-g", "it.u8"},
	{"-D", "it."},
	{"it."},
	{"-m", "stats", "-s", "stats.srp.mcast_tx", "u64", "1"},
	{"-m", "bogus"},
	{"-g"},
	{"-s", "x"},
	{"nodelist.", "quorum."},
}

func runScript(t *testing.T, nd *harness.Node, tool string) []ctlResult {
	var out []ctlResult
	for _, args := range cmapScript {
		out = append(out, ctl(t, nd, tool, args...))
	}
	return out
}

// trackRun tracks prefix (-T) or the key prefix+"a" (-t) with tool on
// node nd while changes are made on the same node, and returns what the
// tracker printed.
func trackRun(t *testing.T, nd *harness.Node, tool, flag, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	target, last := prefix, "delete> "+prefix+"a (u32) = 2\n"
	if flag == "-t" {
		target = prefix + "a"
	}
	// stdbuf: the C tool buffers its piped stdout until it exits.
	cmd := nodeCmd(ctx, nd, "stdbuf", "-oL", tool, flag, target)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, &out, `Type "q" to finish`+"\n", 10*time.Second)
	time.Sleep(200 * time.Millisecond) // the tracker is added before the banner
	for _, args := range [][]string{
		{"-s", prefix + "a", "u32", "1"},
		{"-s", prefix + "a", "u32", "2"},
		{"-s", prefix + "b", "str", "x y"},
		{"-d", prefix + "b"},
		{"-d", prefix + "a"},
	} {
		if r := ctl(t, nd, debianCmapctl, args...); r.Code != 0 {
			t.Fatalf("%v: %s", args, r)
		}
	}
	waitOutput(t, &out, last, 10*time.Second)
	io.WriteString(stdin, "q\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %s: %v: %s", tool, flag, err, out.String())
	}
	return out.String()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitOutput(t *testing.T, b *syncBuffer, suffix string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if strings.HasSuffix(b.String(), suffix) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("output does not end in %q after %v:\n%s", suffix, timeout, b.String())
}

// cmapConf is the harness configuration plus the IPC transport.
func cmapConf(c *harness.Cluster, ipcType string, extra string) []byte {
	conf := c.CorosyncConf(harness.ConfOptions{Token: 1000, Logging: "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires\n\tlogger_subsys {\n\t\tsubsys: CMAP\n\t\tdebug: on\n\t}"})
	return append(conf, []byte(fmt.Sprintf("system {\n\tqb_ipc_type: %s\n}\n%s", ipcType, extra))...)
}

// writeConf writes corosync.conf and the input files of cmapScript to
// every node.
func writeConf(t *testing.T, c *harness.Cluster, conf []byte) {
	t.Helper()
	load := "it.p1 u8 1\n\t# comment\n\nit.p2 str x\nit.p3 u16 7\n^it.p1\n^it.none\n^^it.p2\n"
	for _, nd := range c.Nodes {
		for name, data := range map[string][]byte{
			"etc/corosync.conf": conf, "etc/it-bin": []byte("ab\\\x01\xff\n"), "etc/it-load": []byte(load),
		} {
			if err := nd.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// realReference runs a 3-node Debian corosync cluster with the same
// configuration and records the dump, the script and the tracker output
// there, with Debian's tool.
type reference struct {
	dump   string
	script []ctlResult
	track  map[string]string // by -T / -t
	ours   []ctlResult       // our cmapctl against real corosync
}

func realReference(t *testing.T, ipcType string) reference {
	c := harness.New(t, 3)
	writeConf(t, c, cmapConf(c, ipcType, ""))
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	for _, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitNodes(t, 3, 30*time.Second, c.Nodes...)
	waitMembers(t, c.Nodes[0], []int{1, 2, 3}, 10*time.Second)
	nd := c.Nodes[0]
	ref := reference{dump: ctl(t, nd, debianCmapctl).Stdout}
	ref.script = runScript(t, nd, debianCmapctl)
	ref.ours = runScript(t, nd, cmapBins.cmapctl)
	ref.track = map[string]string{}
	for _, flag := range []string{"-T", "-t"} {
		ref.track[flag] = trackRun(t, nd, debianCmapctl, flag, "it.trk.")
	}
	for _, p := range procs {
		_ = p.Stop(10 * time.Second)
	}
	return ref
}

// TestCmapdAgainstCorosync runs needle (totemd + cmapd per node) and real
// corosync with the same 3-node configuration, for both IPC transports,
// and compares what Debian's corosync-cmapctl and our cmapctl print.
func TestCmapdAgainstCorosync(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	for _, ipcType := range []string{"shm", "socket"} {
		t.Run(ipcType, func(t *testing.T) {
			ref := realReference(t, ipcType)
			// The reference must be a working cluster, or every comparison
			// below would compare failures.
			for _, want := range []string{"runtime.members.3.status (str) = joined\n", "totem.cluster_name (str) = needle-it\n"} {
				if !strings.Contains(ref.dump, want) {
					t.Fatalf("corosync's dump lacks %q:\n%s", want, ref.dump)
				}
			}
			if r := ref.script[7]; r.Code != 0 || !strings.Contains(r.Stdout, "it.u8 (u8) = 200\n") {
				t.Fatalf("corosync's -g: %s", r)
			}
			for i, want := range ref.script {
				if got := ref.ours[i]; got != want {
					t.Errorf("against corosync, cmapctl %v:\nours: %s\ndebian: %s", cmapScript[i], got, want)
				}
			}
			c := harness.New(t, 3)
			writeConf(t, c, cmapConf(c, ipcType, ""))
			var procs []*harness.Proc
			dumpOnFailure(t, &procs)
			var totems []*harness.Proc
			for _, nd := range c.Nodes {
				totems = append(totems, startTotemd(t, nd))
			}
			procs = append(procs, totems...)
			for _, nd := range c.Nodes {
				p, err := nd.Start("cmapd", cmapBins.cmapd, "-f")
				if err != nil {
					t.Fatal(err)
				}
				procs = append(procs, p)
			}
			waitRing(t, "1 2 3", 30*time.Second, totems...)
			for _, nd := range c.Nodes {
				waitMembers(t, nd, []int{1, 2, 3}, 10*time.Second)
			}
			nd := c.Nodes[0]

			dumpDebian := ctl(t, nd, debianCmapctl)
			dumpOurs := ctl(t, nd, cmapBins.cmapctl)
			if a, b := comparableDump(dumpDebian.Stdout), comparableDump(dumpOurs.Stdout); a != b {
				t.Errorf("cmapd dump: our cmapctl and Debian's differ:\n%s", lineDiff(b, a))
			}
			t.Logf("comparing dumps of %d keys (corosync has %d)", strings.Count(comparableDump(ref.dump), "\n"), strings.Count(ref.dump, "\n"))
			if a, b := comparableDump(ref.dump), comparableDump(dumpDebian.Stdout); a != b {
				t.Errorf("dump of cmapd differs from corosync's (-corosync +cmapd):\n%s", lineDiff(a, b))
			}
			for _, tool := range []string{debianCmapctl, cmapBins.cmapctl} {
				got := runScript(t, nd, tool)
				for i, want := range ref.script {
					if got[i] != want {
						t.Errorf("cmapctl %v with %s on cmapd:\ngot: %s\ncorosync: %s", cmapScript[i], filepath.Base(tool), got[i], want)
					}
				}
				for flag, want := range ref.track {
					if tr := trackRun(t, nd, tool, flag, "it.trk."); tr != want {
						t.Errorf("track %s with %s on cmapd:\n%s\ncorosync:\n%s", flag, filepath.Base(tool), tr, want)
					}
				}
			}

			// cmap is node-local, except totem.config_version, which every
			// node learns through the ring.
			ctl(t, nd, cmapBins.cmapctl, "-s", "it.local", "u8", "1")
			if r := ctl(t, c.Nodes[1], cmapBins.cmapctl, "-g", "it.local"); r.Code != 1 {
				t.Errorf("a key set on node 1 is visible on node 2: %s", r)
			}
			ctl(t, nd, cmapBins.cmapctl, "-s", "totem.config_version", "u64", "7")
			waitValue(t, c.Nodes[2], "runtime.members.1.config_version", "7\n", 5*time.Second)

			testReloadFromDisk(t, c, ipcType, procs)

			if ipcType != "shm" {
				return // the rest does not depend on the IPC transport
			}
			// totemd dies under a running cmapd: the others see the node
			// leave; the restarted totemd gets the same cmapd back.
			if err := totems[2].Kill(); err != nil {
				t.Fatal(err)
			}
			waitValue(t, c.Nodes[0], "runtime.members.3.status", "left\n", 15*time.Second)
			totems[2] = startTotemd(t, c.Nodes[2])
			procs = append(procs, totems[2])
			waitRing(t, "1 2 3", 30*time.Second, totems...)
			for _, nd := range c.Nodes {
				waitMembers(t, nd, []int{1, 2, 3}, 15*time.Second)
			}
			waitValue(t, c.Nodes[0], "runtime.members.3.join_count", "2\n", 5*time.Second)
			for _, p := range procs {
				if p.Name == "cmapd" && p.Exited() {
					t.Errorf("cmapd on node %d exited:\n%s", p.Node.Index+1, p.Output())
				}
			}
		})
	}
}

// waitValue waits until -q -g key prints want on nd.
func waitValue(t *testing.T, nd *harness.Node, key, want string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	var last ctlResult
	for time.Since(start) < timeout {
		last = ctl(t, nd, cmapBins.cmapctl, "-q", "-g", key)
		if last.Code == 0 && last.Stdout == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("node %d: %s is not %q after %v: %s", nd.Index+1, key, want, timeout, last)
	return 0
}

// testReloadFromDisk edits node 1's corosync.conf: a valid edit reaches
// the map quickly; a broken one is logged and changes nothing.
func testReloadFromDisk(t *testing.T, c *harness.Cluster, ipcType string, procs []*harness.Proc) {
	nd := c.Nodes[0]
	good := cmapConf(c, ipcType, "resources {\n\tneedle_it: 42\n}\n")
	good = bytes.Replace(good, []byte("provider: corosync_votequorum"), []byte("provider: corosync_votequorum\n\texpected_votes: 3"), 1)
	if err := nd.WriteFile("etc/corosync.conf", good, 0o644); err != nil {
		t.Fatal(err)
	}
	d := waitValue(t, nd, "quorum.expected_votes", "3\n", 5*time.Second)
	t.Logf("config edit reached the map in %v", d)
	if d > time.Second {
		t.Errorf("config edit took %v to reach the map, want under 1 s", d)
	}
	if err := nd.WriteFile("etc/corosync.conf", append(good, []byte("totem {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	var cmapdLog *harness.Proc
	for _, p := range procs {
		if p.Name == "cmapd" && p.Node == nd {
			cmapdLog = p
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	// An auto-reload of a file that does not parse changes nothing and
	// names the file and line (issue 15: validate first).
	for !strings.Contains(cmapdLog.Output(), "not reloaded; the running configuration is unchanged file=/etc/corosync/corosync.conf reason=\"parser error: /etc/corosync/corosync.conf:") {
		if time.Now().After(deadline) {
			t.Fatalf("broken config not reported in the cmapd log:\n%s", cmapdLog.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := ctl(t, nd, cmapBins.cmapctl, "-q", "-g", "quorum.expected_votes"); r.Stdout != "3\n" {
		t.Errorf("broken edit changed the map: %s", r)
	}
	for _, p := range procs {
		if p.Exited() {
			t.Errorf("%s on node %d exited after a broken config edit", p.Name, p.Node.Index+1)
		}
	}
	waitMembers(t, nd, []int{1, 2, 3}, 5*time.Second)
}

// lineDiff lists the lines only in a ("-") or only in b ("+").
func lineDiff(a, b string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	ma, mb := in(a), in(b)
	var out strings.Builder
	for _, l := range strings.Split(a, "\n") {
		if !mb[l] {
			out.WriteString("-" + l + "\n")
		}
	}
	for _, l := range strings.Split(b, "\n") {
		if !ma[l] {
			out.WriteString("+" + l + "\n")
		}
	}
	return out.String()
}
