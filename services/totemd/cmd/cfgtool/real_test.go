package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/services/totemd/internal/cfg/client"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/corotest"
)

var update = flag.Bool("update", false, "record the real corosync-cfgtool's output into testdata/real")

const updateEnv = "NEEDLE_CFGTOOL_UPDATE"

// recording reports -update, which reaches the namespaced child process
// through the environment.
func recording(t *testing.T) bool {
	if *update && os.Getenv(updateEnv) == "" {
		t.Setenv(updateEnv, "1")
	}
	return os.Getenv(updateEnv) != ""
}

// result is what one invocation printed and returned.
type result struct {
	args           []string
	stdout, stderr string
	exit           int
}

// The recorded form, one file per scenario:
//
//	args: -s -b
//	exit: 0
//	--- stdout
//	...
//	--- stderr
//	...
//	=== end
func formatResults(rs []result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "args: %s\nexit: %d\n--- stdout\n%s--- stderr\n%s=== end\n", strings.Join(r.args, " "), r.exit, r.stdout, r.stderr)
	}
	return b.String()
}

func parseResults(t *testing.T, text string) []result {
	t.Helper()
	var out []result
	for _, rec := range strings.SplitAfter(text, "=== end\n") {
		if rec == "" {
			continue
		}
		head, rest, ok1 := strings.Cut(rec, "--- stdout\n")
		stdout, rest, ok2 := strings.Cut(rest, "--- stderr\n")
		stderr, _, ok3 := strings.Cut(rest, "=== end\n")
		lines := strings.Split(strings.TrimSuffix(head, "\n"), "\n")
		if !ok1 || !ok2 || !ok3 || len(lines) != 2 || !strings.HasPrefix(lines[0], "args: ") || !strings.HasPrefix(lines[1], "exit: ") {
			t.Fatalf("bad record %q", rec)
		}
		exit, err := strconv.Atoi(strings.TrimPrefix(lines[1], "exit: "))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, result{strings.Fields(strings.TrimPrefix(lines[0], "args: ")), stdout, stderr, exit})
	}
	return out
}

// invoke runs the real tool (recording) or ours, as "corosync-cfgtool".
func invoke(t *testing.T, args []string) result {
	t.Helper()
	r := result{args: args}
	if recording(t) {
		var out, errb bytes.Buffer
		cmd := exec.Command(corotest.CfgtoolBin, args...)
		cmd.Args[0] = "corosync-cfgtool" // getopt prints argv[0]
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); ok {
			r.exit = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("run %s: %v", corotest.CfgtoolBin, err)
		}
		r.stdout, r.stderr = out.String(), errb.String()
		return r
	}
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	r.exit = run(ctx, append([]string{"corosync-cfgtool"}, args...), &out, &errb)
	r.stdout, r.stderr = out.String(), errb.String()
	return r
}

