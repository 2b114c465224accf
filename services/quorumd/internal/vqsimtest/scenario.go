// Package vqsimtest is the differential test of the vq core against the
// real votequorum: corosync-vqsim (Debian's corosync-vqsim 3.1.7) links
// corosync's own exec/votequorum.c to a simulated ring. Scenarios are
// generated from a seed (feature combinations x partitions, merges, node
// kills and restarts, votes and expected_votes), run through vqsim and
// through the Explorer, which drives vq.Core per node over every ordering
// vqsim's ring can take (explore.go says why), and every node's partition,
// view list and quorate decision after every step must be one the
// Explorer found possible. vqsim prints nothing of the votes behind them:
// every NODEINFO its nodes multicast is read from its controller with
// strace (relay.go), and every node's last quorum recalculation — total
// votes, expected votes, every node's votes and expected votes — from
// votequorum's own debug log, which a preloaded library makes its nodes
// write (vqlog.go); both must be the core's. A sixth of the scenarios
// configure a quorum device that no step registers (Features.Qdevice).
//
// vqsim's quirks (addendum §8): the -c path must be shorter than 8
// characters and stdin must be a pipe, so each run gets its own temporary
// directory with "c.conf".
package vqsimtest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Features of one scenario's corosync.conf.
type Features struct {
	IDs           []uint32 // nodelist node ids, in nodelist order
	Votes         []uint32 // quorum_votes per entry (0 = key absent)
	ExpectedVotes uint32
	TwoNode       bool
	WFA           int // -1 unset, 0, 1
	LMS           bool
	LMSWindowMs   uint32
	ATB           bool
	ATBNode       string
	AllowDown     bool
	EVTracking    bool
	// Qdevice: a quorum device section (model net; registered by no
	// step: vqsim's qdevice command polls on its own real-time timer,
	// which the Explorer does not model), with QdeviceVotes (0: the key
	// absent, votequorum's default applies).
	Qdevice      bool
	QdeviceVotes uint32
}

// Step is one vqsim command.
type Step struct {
	Kind  string // "move", "join", "down", "up", "wait"
	Part  int
	Other int
	Nodes []uint32
	Ms    int // wait
}

// Scenario is a replayable test case.
type Scenario struct {
	Seed uint64
	F    Features
	// Boot starts the nodelist's nodes: each alone in a partition of its
	// own, then joined into partition 0 one by one. vqsim's own start-up
	// (every node of a nodelist with ring0_addr forked at once, each
	// handed every membership so far) races each node's sync timer
	// against the next membership and the relay of the first NODEINFO:
	// no model can say which state it ends in (seed 401 ended in one
	// the barrier model never reaches, 3 runs in 4), so the nodelist
	// vqsim reads has no ring0_addr, vqsim starts empty, and the boot is
	// steps the Explorer covers like any other.
	Boot  []Step
	Steps []Step
}

// All is the boot, then the steps.
func (s Scenario) All() []Step { return append(slices.Clone(s.Boot), s.Steps...) }

