package integration

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// buildTools builds cfgtool and needlectl into bins.dir, next to cmapctl,
// quorumtool and cpgtool (needlectl runs the tools beside it).
func buildTools(t *testing.T) {
	t.Helper()
	for pkg, name := range map[string]string{"../services/totemd/cmd/cfgtool": "cfgtool", "../services/totemd/cmd/needlectl": "needlectl"} {
		if b, err := exec.Command("go", "build", "-o", filepath.Join(bins.dir, name), pkg).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v: %s", pkg, err, b)
		}
	}
}

// statusJSON is the part of `needlectl status --json` the test reads.
type statusJSON struct {
	Ring struct {
		LocalNodeID uint32 `json:"local_node_id"`
		Transport   string `json:"transport"`
		Links       []struct {
			LinkID int    `json:"link_id"`
			Addr   string `json:"addr"`
			Nodes  []struct {
				NodeID uint32 `json:"node_id"`
				State  string `json:"state"`
			} `json:"nodes"`
		} `json:"links"`
	} `json:"ring"`
	Members []struct {
		NodeID uint32 `json:"node_id"`
		IP     string `json:"ip"`
		Status string `json:"status"`
		Local  bool   `json:"local"`
	} `json:"members"`
	Quorum *struct {
		Quorum struct {
			Nodes   int  `json:"nodes"`
			Quorate bool `json:"quorate"`
			RingID  struct {
				NodeID uint32 `json:"node_id"`
				Seq    uint64 `json:"seq"`
			} `json:"ring_id"`
		} `json:"quorum"`
		Votequorum struct {
			Expected uint32 `json:"expected_votes"`
			Total    uint32 `json:"total_votes"`
		} `json:"votequorum"`
	} `json:"quorum"`
	CPG *struct {
		Groups []struct {
			Name string `json:"name"`
		} `json:"groups"`
	} `json:"cpg"`
	Services    map[string]bool   `json:"services"`
	Unavailable map[string]string `json:"unavailable"`
}

// problems lists what a full 3-node view with every daemon lacks.
func (s statusJSON) problems(local uint32, cpg bool) []string {
	var p []string
	if s.Ring.LocalNodeID != local || s.Ring.Transport != "udpu" {
		p = append(p, fmt.Sprintf("ring: local %d transport %q", s.Ring.LocalNodeID, s.Ring.Transport))
	}
	if len(s.Ring.Links) != 1 || len(s.Ring.Links[0].Nodes) != 3 {
		p = append(p, fmt.Sprintf("links: %+v", s.Ring.Links))
	} else {
		for _, n := range s.Ring.Links[0].Nodes {
			want := "connected"
			if n.NodeID == local {
				want = "localhost"
			}
			if n.State != want {
				p = append(p, fmt.Sprintf("link 0 node %d: %s, want %s", n.NodeID, n.State, want))
			}
		}
	}
	joined := 0
	for _, m := range s.Members {
		if m.Status == "joined" {
			joined++
		}
		if m.Local != (m.NodeID == local) || !strings.Contains(m.IP, "10.231.0.") {
			p = append(p, fmt.Sprintf("member %+v", m))
		}
	}
	if joined != 3 {
		p = append(p, fmt.Sprintf("%d joined members", joined))
	}
	if q := s.Quorum; q == nil || !q.Quorum.Quorate || q.Quorum.Nodes != 3 || q.Votequorum.Total != 3 || q.Votequorum.Expected != 3 || q.Quorum.RingID.Seq == 0 {
		p = append(p, fmt.Sprintf("quorum %+v", q))
	}
	want := map[string]bool{"cmap": true, "cfg": true, "cpg": cpg, "votequorum": true, "pload": true}
	for name, on := range want {
		if got, ok := s.Services[name]; !ok || got != on {
			p = append(p, fmt.Sprintf("service %s attached %v (listed %v), want %v", name, got, ok, on))
		}
	}
	if (s.CPG != nil) != cpg {
		p = append(p, fmt.Sprintf("cpg part present %v, want %v", s.CPG != nil, cpg))
	}
	return p
}

