package vqsimtest

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// Why vqsim runs with a preloaded log library
//
// vqsim prints each node's partition, quorate flag, ring and view list,
// nothing of the votes behind them. Its nodes run corosync's votequorum,
// which logs every quorum recalculation at debug level: the total votes
// and the node's expected votes it starts from, then every record of its
// node table (id, state, votes, expected votes) as it computes the quorum.
// But a node is a forked child of the controller, which started libqb's
// log thread before forking, and in the child every log callsite lookup
// fails: the nodes log nothing. vqlog/vqlog.c, built here with gcc and
// preloaded into vqsim, answers the lookups in the children and writes
// votequorum's lines to a file, one write per line, each prefixed with the
// process id; a node's first multicast names its node id (a MAP line).
//
// After every step the test reads each live node's last complete
// recalculation from that file and requires the vq core's last one
// (vq.Core.LastRecalc, recorded at the same two points) to be the same,
// in every state it keeps: total votes, expected votes, and every node's
// votes and expected votes as that node holds them, in table order.

//go:embed vqlog/vqlog.c
var vqlogSource []byte

// logLibName is the library's file name in the directory given to Start.
const logLibName = "vqlog.so"

// buildLogLib compiles vqlog.c into dir once (concurrent sessions share
// the result: it is renamed into place whole) and returns its path.
func buildLogLib(dir string) (string, error) {
	lib := filepath.Join(dir, logLibName)
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	tmp, err := os.MkdirTemp(dir, "vqlog-build")
	if err != nil {
		return "", fmt.Errorf("vqsim log library: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "vqlog.c")
	if err := os.WriteFile(src, vqlogSource, 0o644); err != nil {
		return "", fmt.Errorf("vqsim log library: %w", err)
	}
	out := filepath.Join(tmp, logLibName)
	cmd := exec.Command("gcc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", out, src, "-ldl")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("vqsim log library: gcc (Debian's gcc and libc6-dev): %w: %s", err, b)
	}
	if err := os.Rename(out, lib); err != nil {
		return "", fmt.Errorf("vqsim log library: %w", err)
	}
	return lib, nil
}

// vqlog follows the log file of one session.
type vqlog struct {
	path string
	off  int64
	// nodePid is each node's latest process, named by its MAP line (a
	// node taken down and up again is a new one).
	nodePid map[uint32]int
	// open is a process's recalculation being read, last its last
	// complete one.
	open map[int]*vq.Recalc
	last map[int]vq.Recalc
}

func newVqlog(path string) *vqlog {
	return &vqlog{path: path, nodePid: map[uint32]int{},
		open: map[int]*vq.Recalc{}, last: map[int]vq.Recalc{}}
}

var (
	vqlogLineRE = regexp.MustCompile(`^(\d+) (?:MAP (\d+)|\S+ (\S+)\|(.*))$`)
	totalsRE    = regexp.MustCompile(`^total_votes=(\d+), expected_votes=(\d+)$`)
	recordRE    = regexp.MustCompile(`^node (\d+) state=(\d+), votes=(\d+)(?:, expected=(\d+))?$`)
)

// Recalcs returns every node's last complete recalculation, reading what
// was written since the last call (a partial line waits for the next).
func (l *vqlog) Recalcs() (map[uint32]vq.Recalc, error) {
	// no node logged yet: no file
	if err := tailLines(l.path, &l.off, "vqsim log", true, l.parse); err != nil {
		return nil, err
	}
	out := map[uint32]vq.Recalc{}
	for id, pid := range l.nodePid {
		if rc, ok := l.last[pid]; ok {
			out[id] = rc
		}
	}
	return out, nil
}

func (l *vqlog) parse(line string) error {
	m := vqlogLineRE.FindStringSubmatch(line)
	if m == nil {
		return fmt.Errorf("not a vqlog line")
	}
	pid, _ := strconv.Atoi(m[1])
	if m[2] != "" {
		id, err := strconv.ParseUint(m[2], 10, 32)
		if err != nil {
			return err
		}
		l.nodePid[uint32(id)] = pid
		return nil
	}
	fn, msg := m[3], m[4]
	switch {
	case fn == "recalculate_quorum" && msg == "ENTERING recalculate_quorum()":
		l.open[pid] = &vq.Recalc{}
	case fn == "recalculate_quorum" && msg == "LEAVING recalculate_quorum()":
		if rc := l.open[pid]; rc != nil {
			l.last[pid] = *rc
			delete(l.open, pid)
		}
	case fn == "recalculate_quorum":
		if t := totalsRE.FindStringSubmatch(msg); t != nil && l.open[pid] != nil {
			l.open[pid].TotalVotes = atou(t[1])
			l.open[pid].ExpectedVotes = atou(t[2])
		}
	case fn == "calculate_quorum":
		// only calculate_quorum called by recalculate_quorum (the
		// library's set-expected and set-votes checks call it too)
		if t := recordRE.FindStringSubmatch(msg); t != nil && l.open[pid] != nil {
			l.open[pid].Nodes = append(l.open[pid].Nodes, vq.RecalcNode{
				ID: atou(t[1]), State: vq.State(atou(t[2])), Votes: atou(t[3]), Expected: atou(t[4])})
		}
	}
	return nil
}

func atou(s string) uint32 {
	if s == "" {
		return 0
	}
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}
