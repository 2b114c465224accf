package integration

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/needle-cluster/needle/integration/harness"
)

// crmMon is the part of `crm_mon --output-as=xml` the tests read.
type crmMon struct {
	Summary struct {
		DC struct {
			Present    bool   `xml:"present,attr"`
			WithQuorum bool   `xml:"with_quorum,attr"`
			Name       string `xml:"name,attr"`
		} `xml:"current_dc"`
	} `xml:"summary"`
	Nodes []struct {
		Name    string `xml:"name,attr"`
		Online  bool   `xml:"online,attr"`
		Unclean bool   `xml:"unclean,attr"`
	} `xml:"nodes>node"`
	Resources []struct {
		ID     string `xml:"id,attr"`
		Role   string `xml:"role,attr"`
		Active bool   `xml:"active,attr"`
		Nodes  []struct {
			Name string `xml:"name,attr"`
		} `xml:"node"`
	} `xml:"resources>resource"`
}

func crmMonState(ctx context.Context, nd *harness.Node) (crmMon, error) {
	out, err := nd.CrmMonXML(ctx)
	var m crmMon
	if err != nil {
		return m, err
	}
	if err := xml.Unmarshal(out, &m); err != nil {
		return m, fmt.Errorf("crm_mon xml: %w", err)
	}
	return m, nil
}

// online lists the nodes crm_mon shows online.
func (m crmMon) online() []string {
	var out []string
	for _, n := range m.Nodes {
		if n.Online && !n.Unclean {
			out = append(out, n.Name)
		}
	}
	return out
}

// startedOn is the node a resource runs on, or "".
func (m crmMon) startedOn(id string) string {
	for _, r := range m.Resources {
		if r.ID == id && r.Role == "Started" && r.Active && len(r.Nodes) == 1 {
			return r.Nodes[0].Name
		}
	}
	return ""
}

// waitCrm polls crm_mon on a node until cond holds.
func waitCrm(t *testing.T, nd *harness.Node, what string, timeout time.Duration, cond func(crmMon) bool) crmMon {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last crmMon
	var lastErr error
	for time.Now().Before(deadline) {
		m, err := crmMonState(context.Background(), nd)
		if err == nil && cond(m) {
			return m
		}
		last, lastErr = m, err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("node %d: %s not reached within %v: last %+v (err %v)", nd.Index+1, what, timeout, last, lastErr)
	return last
}

// pacemakerTestConfig is the documented test configuration: no fencing
// device exists in namespaces, so stonith is off; the minority of a split
// stops its resources; one Dummy resource.
func pacemakerTestConfig(t *testing.T, nd *harness.Node) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"crm_attribute", "--type", "crm_config", "--name", "stonith-enabled", "--update", "false"},
		{"crm_attribute", "--type", "crm_config", "--name", "no-quorum-policy", "--update", "stop"},
		{"cibadmin", "--create", "--scope", "resources", "--xml-text",
			`<primitive id="dummy" class="ocf" provider="pacemaker" type="Dummy"><operations><op id="dummy-monitor" name="monitor" interval="5s"/></operations></primitive>`},
	} {
		if out, err := nd.Run(ctx, args...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// dumpPacemaker logs the tail of each node's pacemaker.log when the test
// failed. With NEEDLE_KEEP_LOGS=DIR it also writes each node's whole
// pacemaker.log and the whole log of every process in *procs (the cluster
// stack's daemons) to DIR, whether the test failed or not, so a passing run
// can be compared with another (the Pacemaker on needle vs corosync
// comparison in the README reads them).
func dumpPacemaker(t *testing.T, c *harness.Cluster, procs *[]*harness.Proc) {
	t.Cleanup(func() {
		dir := os.Getenv("NEEDLE_KEEP_LOGS")
		prefix := strings.ReplaceAll(t.Name(), "/", "_")
		if dir != "" {
			seen := map[string]bool{}
			for _, p := range *procs {
				if seen[p.Log] {
					continue
				}
				seen[p.Log] = true
				dst := filepath.Join(dir, fmt.Sprintf("%s-node%d-%s.log", prefix, p.Node.Index+1, p.Name))
				if err := os.WriteFile(dst, []byte(p.Output()), 0o644); err != nil {
					t.Logf("NEEDLE_KEEP_LOGS: %v", err)
				}
			}
		}
		for _, nd := range c.Nodes {
			log := nd.PacemakerLog()
			if dir != "" {
				p := filepath.Join(dir, fmt.Sprintf("%s-node%d-pacemaker.log", prefix, nd.Index+1))
				if err := os.WriteFile(p, []byte(log), 0o644); err == nil {
					t.Logf("node %d's whole pacemaker.log: %s", nd.Index+1, p)
				} else {
					t.Logf("NEEDLE_KEEP_LOGS: %v", err)
				}
			}
			if !t.Failed() {
				continue
			}
			if len(log) > 8000 {
				log = "…" + log[len(log)-8000:]
			}
			t.Logf("--- node %d pacemaker.log:\n%s", nd.Index+1, log)
		}
	})
}

// TestPacemakerOnCorosync is the reference for the needle tests: Debian's
// pacemaker 2.1.5 on three Debian corosync 3.1.7 nodes in namespaces
// reaches all Online with the Dummy resource Started, using the same
// harness and test configuration the needle test uses.
func TestPacemakerOnCorosync(t *testing.T) {
	needNamespaces(t)
	needCorosync(t)
	if why := harness.HavePacemaker(); why != "" {
		t.Skip(why)
	}
	c := harness.New(t, 3)
	if err := c.WriteConf(harness.ConfOptions{Token: 1000}); err != nil {
		t.Fatal(err)
	}
	var procs []*harness.Proc
	dumpOnFailure(t, &procs)
	dumpPacemaker(t, c, &procs)
	for _, nd := range c.Nodes {
		p, err := nd.Start("corosync", "corosync", "-f")
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitNodes(t, 3, 30*time.Second, c.Nodes...)
	for _, nd := range c.Nodes {
		p, err := nd.StartPacemaker()
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	waitCrm(t, c.Nodes[0], "all nodes online", 120*time.Second, func(m crmMon) bool {
		return m.Summary.DC.Present && len(m.online()) == 3
	})
	pacemakerTestConfig(t, c.Nodes[0])
	m := waitCrm(t, c.Nodes[1], "dummy started", 60*time.Second, func(m crmMon) bool { return m.startedOn("dummy") != "" })
	t.Logf("dummy started on %s, DC %s", m.startedOn("dummy"), m.Summary.DC.Name)
}
