package vqcheck

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"slices"
	"strconv"
	"time"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

func (s *Sim) down() []uint32 {
	var d []uint32
	for _, id := range s.ids {
		if s.cores[id] == nil {
			d = append(d, id)
		}
	}
	return d
}

func (s *Sim) quorate(p []uint32) bool {
	for _, id := range p {
		if s.cores[id].Quorate() {
			return true
		}
	}
	return false
}

func (s *Sim) votesOf(p []uint32) uint32 {
	var v uint32
	for _, id := range p {
		v += s.votes[id]
	}
	return v
}

func (s *Sim) compact() {
	s.parts = slices.DeleteFunc(s.parts, func(p []uint32) bool { return len(p) == 0 })
}

func (s *Sim) step() error {
	r := s.r
	if len(s.parts) == 0 {
		d := s.down()
		return s.start(d[r.IntN(len(d))])
	}
	var atbSplit *[3][]uint32 // whole, a, b
	switch k := r.IntN(10); {
	case k < 3: // split
		i := r.IntN(len(s.parts))
		p := s.parts[i]
		if len(p) < 2 {
			return s.advance(time.Duration(r.IntN(3)) * time.Second)
		}
		var a, b []uint32
		for _, id := range p {
			if r.IntN(2) == 0 {
				a = append(a, id)
			} else {
				b = append(b, id)
			}
		}
		if len(a) == 0 || len(b) == 0 {
			a, b = p[:len(p)/2], p[len(p)/2:]
		}
		in, _ := s.cores[p[0]].Info(0)
		if s.atb != "" && !s.lowEV && !s.adminEV && len(p) == len(s.ids) && s.quorate(p) && s.votesOf(a) == s.votesOf(b) &&
			in.ExpectedVotes == s.votesOf(p) {
			atbSplit = &[3][]uint32{slices.Clone(p), slices.Clone(a), slices.Clone(b)}
		}
		s.parts[i] = slices.Clone(a)
		s.parts = append(s.parts, slices.Clone(b))
		s.logf("split %v -> %v | %v", p, a, b)
		if err := s.round(i, nil); err != nil {
			return err
		}
		if err := s.round(len(s.parts)-1, nil); err != nil {
			return err
		}
		s.watchLMS(s.parts[i])
		s.watchLMS(s.parts[len(s.parts)-1])
	case k < 6 && len(s.parts) > 1: // merge
		i, j := r.IntN(len(s.parts)), r.IntN(len(s.parts))
		if i == j {
			return nil
		}
		s.logf("merge %v + %v", s.parts[i], s.parts[j])
		s.parts[i] = append(s.parts[i], s.parts[j]...)
		s.parts[j] = nil
		if err := s.round(i, nil); err != nil {
			return err
		}
		s.compact()
	case k < 7: // crash
		i := r.IntN(len(s.parts))
		p := s.parts[i]
		id := p[r.IntN(len(p))]
		s.parts[i] = slices.DeleteFunc(slices.Clone(p), func(x uint32) bool { return x == id })
		delete(s.cores, id)
		s.logf("crash %d", id)
		if err := s.round(i, nil); err != nil {
			return err
		}
		s.watchLMS(s.parts[i])
		s.compact()
	case k == 7 && r.IntN(3) == 0: // corosync-quorumtool -e on a random node
		i := r.IntN(len(s.parts))
		p := s.parts[i]
		id := p[r.IntN(len(p))]
		n := uint32(1 + r.IntN(int(s.expectedCfg())+2))
		e, acts := s.cores[id].SetExpected(n)
		s.logf("setexpected %d on %d: %v", n, id, e)
		if err := s.deliver(p, mc(id, acts)); err != nil {
			return err
		}
		if e == cs.OK {
			// the administrator vouched for the membership: -e ends
			// waiting for all (verified on 3.1.7) and moves the
			// half-split line auto_tie_breaker measures against
			s.adminEV = true
			if n < s.expectedCfg() {
				s.lowEV = true // and may lower the bar for a split brain
			}
		}
	case k < 8 && len(s.down()) > 0: // restart alone, merges later
		d := s.down()
		if err := s.start(d[r.IntN(len(d))]); err != nil {
			return err
		}
	default:
		return s.advance(time.Duration(r.IntN(int(2*Window/time.Second)+1)) * time.Second)
	}
	if err := s.check(atbSplit); err != nil {
		return err
	}
	if err := s.pollAll(); err != nil {
		return err
	}
	return s.check(nil)
}

