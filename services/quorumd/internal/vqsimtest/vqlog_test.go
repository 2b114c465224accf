package vqsimtest

import (
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// TestVqlogParse: a node's last complete recalculation is what counts;
// one still being written, or calculate_quorum called outside a
// recalculation (the library's set-expected check), changes nothing; a
// node started again is its new process.
func TestVqlogParse(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "log")
	write := func(lines ...string) {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, l := range lines {
			if _, err := f.WriteString(l + "\n"); err != nil {
				t.Fatal(err)
			}
		}
	}
	rec := func(pid, total, exp string, nodes ...string) []string {
		out := []string{pid + " votequorum.c recalculate_quorum|ENTERING recalculate_quorum()",
			pid + " votequorum.c recalculate_quorum|total_votes=" + total + ", expected_votes=" + exp,
			pid + " votequorum.c calculate_quorum|ENTERING calculate_quorum()"}
		for _, n := range nodes {
			out = append(out, pid+" votequorum.c calculate_quorum|"+n)
		}
		return append(out, pid+" votequorum.c calculate_quorum|LEAVING calculate_quorum()",
			pid+" votequorum.c recalculate_quorum|LEAVING recalculate_quorum()")
	}
	l := newVqlog(path)
	if got, err := l.Recalcs(); err != nil || len(got) != 0 {
		t.Fatalf("no file yet: %v %v", got, err)
	}
	write(rec("10", "1", "3", "node 1 state=1, votes=1, expected=3")...)
	write("10 MAP 1")
	write(rec("11", "2", "3", "node 1 state=1, votes=1, expected=3", "node 2 state=1, votes=1, expected=3", "node 0 state=1, votes=1")...)
	write("11 MAP 2")
	// an unfinished recalculation and a lone calculate_quorum
	write(rec("10", "9", "9", "node 1 state=2, votes=9, expected=9")[:3]...)
	write("11 votequorum.c calculate_quorum|node 2 state=3, votes=5, expected=5")
	got, err := l.Recalcs()
	if err != nil {
		t.Fatal(err)
	}
	want1 := vq.Recalc{TotalVotes: 1, ExpectedVotes: 3, Nodes: []vq.RecalcNode{{ID: 1, State: vq.Member, Votes: 1, Expected: 3}}}
	rn := func(id uint32, st vq.State, votes, exp uint32) vq.RecalcNode {
		return vq.RecalcNode{ID: id, State: st, Votes: votes, Expected: exp}
	}
	want2 := vq.Recalc{TotalVotes: 2, ExpectedVotes: 3, Nodes: []vq.RecalcNode{rn(1, vq.Member, 1, 3), rn(2, vq.Member, 1, 3), rn(0, vq.Member, 1, 0)}}
	if !got[1].Equal(want1) || !got[2].Equal(want2) || len(got) != 2 {
		t.Fatalf("got %v, want 1: %v, 2: %v", got, want1, want2)
	}
	// node 1 restarted as process 12: its old records are gone with it
	write("12 MAP 1")
	if got, _ := l.Recalcs(); len(got) != 1 || !got[2].Equal(want2) {
		t.Fatalf("after node 1's restart, before it logged: %v", got)
	}
	write(rec("12", "1", "1", "node 1 state=1, votes=1, expected=1")...)
	if got, _ := l.Recalcs(); !got[1].Equal(vq.Recalc{TotalVotes: 1, ExpectedVotes: 1, Nodes: []vq.RecalcNode{rn(1, vq.Member, 1, 1)}}) {
		t.Fatalf("after node 1's restart: %v", got)
	}
	write("garbage")
	if _, err := l.Recalcs(); err == nil || !strings.Contains(err.Error(), "garbage") {
		t.Fatalf("a line that is not vqlog's: %v", err)
	}
}

// TestRecalcsAreCompared: every node's votes and expected votes, as
// corosync's votequorum logged them at its last recalculation, are
// compared with the core's. The scenarios pass as they are; with one
// number of one node's record changed in every read after the boot's
// last step they must fail, naming the recalculations.
func TestRecalcsAreCompared(t *testing.T) {
	if _, err := exec.LookPath(Binary); err != nil {
		t.Skipf("%s is not installed (Debian package corosync-vqsim): %v", Binary, err)
	}
	dir := t.TempDir()
	fields := []string{"", "total", "expected", "node votes", "node expected", "node state"}
	caught := map[string]int{}
	// each change on the first seed that reaches a verdict on it (timer
	// ambiguity can stop a scenario first)
	for _, field := range fields {
		for _, seed := range []uint64{2, 3, 4} {
			sc := Generate(seed)
			target := len(sc.Boot) - 1
			changed := false
			views := func(i int, nodes map[uint32]NodeView) {
				if field == "" || i != target {
					return
				}
				id := slices.Min(slices.Collect(maps.Keys(nodes)))
				v := nodes[id]
				if v.Recalc == nil {
					t.Errorf("seed %d step %d: node %d has no recalculation logged", seed, i, id)
					return
				}
				rc := *v.Recalc
				rc.Nodes = slices.Clone(rc.Nodes)
				last := &rc.Nodes[len(rc.Nodes)-1]
				switch field {
				case "total":
					rc.TotalVotes++
				case "expected":
					rc.ExpectedVotes++
				case "node votes":
					last.Votes++
				case "node expected":
					last.Expected++
				case "node state":
					last.State = vq.Leaving
				}
				v.Recalc = &rc
				nodes[id] = v
				changed = true
			}
			res, err := check(context.Background(), dir, sc, tampering{views: views})
			switch {
			case field == "" && err != nil:
				t.Fatalf("seed %d untouched: %v", seed, err)
			case res.Ambiguous:
				t.Logf("seed %d %q: stopped on timer ambiguity before a verdict", seed, field)
				continue
			case field != "" && changed && (err == nil || !strings.Contains(err.Error(), "recalculations where")):
				t.Fatalf("seed %d with a recalculation's %s changed: error %v, want a disagreement naming the recalculations", seed, field, err)
			case field != "" && !changed:
				t.Fatalf("seed %d: step %d never read", seed, target)
			case field != "":
				caught[field]++
				t.Logf("seed %d, %s changed: %.400s", seed, field, err)
			}
			break
		}
	}
	for _, f := range fields[1:] {
		if caught[f] == 0 {
			t.Fatalf("changed recalculations caught: %v; want each kind caught at least once", caught)
		}
	}
}