// Conf renders the scenario's corosync.conf for vqsim (stateDir for
// ev_tracking): its nodelist has no ring0_addr, so vqsim starts no node
// itself (see Boot); votequorum counts nodelist entries whatever keys
// they have.
func (s Scenario) Conf(stateDir string) string {
	var b strings.Builder
	f := s.F
	b.WriteString("totem {\n version: 2\n cluster_name: vqd\n}\nlogging {\n to_stderr: no\n to_syslog: no\n}\n")
	fmt.Fprintf(&b, "system {\n state_dir: %s\n}\n", stateDir)
	b.WriteString("quorum {\n provider: corosync_votequorum\n")
	if f.ExpectedVotes != 0 {
		fmt.Fprintf(&b, " expected_votes: %d\n", f.ExpectedVotes)
	}
	if f.TwoNode {
		b.WriteString(" two_node: 1\n")
	}
	if f.WFA >= 0 {
		fmt.Fprintf(&b, " wait_for_all: %d\n", f.WFA)
	}
	if f.LMS {
		fmt.Fprintf(&b, " last_man_standing: 1\n last_man_standing_window: %d\n", f.LMSWindowMs)
	}
	if f.ATB {
		b.WriteString(" auto_tie_breaker: 1\n")
		if f.ATBNode != "" {
			fmt.Fprintf(&b, " auto_tie_breaker_node: %s\n", f.ATBNode)
		}
	}
	if f.AllowDown {
		b.WriteString(" allow_downscale: 1\n")
	}
	if f.EVTracking {
		b.WriteString(" expected_votes_tracking: 1\n")
	}
	if f.Qdevice {
		b.WriteString(" device {\n  model: net\n")
		if f.QdeviceVotes != 0 {
			fmt.Fprintf(&b, "  votes: %d\n", f.QdeviceVotes)
		}
		b.WriteString(" }\n")
	}
	b.WriteString("}\nnodelist {\n")
	for i, id := range f.IDs {
		fmt.Fprintf(&b, " node {\n  nodeid: %d\n", id)
		if f.Votes[i] != 0 {
			fmt.Fprintf(&b, "  quorum_votes: %d\n", f.Votes[i])
		}
		b.WriteString(" }\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// Keys is the flat cmap view of the same configuration (vq.ConfigFromKeys).
func (s Scenario) Keys() map[string]string {
	f := s.F
	k := map[string]string{"quorum.provider": "corosync_votequorum"}
	if f.ExpectedVotes != 0 {
		k["quorum.expected_votes"] = strconv.Itoa(int(f.ExpectedVotes))
	}
	if f.TwoNode {
		k["quorum.two_node"] = "1"
	}
	if f.WFA >= 0 {
		k["quorum.wait_for_all"] = strconv.Itoa(f.WFA)
	}
	if f.LMS {
		k["quorum.last_man_standing"] = "1"
		k["quorum.last_man_standing_window"] = strconv.Itoa(int(f.LMSWindowMs))
	}
	if f.ATB {
		k["quorum.auto_tie_breaker"] = "1"
		if f.ATBNode != "" {
			k["quorum.auto_tie_breaker_node"] = f.ATBNode
		}
	}
	if f.AllowDown {
		k["quorum.allow_downscale"] = "1"
	}
	if f.EVTracking {
		k["quorum.expected_votes_tracking"] = "1"
	}
	if f.Qdevice {
		k["quorum.device.model"] = "net"
		if f.QdeviceVotes != 0 {
			k["quorum.device.votes"] = strconv.Itoa(int(f.QdeviceVotes))
		}
	}
	for i, id := range f.IDs {
		p := "nodelist.node." + strconv.Itoa(i) + "."
		k[p+"nodeid"] = strconv.Itoa(int(id))
		k[p+"ring0_addr"] = "10.9.0." + strconv.Itoa(int(id))
		if f.Votes[i] != 0 {
			k[p+"quorum_votes"] = strconv.Itoa(int(f.Votes[i]))
		}
	}
	return k
}

// Command is the step's vqsim command line.
func (st Step) Command() string {
	ids := func() string {
		var s []string
		for _, n := range st.Nodes {
			s = append(s, strconv.Itoa(int(n)))
		}
		return strings.Join(s, ",")
	}
	switch st.Kind {
	case "move":
		return fmt.Sprintf("move %d:%s", st.Part, ids())
	case "join":
		return fmt.Sprintf("join %d %d", st.Part, st.Other)
	case "down":
		return fmt.Sprintf("down %d", st.Nodes[0])
	case "up":
		return fmt.Sprintf("up %d:%d", st.Part, st.Nodes[0])
	case "wait":
		return fmt.Sprintf("#wait %d", st.Ms)
	}
	panic(st.Kind)
}

// Script prints the scenario as a replayable vqsim session.
func (s Scenario) Script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# seed %d\n# c.conf:\n", s.Seed)
	for _, l := range strings.Split(strings.TrimRight(s.Conf("."), "\n"), "\n") {
		b.WriteString("#   " + l + "\n")
	}
	for _, st := range s.All() {
		b.WriteString(st.Command() + "\n")
	}
	return b.String()
}

// LMSWindow is the last_man_standing_window the generator uses: long
// enough that ordinary steps stay well inside it, short enough for waits.
const LMSWindow = 400 * time.Millisecond

// Generate builds the scenario of seed. Every feature is drawn with a
// fixed probability so any few hundred seeds cover them all.
func Generate(seed uint64) Scenario {
	r := rand.New(rand.NewPCG(seed, 0x766773696d))
	s := Scenario{Seed: seed}
	f := &s.F
	n := 2 + r.IntN(5) // 2..6 nodes
	pool := r.Perm(9)
	for i := 0; i < n; i++ {
		f.IDs = append(f.IDs, uint32(pool[i]+1))
	}
	if r.IntN(2) == 0 {
		slices.Sort(f.IDs)
	}
	weighted := r.IntN(5) == 0
	var sum uint32
	for range f.IDs {
		v := uint32(0)
		if weighted {
			v = uint32(r.IntN(3) + 1)
		} else if r.IntN(6) == 0 {
			v = 1
		}
		f.Votes = append(f.Votes, v)
		sum += max(v, 1)
	}
	if r.IntN(5) == 0 {
		f.ExpectedVotes = uint32(max(1, int(sum)+r.IntN(5)-2))
	}
	f.TwoNode = (n == 2 && r.IntN(2) == 0) || r.IntN(12) == 0
	f.WFA = r.IntN(4) - 1
	if f.WFA == 2 {
		f.WFA = 1
	}
	f.LMS = r.IntN(3) == 0
	f.LMSWindowMs = uint32(LMSWindow / time.Millisecond)
	f.ATB = r.IntN(3) == 0
	if f.ATB {
		switch r.IntN(4) {
		case 1:
			f.ATBNode = "lowest"
		case 2:
			f.ATBNode = "highest"
		case 3:
			k := 1 + r.IntN(n)
			var l []string
			for _, i := range r.Perm(n)[:k] {
				l = append(l, strconv.Itoa(int(f.IDs[i])))
			}
			if r.IntN(6) == 0 {
				l = append(l, "99") // not a member: skipped by the walk
			}
			f.ATBNode = strings.Join(l, " ")
		}
	}
	f.AllowDown = r.IntN(8) == 0
	f.EVTracking = r.IntN(6) == 0

	// steps over a simulated partition map
	parts := map[uint32]int{}
	for _, id := range f.IDs {
		parts[id] = 0
	}
	var down []uint32
	nsteps := 3 + r.IntN(6)
	for len(s.Steps) < nsteps {
		live := liveIDs(f.IDs, parts)
		used := usedParts(parts)
		switch k := r.IntN(10); {
		case k < 3 && len(live) > 1: // split some nodes off
			p := r.IntN(4)
			m := 1 + r.IntN(len(live)-1)
			var ns []uint32
			for _, i := range r.Perm(len(live))[:m] {
				ns = append(ns, live[i])
			}
			for _, id := range ns {
				parts[id] = p
			}
			s.Steps = append(s.Steps, Step{Kind: "move", Part: p, Nodes: ns})
		case k < 5 && len(used) > 1: // merge two partitions
			a, b := used[r.IntN(len(used))], used[r.IntN(len(used))]
			if a == b {
				continue
			}
			for id, p := range parts {
				if p == b {
					parts[id] = a
				}
			}
			s.Steps = append(s.Steps, Step{Kind: "join", Part: a, Other: b})
		case k < 7 && len(live) > 1: // kill one
			id := live[r.IntN(len(live))]
			delete(parts, id)
			down = append(down, id)
			s.Steps = append(s.Steps, Step{Kind: "down", Nodes: []uint32{id}})
		case k < 9 && len(down) > 0: // restart one
			i := r.IntN(len(down))
			id := down[i]
			down = slices.Delete(down, i, i+1)
			p := 0
			if len(used) > 0 {
				p = used[r.IntN(len(used))]
			}
			parts[id] = p
			s.Steps = append(s.Steps, Step{Kind: "up", Part: p, Nodes: []uint32{id}})
		case k == 9 && f.LMS:
			s.Steps = append(s.Steps, Step{Kind: "wait", Ms: int(LMSWindow/time.Millisecond) + 250})
		}
	}
	// The last step moves a node into the partition it is in: it changes
	// no membership, but every move gives every partition a new ring, so
	// every live node sends a NODEINFO with the votes, expected votes and
	// flags the scenario left it with, and those are compared too.
	if live := liveIDs(f.IDs, parts); len(live) > 0 {
		s.Steps = append(s.Steps, Step{Kind: "move", Part: parts[live[0]], Nodes: live[:1]})
	}
	for i, id := range f.IDs {
		s.Boot = append(s.Boot, Step{Kind: "up", Part: i, Nodes: []uint32{id}})
	}
	drawQdevice(seed, f)
	for i := 1; i < len(f.IDs); i++ {
		s.Boot = append(s.Boot, Step{Kind: "join", Part: 0, Other: i})
	}
	return s
}

// drawQdevice gives a sixth of the scenarios a quorum device section, from
// a generator of its own so that every other draw of a seed stays what it
// was. Half of those drop the features votequorum refuses beside a device
// (two_node, last_man_standing, auto_tie_breaker, allow_downscale), so
// that they run; the other half keep them and compare the start-up error.
func drawQdevice(seed uint64, f *Features) {
	r := rand.New(rand.NewPCG(seed, 0x7164657669636500))
	if r.IntN(6) != 0 {
		return
	}
	f.Qdevice = true
	f.QdeviceVotes = uint32(r.IntN(4)) // 0: the votes key absent
	if r.IntN(2) == 0 {
		f.TwoNode, f.LMS, f.ATB, f.ATBNode, f.AllowDown = false, false, false, "", false
	}
}

func liveIDs(ids []uint32, parts map[uint32]int) []uint32 {
	var l []uint32
	for _, id := range ids {
		if _, ok := parts[id]; ok {
			l = append(l, id)
		}
	}
	return l
}

func usedParts(parts map[uint32]int) []int {
	var u []int
	for _, p := range parts {
		if !slices.Contains(u, p) {
			u = append(u, p)
		}
	}
	slices.Sort(u)
	return u
}