// advance moves time; timer multicasts go round their partition.
func (s *Sim) advance(d time.Duration) error {
	s.now += d
	s.logf("advance %v", d)
	if err := s.pollAll(); err != nil {
		return err
	}
	for _, p := range s.parts {
		for _, id := range p {
			if err := s.deliver(p, mc(id, s.cores[id].Advance(s.now))); err != nil {
				return err
			}
		}
	}
	if err := s.check(nil); err != nil {
		return err
	}
	// last_man_standing: a partition that lost members while quorate
	// armed the window; once it passed with the partition unchanged, its
	// expected votes are its member count.
	if !s.lms || s.twoNode || s.atb != "" || s.keys["quorum.expected_votes"] != "" || s.adminEV {
		s.watch = nil
		return nil
	}
	for key, w := range s.watch {
		if w.at > s.now {
			continue
		}
		delete(s.watch, key)
		if !slices.ContainsFunc(s.parts, func(p []uint32) bool { return slices.Equal(p, w.members) }) {
			continue
		}
		for _, id := range w.members {
			c := s.cores[id]
			in, _ := c.Info(0)
			if c.Quorate() && in.Flags&vq.InfoLastManStanding != 0 {
				s.Checked.LMS++
			}
			if c.Quorate() && in.Flags&vq.InfoLastManStanding != 0 && in.ExpectedVotes != uint32(len(w.members)) {
				return fmt.Errorf("last_man_standing: node %d quorate in %v with expected votes %d after the window", id, w.members, in.ExpectedVotes)
			}
		}
	}
	return nil
}

type lmsWatch struct {
	members []uint32
	at      time.Duration
}

// watchLMS records partition p if it lost members and armed the window.
func (s *Sim) watchLMS(p []uint32) {
	if s.watch == nil {
		s.watch = map[string]lmsWatch{}
	}
	for _, id := range p {
		if at, ok := s.cores[id].NextDeadline(); ok && s.cores[id].Quorate() {
			s.watch[fmt.Sprint(p)] = lmsWatch{members: slices.Clone(p), at: at}
			return
		}
	}
}

func (s *Sim) check(atbSplit *[3][]uint32) error {
	for _, p := range s.parts {
		if s.votesOf(p) >= s.expectedCfg() {
			s.allTogether = true
		}
	}
	var q [][]uint32
	for _, p := range s.parts {
		if s.quorate(p) {
			q = append(q, p)
		}
	}
	s.logf("partitions %v quorate %v", s.parts, q)
	for _, p := range q {
		if s.device && 2*s.votesOf(p) <= s.expectedCfg() {
			s.Checked.DeviceCarried++ // quorate only through the device's votes
		}
	}
	if s.wfa && !s.allTogether && !s.adminEV {
		s.Checked.WFA++
	}
	if s.wfa && !s.allTogether && !s.adminEV && len(q) > 0 {
		return fmt.Errorf("wait_for_all: %v quorate before the expected votes were seen together", q[0])
	}
	// auto_tie_breaker with odd expected votes: 3.1.7's "half" test is
	// total == expected/2 in integer division, so with 3 votes a 1-vote
	// side holding the tie-breaker is quorate while the 2-vote side is
	// quorate by majority (wait_for_all only guards restarts).
	atbOdd := s.atb != "" && s.expectedCfg()%2 == 1
	// auto_tie_breaker without wait_for_all: the tie-breaker is what each
	// node remembered (lowest/highest of its last quorate membership, or
	// for a list its previous membership); a node restarted alone, or
	// sides that last agreed in different memberships, remember different
	// tie-breakers and both halves take quorum. wait_for_all closes the
	// restart path (seeds 184, 207 of this simulator before exemption).
	atbNoWFA := s.atb != "" && !s.wfa
	strict := !s.twoNode && !s.lms && !s.lowEV && !atbOdd && !atbNoWFA
	if strict && len(s.parts) > 1 {
		s.Checked.SplitBrain++
	}
	if len(q) > 1 && strict {
		return fmt.Errorf("split brain: %v and %v both quorate", q[0], q[1])
	}
	if atbSplit != nil {
		s.Checked.ATB++
		whole, a, b := atbSplit[0], atbSplit[1], atbSplit[2]
		qa, qb := s.quorate(a), s.quorate(b)
		if qa == qb {
			return fmt.Errorf("auto_tie_breaker %q: even split %v | %v of quorate %v: quorate %v and %v, want exactly one", s.atb, a, b, whole, qa, qb)
		}
		var tb uint32
		switch s.atb {
		case "lowest":
			tb = slices.Min(whole)
		case "highest":
			tb = slices.Max(whole)
		default:
			for _, f := range splitIDs(s.atb) {
				if slices.Contains(whole, f) {
					tb = f
					break
				}
			}
		}
		if tb != 0 && slices.Contains(a, tb) != qa {
			return fmt.Errorf("auto_tie_breaker %q: the side without tie-breaker %d is quorate (%v | %v)", s.atb, tb, a, b)
		}
	}
	return nil
}

func splitIDs(s string) []uint32 {
	var out []uint32
	var n uint32
	in := false
	for _, c := range s + " " {
		if c >= '0' && c <= '9' {
			n = n*10 + uint32(c-'0')
			in = true
		} else if in {
			out = append(out, n)
			n, in = 0, false
		}
	}
	return out
}

// expectedCfg is the configured expected votes: quorum.expected_votes or
// the nodelist's sum. wait_for_all waits for that many votes.
func (s *Sim) expectedCfg() uint32 {
	if v, err := strconv.Atoi(s.keys["quorum.expected_votes"]); err == nil && v > 0 {
		return uint32(v)
	}
	var sum uint32
	for _, v := range s.votes {
		sum += v
	}
	return sum
}
