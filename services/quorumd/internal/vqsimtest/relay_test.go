package vqsimtest

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// TestParseRead: strace lines of the controller's reads, table-driven.
func TestParseRead(t *testing.T) {
	nodeinfo := `\x04\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00` + // VQMSG_EXEC from node 2
		`\x00\x00\x05\x00\x00\x00\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00` + // exec header: 5<<16|0, 32 bytes
		`\x02\x00\x00\x00\x01\x00\x00\x00\x03\x00\x00\x00\x09\x00\x00\x00` // node 2, 1 vote, expected 3, flags 9
	for _, c := range []struct {
		name, line string
		want       *Relay
		err        string
	}{
		{"nodeinfo", `read(9, "` + nodeinfo + `", 8192) = 44`, &Relay{From: 2, Msg: vq.NodeInfo{NodeID: 2, Votes: 1, ExpectedVotes: 3, Flags: 9}}, ""},
		{"stdin", `read(0, "\x73\x68\x6f\x77\x0a", 4096) = 5`, nil, ""},
		{"quorum report", `read(9, "\x03\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00", 8192) = 16`, nil, ""},
		{"eagain", `read(9, 0x7ffc5a1b2c30, 8192) = -1 EAGAIN (Resource temporarily unavailable)`, nil, ""},
		{"truncated", `read(9, "` + nodeinfo[:40] + `"..., 8192) = 44`, nil, "truncated"},
		{"short exec", `read(9, "\x04\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00\x05\x00", 8192) = 16`, nil, "codec refuses"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok, err := parseRead(c.line)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != (c.want != nil) || (ok && got != *c.want) {
				t.Fatalf("got %v %v, want %v", got, ok, c.want)
			}
		})
	}
}

// TestRelaysAreCompared: the comparison reads what vqsim's nodes
// multicast, not only what vqsim prints. The same scenarios pass as they
// are; with one relayed NODEINFO's expected votes, or votes, changed
// after the boot they must fail, naming what vqsim relayed.
func TestRelaysAreCompared(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s is not installed (Debian package corosync-vqsim): %v", Binary, err)
	}
	if _, err := exec.LookPath(Tracer); err != nil {
		t.Fatalf("%s is needed to read vqsim's relays (Debian package strace): %v", Tracer, err)
	}
	dir := t.TempDir()
	caught := map[string]int{}
	for _, seed := range []uint64{2, 3, 4, 5, 6} {
		sc := Generate(seed)
		for _, field := range []string{"", "expected", "votes"} {
			changed := false
			tamper := func(i int, rs []Relay) {
				if field == "" || changed || i < len(sc.Boot) {
					return
				}
				for j, r := range rs {
					if ni, ok := r.Msg.(vq.NodeInfo); ok && ni.NodeID != 0 {
						if field == "expected" {
							ni.ExpectedVotes += 7
						} else {
							ni.Votes += 7
						}
						rs[j].Msg = ni
						changed = true
						return
					}
				}
			}
			res, err := check(context.Background(), dir, sc, tampering{relays: tamper})
			switch {
			case field == "" && err != nil:
				t.Fatalf("seed %d untouched: %v", seed, err)
			case res.Ambiguous:
				t.Logf("seed %d %q: stopped on timer ambiguity before a verdict", seed, field)
			case field != "" && changed && (err == nil || !strings.Contains(err.Error(), "multicasts what its nodes did")):
				t.Fatalf("seed %d with a relayed NODEINFO's %s changed: error %v, want a disagreement naming the relays", seed, field, err)
			case field != "" && !changed:
				t.Fatalf("seed %d: no NODEINFO relayed after the boot to change", seed)
			case field != "":
				caught[field]++
				t.Logf("seed %d, %s changed: %.300s", seed, field, err)
			}
		}
	}
	// timer ambiguity can stop a scenario first, but not all of them
	if caught["expected"] == 0 || caught["votes"] == 0 {
		t.Fatalf("changed relays caught: %v; want each kind caught at least once", caught)
	}
}