// waitStatus polls `needlectl status --json` on nd until it shows the
// full view (cpg: with cpgd running) and returns it.
func waitStatus(t *testing.T, nd *harness.Node, cpg bool, timeout time.Duration) statusJSON {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	var last ctlResult
	var problems []string
	for tries := 1; time.Now().Before(deadline); tries++ {
		t0 := time.Now()
		last = ctl(t, nd, filepath.Join(bins.dir, "needlectl"), "status", "--json")
		t.Logf("node %d: needlectl status --json try %d took %v", nd.Index+1, tries, time.Since(t0).Round(time.Millisecond))
		var s statusJSON
		if last.Code == 0 {
			if err := json.Unmarshal([]byte(last.Stdout), &s); err != nil {
				t.Fatalf("needlectl status --json: %v\n%s", err, last)
			}
			if problems = s.problems(uint32(nd.Index+1), cpg); len(problems) == 0 {
				return s
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("node %d: no full status after %v: %v\n%s", nd.Index+1, timeout, problems, last)
	return statusJSON{}
}

// TestNeedleStatusAndJSON runs a 3-node needle cluster (totemd, cmapd,
// quorumd, cpgd) and checks: needlectl's one view on every node (ring,
// links, members, quorum, CPG, attached daemons) and its text form;
// cfgtool --json -s/-n and cmapctl --json against Debian's tools' text on
// the same node; and that stopping cpgd shows in the view.
func TestNeedleStatusAndJSON(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	needCmapd(t)
	needQuorumtool(t)
	if !haveCpgd(t) {
		t.Fatal(cpgdBin.err)
	}
	buildCpgBins(t)
	buildTools(t)
	nq := needleQuorumCluster(t, 3, harness.ConfOptions{Token: 1000})
	waitRing(t, "1 2 3", 20*time.Second, nq.totemd...)
	cpgd := make([]*harness.Proc, 3)
	for i, nd := range nq.c.Nodes {
		p, err := nd.Start("cpgd", cpgdBin.path, "-f")
		if err != nil {
			t.Fatal(err)
		}
		cpgd[i] = p
		nq.all = append(nq.all, p)
	}
	for _, nd := range nq.c.Nodes {
		s := waitStatus(t, nd, true, 30*time.Second)
		t.Logf("node %d: ring id %d.%d, services %v", nd.Index+1, s.Quorum.Quorum.RingID.NodeID, s.Quorum.Quorum.RingID.Seq, s.Services)
	}

	// A CPG group with one member on node 2 (cpgload waits for members
	// that never come, so it stays joined).
	if _, err := nq.c.Nodes[1].Start("cpgload", cpgBins.load, "-g", "needlectl-test", "-n", "9", "-c", "0", "--timeout", "2m"); err != nil {
		t.Fatal(err)
	}
	nd := nq.c.Nodes[0]
	var text ctlResult
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if text = ctl(t, nd, filepath.Join(bins.dir, "needlectl"), "status"); strings.Contains(text.Stdout, "needlectl-test") {
			break
		}
	}
	t.Logf("needlectl status on node 1:\n%s", text.Stdout)
	for _, want := range []string{"needlectl-test           1 member (node/pid: 2/", "Node:      1 (transport udpu)", "Ring ID:   1.", "link 0: 1 localhost, 2 connected, 3 connected", "  quorate, 3 nodes",
		"votes 3, expected 3, quorum 2", "attached:     cfg cmap cpg pload votequorum", "not attached: none"} {
		if text.Code != 0 || !strings.Contains(text.Stdout, want) {
			t.Errorf("needlectl status lacks %q:\n%s", want, text)
		}
	}

	t.Run("cfgtool", func(t *testing.T) { checkCfgtoolJSON(t, nd) })
	t.Run("cmapctl", func(t *testing.T) { checkCmapctlJSON(t, nd) })
	t.Run("quorumtool", func(t *testing.T) { checkQuorumtoolJSON(t, nd) })
	t.Run("cpgtool", func(t *testing.T) { checkCpgtoolJSON(t, nd) })

	// cpgd stops on node 1: within a statistics period the view says so,
	// and the cpg part is unavailable instead of failing the command.
	if err := cpgd[0].StopWith(syscall.SIGINT, 10*time.Second); err != nil { // for good: no handover
		t.Fatal(err)
	}
	s := waitStatus(t, nd, false, 15*time.Second)
	if !strings.Contains(s.Unavailable["cpg"], "cpgtool") {
		t.Errorf("cpg unavailable reason %q, want cpgtool's failure", s.Unavailable["cpg"])
	}
}

// checkCfgtoolJSON compares cfgtool --json -s and -n with the text of
// Debian's corosync-cfgtool on the same node.
func checkCfgtoolJSON(t *testing.T, nd *harness.Node) {
	ours := filepath.Join(bins.dir, "cfgtool")
	var s struct {
		LocalNodeID uint32 `json:"local_node_id"`
		Transport   string `json:"transport"`
		Links       []struct {
			LinkID int    `json:"link_id"`
			Addr   string `json:"addr"`
			Nodes  []struct {
				NodeID uint32 `json:"node_id"`
				State  string `json:"state"`
			} `json:"nodes"`
		} `json:"links"`
	}
	r := ctl(t, nd, ours, "--json", "-s")
	if r.Code != 0 || r.Stderr != "" || json.Unmarshal([]byte(r.Stdout), &s) != nil {
		t.Fatalf("cfgtool --json -s: %s", r)
	}
	// Rebuild the text from the JSON: it must be Debian's -s output.
	var b strings.Builder
	fmt.Fprintf(&b, "Local node ID %d, transport %s\n", s.LocalNodeID, s.Transport)
	for _, l := range s.Links {
		fmt.Fprintf(&b, "LINK ID %d \n\taddr\t= %s\n\tstatus:\n", l.LinkID, l.Addr)
		for _, n := range l.Nodes {
			fmt.Fprintf(&b, "\t\tnodeid: %10d:\t%s\n", n.NodeID, n.State)
		}
	}
	real := ctl(t, nd, "corosync-cfgtool", "-s")
	if real.Code != 0 || real.Stdout != b.String() {
		t.Errorf("cfgtool --json -s says\n%s\nDebian's corosync-cfgtool -s prints\n%s", b.String(), real)
	}
	if txt := ctl(t, nd, ours, "-s"); txt.Stdout != real.Stdout || txt.Code != real.Code {
		t.Errorf("cfgtool -s text changed:\n%s\nDebian:\n%s", txt, real)
	}

	var n struct {
		Nodes []struct {
			NodeID    uint32 `json:"node_id"`
			Reachable bool   `json:"reachable"`
			Links     []struct {
				LinkID    int    `json:"link_id"`
				SrcAddr   string `json:"src_addr"`
				DstAddr   string `json:"dst_addr"`
				Connected bool   `json:"connected"`
				MTU       int32  `json:"mtu"`
			} `json:"links"`
		} `json:"nodes"`
	}
	r = ctl(t, nd, ours, "--json", "-n")
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &n) != nil {
		t.Fatalf("cfgtool --json -n: %s", r)
	}
	b.Reset()
	fmt.Fprintf(&b, "Local node ID %d, transport %s\n", s.LocalNodeID, s.Transport)
	for _, x := range n.Nodes {
		fmt.Fprintf(&b, "nodeid: %d reachable\n", x.NodeID)
		for _, l := range x.Links {
			conn := ""
			if l.Connected {
				conn = " connected"
			}
			fmt.Fprintf(&b, "   LINK: %d  (%s%s) enabled%s mtu: %d\n", l.LinkID, l.SrcAddr, l.DstAddr, conn, l.MTU)
		}
		b.WriteString("\n")
	}
	real = ctl(t, nd, "corosync-cfgtool", "-n")
	if real.Code != 0 || real.Stdout != b.String() || len(n.Nodes) != 2 {
		t.Errorf("cfgtool --json -n says\n%s\nDebian's corosync-cfgtool -n prints\n%s", b.String(), real)
	}
}

// checkCmapctlJSON compares cmapctl --json with Debian's corosync-cmapctl
// text on the same node: the same keys, types and values.
func checkCmapctlJSON(t *testing.T, nd *harness.Node) {
	ours := cmapBins.cmapctl
	type keys struct {
		Keys []struct {
			Key   string          `json:"key"`
			Type  string          `json:"type"`
			Value json.RawMessage `json:"value"`
		} `json:"keys"`
	}
	// Stable prefixes (runtime.* counters move between two runs).
	for _, prefix := range []string{"totem.", "nodelist.", "quorum.", "runtime.config.", "runtime.votequorum."} {
		var k keys
		r := ctl(t, nd, ours, "--json", prefix)
		if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &k) != nil || len(k.Keys) == 0 {
			t.Fatalf("cmapctl --json %s: %s", prefix, r)
		}
		var b strings.Builder
		for _, e := range k.Keys {
			v := string(e.Value)
			var s string
			if json.Unmarshal(e.Value, &s) == nil {
				v = s
			}
			fmt.Fprintf(&b, "%s (%s) = %s\n", e.Key, e.Type, v)
		}
		real := ctl(t, nd, debianCmapctl, prefix)
		if real.Stdout != b.String() {
			t.Errorf("cmapctl --json %s rebuilt:\n%s\nDebian's corosync-cmapctl %s:\n%s", prefix, b.String(), prefix, real)
		}
		if txt := ctl(t, nd, ours, prefix); txt.Stdout != real.Stdout {
			t.Errorf("cmapctl %s text changed:\n%s\nDebian:\n%s", prefix, txt, real)
		}
	}
	// -g with a missing key: the found key in the object, the C tool's
	// message and exit status.
	r := ctl(t, nd, ours, "--json", "-g", "totem.cluster_name", "no.such.key")
	real := ctl(t, nd, debianCmapctl, "-g", "totem.cluster_name", "no.such.key")
	var k keys
	if json.Unmarshal([]byte(r.Stdout), &k) != nil || len(k.Keys) != 1 || string(k.Keys[0].Value) != `"needle-it"` ||
		r.Code != real.Code || r.Stderr != real.Stderr {
		t.Errorf("cmapctl --json -g: %s\nDebian: %s", r, real)
	}
	// Stats map, where needle's totemd lists its attached daemons.
	r = ctl(t, nd, ours, "--json", "-m", "stats", "stats.needle.service.")
	k = keys{}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &k) != nil {
		t.Fatalf("cmapctl --json -m stats: %s", r)
	}
	var names []string
	for _, e := range k.Keys {
		names = append(names, e.Key+"="+string(e.Value))
	}
	sort.Strings(names)
	t.Logf("attached: %v", names)
}