// scenario runs the argument lists in order and compares with (or, with
// -update, records) testdata/real/<name>.txt. mask, if set, rewrites
// values that legitimately change between runs before comparing.
func scenario(t *testing.T, name string, cases [][]string, mask ...func(string) string) {
	t.Helper()
	if recording(t) {
		if _, err := os.Stat(corotest.CfgtoolBin); err != nil {
			t.Skipf("real corosync-cfgtool not installed: %v", err)
		}
	}
	var got []result
	for _, args := range cases {
		got = append(got, invoke(t, args))
	}
	path := filepath.Join("testdata", "real", name+".txt")
	if recording(t) {
		if err := os.WriteFile(path, []byte(formatResults(got)), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := parseResults(t, string(data))
	if len(want) != len(got) {
		t.Fatalf("%s: %d recorded invocations, %d run", path, len(want), len(got))
	}
	for i := range want {
		g, w := formatResults(got[i:i+1]), formatResults(want[i:i+1])
		for _, m := range mask {
			g, w = m(g), m(w)
		}
		if g != w {
			t.Errorf("%s: cfgtool %s differs from corosync-cfgtool:\n--- ours\n%s--- corosync's\n%s", path, strings.Join(want[i].args, " "), g, w)
		}
	}
}

// waitNodes waits until the daemon answers and sees the given nodes.
func waitNodes(t *testing.T, nodes ...uint32) {
	t.Helper()
	corotest.WaitFor(t, "cfg service and membership", func(ctx context.Context) error {
		c, err := client.Dial(ctx)
		if err != nil {
			return err
		}
		defer c.Close()
		for _, n := range nodes {
			ns, err := c.NodeStatus(ctx, n)
			if err != nil {
				return err
			}
			if ns.Reachable == 0 {
				return fmt.Errorf("node %d not reachable yet", n)
			}
		}
		return nil
	})
}

// TestNoDaemon: option handling and the messages when nothing serves cfg.
func TestNoDaemon(t *testing.T) {
	recording(t)
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	var cases [][]string
	for _, a := range []string{
		"", "-h", "-r", "-x", "-h -x", "-x -h", "-k", "-k 0", "-k abc", "-k -5", "-k 4294967296",
		"-k +3", "-a 0", "-a 4294967295", "--foo", "--foo=3", "--s", "--s=1", "--re", "--st", "--sta=1",
		"--kill", "--kill=abc", "--ki=7", "--force=1", "--status=1", "-i", "--if", "--if=x", "-s", "-n",
		"-s -b", "-sb", "-bs", "-sk", "-ks", "-kk", "-s -- -x", "a -x", "-", "--", "-- -s", "-b -n -s",
		"-s -h", "-R", "-L", "-H", "-H --force", "--shutdown --force", "-a 1", "-k 5", "-s -k 4 -x",
	} {
		cases = append(cases, strings.Fields(a))
	}
	scenario(t, "nodaemon", cases)
}

// TestOneNode: one configured node, the daemon itself.
func TestOneNode(t *testing.T) {
	recording(t)
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	co := corotest.Start(t, corotest.Options{})
	waitNodes(t, 1)
	scenario(t, "onenode", [][]string{
		{"-s"}, {"-s", "-b"}, {"-n"}, {"-a", "1"}, {"-a", "2"}, {"-k", "2"},
		{"-L"}, {"-R"}, {"-s", "-i", "127.0.0.1"}, {"-H"},
	})
	select {
	case <-co.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("corosync did not shut down after -H")
	}
}

// TestThreeNodes: node 1 here, node 2 running in a peer namespace, node 3
// configured but absent — every link state the status views print.
func TestThreeNodes(t *testing.T) {
	recording(t)
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	corotest.PeerNamespace(t, "cfgtest-peer", "10.99.0.1", "10.99.0.2")
	nodes := []corotest.Node{{ID: 1, Addr: "10.99.0.1"}, {ID: 2, Addr: "10.99.0.2"}, {ID: 3, Addr: "10.99.0.3"}}
	corotest.Start(t, corotest.Options{Nodes: nodes})
	corotest.Start(t, corotest.Options{Nodes: nodes, Netns: "cfgtest-peer"})
	waitNodes(t, 1, 2)
	scenario(t, "threenodes", [][]string{
		{"-s"}, {"-s", "-b"}, {"-n"}, {"-a", "2"}, {"-a", "3"}, {"-a", "4"}, {"-k", "3"},
	})
}

// TestKnetPair: two nodes on knet, corosync's default transport (needle
// speaks udpu only, but cfgtool must read real knet clusters too).
func TestKnetPair(t *testing.T) {
	recording(t)
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	corotest.PeerNamespace(t, "cfgtest-knet", "10.99.1.1", "10.99.1.2")
	nodes := []corotest.Node{{ID: 1, Addr: "10.99.1.1"}, {ID: 2, Addr: "10.99.1.2"}}
	corotest.Start(t, corotest.Options{Nodes: nodes, Transport: "knet"})
	corotest.Start(t, corotest.Options{Nodes: nodes, Transport: "knet", Netns: "cfgtest-knet"})
	waitNodes(t, 1, 2)
	// knet's path MTU discovery moves "mtu: N" (522 until it has run).
	mtu := regexp.MustCompile(`mtu: [0-9]+`)
	scenario(t, "knetpair", [][]string{{"-s"}, {"-s", "-b"}, {"-n"}, {"-a", "1"}, {"-a", "2"}},
		func(s string) string { return mtu.ReplaceAllString(s, "mtu: N") })
}

// TestIPv6Loopback: on ::1 corosync's GET_NODE_ADDRS drops the address
// (it tests a family field that overlays the address's first two bytes,
// zero here), so -a prints an empty line.
func TestIPv6Loopback(t *testing.T) {
	recording(t)
	if !corotest.InPrivateNamespaces(t) {
		return
	}
	corotest.Start(t, corotest.Options{Nodes: []corotest.Node{{ID: 1, Addr: "::1"}}, TotemExtra: "ip_version: ipv6"})
	waitNodes(t, 1)
	scenario(t, "ipv6loopback", [][]string{{"-a", "1"}, {"-s"}, {"-s", "-b"}})
}