// TestNeedlectlOnCorosync runs needlectl on a node of a 3-node cluster of
// Debian's corosync 3.1.7: ring, members, quorum and CPG come from
// corosync through needle's tools; the attached-daemons part is
// unavailable (corosync has no stats.needle.* keys) without failing.
func TestNeedlectlOnCorosync(t *testing.T) {
	needNamespaces(t)
	needCmapd(t)
	needQuorumtool(t)
	buildCpgBins(t)
	buildTools(t)
	c, _ := realQuorumCluster(t, 3, harness.ConfOptions{Token: 1000})
	nd := c.Nodes[0]
	var last ctlResult
	var s statusJSON
	deadline := time.Now().Add(30 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		last = ctl(t, nd, filepath.Join(bins.dir, "needlectl"), "status", "--json")
		s = statusJSON{}
		if last.Code != 0 || json.Unmarshal([]byte(last.Stdout), &s) != nil {
			continue
		}
		if s.Quorum != nil && s.Quorum.Quorum.Quorate && s.Quorum.Quorum.Nodes == 3 && len(s.Members) == 3 && s.CPG != nil {
			break
		}
	}
	if s.Quorum == nil || !s.Quorum.Quorum.Quorate || len(s.Members) != 3 || s.CPG == nil {
		t.Fatalf("no full view of a corosync node:\n%s", last)
	}
	if s.Services != nil || !strings.Contains(s.Unavailable["services"], "stats.needle.service") {
		t.Errorf("services %v, unavailable %q: want the part unavailable on corosync", s.Services, s.Unavailable["services"])
	}
	if len(s.Ring.Links) != 1 || len(s.Ring.Links[0].Nodes) != 3 {
		t.Errorf("links %+v", s.Ring.Links)
	}
	text := ctl(t, nd, filepath.Join(bins.dir, "needlectl"), "status")
	t.Logf("needlectl status on corosync node 1:\n%s", text.Stdout)
	if text.Code != 0 || !strings.Contains(text.Stdout, "Service daemons attached to totemd:\n  unavailable: ") {
		t.Errorf("text view: %s", text)
	}
}

// checkQuorumtoolJSON reads quorumtool --json -s and -l on a quorate
// three-node cluster with the schema of docs/json.md.
func checkQuorumtoolJSON(t *testing.T, nd *harness.Node) {
	var st struct {
		Quorum struct {
			Provider string `json:"provider"`
			Nodes    int    `json:"nodes"`
			NodeID   uint32 `json:"node_id"`
			Quorate  bool   `json:"quorate"`
		} `json:"quorum"`
		Votequorum struct {
			Expected uint32   `json:"expected_votes"`
			Total    uint32   `json:"total_votes"`
			Quorum   uint32   `json:"quorum"`
			Flags    []string `json:"flags"`
		} `json:"votequorum"`
		Members []struct {
			NodeID uint32 `json:"node_id"`
			Votes  uint32 `json:"votes"`
			Name   string `json:"name"`
			Local  bool   `json:"local"`
		} `json:"members"`
	}
	r := ctl(t, nd, quorumBins.quorumtool, "--json", "-s")
	if err := json.Unmarshal([]byte(r.Stdout), &st); r.Code != 0 || err != nil {
		t.Fatalf("quorumtool --json -s: %v\n%s", err, r)
	}
	q, v := st.Quorum, st.Votequorum
	if q.Provider != "corosync_votequorum" || q.Nodes != 3 || q.NodeID != uint32(nd.Index+1) || !q.Quorate ||
		v.Expected != 3 || v.Total != 3 || v.Quorum != 2 || !slices.Contains(v.Flags, "Quorate") || len(st.Members) != 3 {
		t.Errorf("quorumtool --json -s:\n%s", r.Stdout)
	}
	var list struct {
		Members []struct {
			NodeID uint32 `json:"node_id"`
			Name   string `json:"name"`
		} `json:"members"`
	}
	r = ctl(t, nd, quorumBins.quorumtool, "--json", "-l")
	if err := json.Unmarshal([]byte(r.Stdout), &list); r.Code != 0 || err != nil || len(list.Members) != 3 || list.Members[0].Name != "node1" {
		t.Errorf("quorumtool --json -l: %v\n%s", err, r)
	}
}

// checkCpgtoolJSON reads cpgtool --json while cpgload's group has its one
// member on node 2.
func checkCpgtoolJSON(t *testing.T, nd *harness.Node) {
	var out struct {
		Groups []struct {
			Name    string `json:"name"`
			NameHex string `json:"name_hex"`
			Members []struct {
				PID    uint32   `json:"pid"`
				NodeID uint32   `json:"nodeid"`
				Addrs  []string `json:"addrs"`
			} `json:"members"`
		} `json:"groups"`
	}
	r := ctl(t, nd, cpgBins.tool, "--json")
	if err := json.Unmarshal([]byte(r.Stdout), &out); r.Code != 0 || err != nil {
		t.Fatalf("cpgtool --json: %v\n%s", err, r)
	}
	for _, g := range out.Groups {
		if g.Name == "needlectl-test" {
			if g.NameHex != hex.EncodeToString([]byte(g.Name)) || len(g.Members) != 1 || g.Members[0].NodeID != 2 ||
				g.Members[0].PID == 0 || !slices.Contains(g.Members[0].Addrs, "10.231.0.2") {
				t.Errorf("cpgtool --json group:\n%s", r.Stdout)
			}
			return
		}
	}
	t.Errorf("cpgtool --json has no group needlectl-test:\n%s", r.Stdout)
}
