// Package vqcheck drives one vq.Core per node over seeded random
// membership histories — partitions, merges, crashes, restarts, time —
// with every ring message delivered in one agreed order per partition and
// corosync's sync barrier (every NODEINFO of a round before any
// activate), and checks votequorum's promises:
//
//   - two disjoint partitions are never quorate at once, except where the
//     configuration allows it: two_node; last_man_standing (a node whose
//     expected votes the window lowered can carry them into a merge with
//     nodes that left earlier, and a quorate sender's expected votes are
//     adopted: 3.1.7 lets that side become quorate while the rest of the
//     old partition still is); quorum.expected_votes below the votes of a
//     majority (the administrator lowered the bar); auto_tie_breaker with
//     an odd number of expected votes (its half test is integer division:
//     with 3 votes a 1-vote side holding the tie-breaker is quorate while
//     the 2-vote side is quorate by majority; found by this simulator);
//     a quorum device vote given to more than one partition at once (the
//     simulated arbiter, like qnetd, revokes before it grants, and the
//     split-brain check holds with it);
//   - wait_for_all: from a cold start no node is quorate before one
//     partition held the configured expected votes at the same time;
//   - (histories include corosync-quorumtool -e on random nodes; an
//     accepted -e ends wait_for_all and moves auto_tie_breaker's half
//     line, so those two promises and last_man_standing are not checked
//     after one, and a lowered value exempts the split-brain check)
//   - last_man_standing: a quorate node whose window passed (no timer
//     armed) has expected votes equal to its partition's member count or
//     votes (checked without two_node, auto_tie_breaker and
//     quorum.expected_votes, which make a node quorate on their own);
//   - auto_tie_breaker: when a quorate partition holding every vote splits
//     into two halves of equal votes, exactly one half is quorate, the one
//     holding the tie-breaker (lowest or highest id, or the first listed
//     id present).
package vqcheck

import (
	"bytes"
	"fmt"
	"maps"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// Window is the last_man_standing_window used.
const Window = 10 * time.Second

// Sim is one history.
type Sim struct {
	Seed  uint64
	r     *rand.Rand
	keys  map[string]string
	ids   []uint32
	votes map[uint32]uint32
	parts [][]uint32
	cores map[uint32]*vq.Core
	now   time.Duration
	seq   uint64
	log   []string

	twoNode, wfa, lms, lowEV bool
	atb                      string
	allTogether              bool
	device                   bool // every node runs a quorum device
	adminEV                  bool // a setexpected was accepted
	watch                    map[string]lmsWatch

	// ho picks the nodes handed over to a restored core between steps
	// (its own stream: the histories are those without handovers).
	ho *rand.Rand

	// Checked counts how often each promise was actually tested.
	Checked struct{ SplitBrain, WFA, LMS, ATB, DeviceCarried int }
	// Handovers counts the cores replaced by their restored snapshot.
	Handovers int
}

// New draws a configuration for seed.
func New(seed uint64) *Sim {
	r := rand.New(rand.NewPCG(seed, 0x7671636b))
	s := &Sim{Seed: seed, r: r, keys: map[string]string{}, votes: map[uint32]uint32{}, cores: map[uint32]*vq.Core{},
		ho: rand.New(rand.NewPCG(seed, 0x686f))}
	n := 2 + r.IntN(6)
	var sum uint32
	for i, p := range r.Perm(12)[:n] {
		id := uint32(p + 1)
		s.ids = append(s.ids, id)
		v := uint32(1)
		if r.IntN(6) == 0 {
			v = uint32(1 + r.IntN(3))
		}
		s.votes[id] = v
		sum += v
		pre := "nodelist.node." + strconv.Itoa(i) + "."
		s.keys[pre+"nodeid"] = strconv.Itoa(int(id))
		s.keys[pre+"quorum_votes"] = strconv.Itoa(int(v))
	}
	if r.IntN(6) == 0 {
		ev := uint32(1 + r.IntN(int(sum)+2))
		s.keys["quorum.expected_votes"] = strconv.Itoa(int(ev))
		s.lowEV = ev < sum
	}
	if n == 2 && r.IntN(2) == 0 {
		s.keys["quorum.two_node"] = "1"
	}
	if r.IntN(2) == 0 {
		s.keys["quorum.wait_for_all"] = strconv.Itoa(r.IntN(2))
	}
	if r.IntN(4) == 0 {
		s.keys["quorum.last_man_standing"] = "1"
		s.keys["quorum.last_man_standing_window"] = strconv.Itoa(int(Window / time.Millisecond))
	}
	if r.IntN(4) == 0 {
		s.keys["quorum.device.model"] = "net"
		s.keys["quorum.device.timeout"] = "5000"
		s.keys["quorum.device.sync_timeout"] = "15000"
		s.device = true
	}
	if r.IntN(3) == 0 {
		s.keys["quorum.auto_tie_breaker"] = "1"
		switch r.IntN(3) {
		case 1:
			s.keys["quorum.auto_tie_breaker_node"] = "highest"
		case 2:
			var l []string
			for _, i := range r.Perm(n)[:1+r.IntN(n)] {
				l = append(l, strconv.Itoa(int(s.ids[i])))
			}
			s.keys["quorum.auto_tie_breaker_node"] = strings.Join(l, " ")
		}
	}
	return s
}

func (s *Sim) logf(format string, a ...any) {
	s.log = append(s.log, fmt.Sprintf("t=%v ", s.now)+fmt.Sprintf(format, a...))
}

// Run plays steps events and returns the first broken promise.
func (s *Sim) Run(steps int) error {
	for _, id := range s.ids {
		if err := s.start(id); err != nil {
			return err
		}
	}
	if err := s.features(); err != nil {
		return err
	}
	for i := 0; i < steps; i++ {
		err := s.step()
		if err == nil {
			err = s.handOver()
		}
		if err != nil {
			return fmt.Errorf("seed %d (replay: VQCHECK_SEED=%d go test -run TestHistories ./services/quorumd/internal/vqcheck): %w\nconfig: %v\n%s",
				s.Seed, s.Seed, err, s.keys, strings.Join(s.log, "\n"))
		}
	}
	return nil
}

func (s *Sim) features() error {
	c := s.cores[s.ids[0]]
	in, _ := c.Info(0)
	s.twoNode = in.Flags&vq.InfoTwoNode != 0
	s.wfa = in.Flags&vq.InfoWaitForAll != 0
	s.lms = in.Flags&vq.InfoLastManStanding != 0
	if in.Flags&vq.InfoAutoTieBreaker != 0 {
		s.atb = s.keys["quorum.auto_tie_breaker_node"]
		if s.atb == "" {
			s.atb = "lowest"
		}
	}
	return nil
}

// handOver replaces a random live node's core, as a quorumd restarted
// by SIGTERM does, with the core restored from its snapshot: between
// steps every multicast is delivered and no round runs, so each core is
// quiet, and the restored core must encode the same.
func (s *Sim) handOver() error {
	if s.ho.IntN(3) != 0 || len(s.cores) == 0 {
		return nil
	}
	live := slices.Sorted(maps.Keys(s.cores))
	id := live[s.ho.IntN(len(live))]
	c := s.cores[id]
	if ok, why := c.Quiet(); !ok {
		return fmt.Errorf("node %d not quiet between steps: %s", id, why)
	}
	b, err := c.Snapshot()
	if err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	cfg, err := vq.ConfigFromKeys(s.keys, id)
	if err != nil {
		return err
	}
	r, err := vq.Restore(cfg, b, s.now)
	if err != nil {
		return fmt.Errorf("node %d: %w", id, err)
	}
	if again, err := r.Snapshot(); err != nil || !bytes.Equal(again, b) {
		return fmt.Errorf("node %d: the restored core encodes differently (%v)", id, err)
	}
	s.cores[id] = r
	s.Handovers++
	s.logf("hand over %d", id)
	return nil
}

// start boots a node alone in a new partition (cold).
func (s *Sim) start(id uint32) error {
	cfg, err := vq.ConfigFromKeys(s.keys, id)
	if err != nil {
		return err
	}
	c, acts, err := vq.New(cfg)
	if err != nil {
		// configurations corosync refuses are not histories
		return errSkip{err}
	}
	c.Advance(s.now)
	s.cores[id] = c
	s.parts = append(s.parts, []uint32{id})
	s.logf("start %d", id)
	pending := mc(id, acts)
	if s.device {
		if e, _, racts := c.QdeviceRegister("dev"); e == cs.OK {
			pending = append(pending, mc(id, racts)...)
		}
	}
	return s.round(len(s.parts)-1, pending)
}

type errSkip struct{ error }

type msg struct {
	from uint32
	m    vq.Message
}

func mc(from uint32, acts []vq.Action) []msg {
	var out []msg
	for _, a := range acts {
		if m, ok := a.(vq.Mcast); ok {
			out = append(out, msg{from, m.Msg})
		}
	}
	return out
}

func (s *Sim) deliver(members []uint32, msgs []msg) error {
	for guard := 0; len(msgs) > 0; guard++ {
		if guard > 20 {
			return fmt.Errorf("multicasts do not settle")
		}
		var next []msg
		for _, x := range msgs {
			for _, id := range members {
				acts, err := s.cores[id].DeliverMessage(x.from, x.m)
				if err != nil {
					return fmt.Errorf("node %d: %w", id, err)
				}
				next = append(next, mc(id, acts)...)
			}
		}
		msgs = next
	}
	return nil
}

// round is a membership change of partition p with corosync's barrier.
func (s *Sim) round(p int, pending []msg) error {
	members := s.parts[p]
	if len(members) == 0 {
		return nil
	}
	s.seq += 4
	ring := vq.RingID{NodeID: slices.Min(members), Seq: s.seq}
	for _, id := range members {
		s.cores[id].SyncInit(slices.Clone(members), ring)
	}
	if err := s.deliver(members, pending); err != nil {
		return err
	}
	// the device answers the new ring at once but casts nothing until
	// the arbiter decided (pollAll after the step)
	if err := s.poll(members, false); err != nil {
		return err
	}
	var sent []msg
	for _, id := range members {
		_, acts := s.cores[id].SyncProcess()
		sent = append(sent, mc(id, acts)...)
	}
	if err := s.deliver(members, sent); err != nil {
		return err
	}
	var after []msg
	for _, id := range members {
		after = append(after, mc(id, s.cores[id].SyncActivate())...)
	}
	return s.deliver(members, after)
}

// caster is the partition a qnetd-like arbiter gives the device vote to:
// the one with the most node votes, ties to the one holding the lowest
// node id. Only its devices cast.
func (s *Sim) caster() []uint32 {
	var best []uint32
	for _, p := range s.parts {
		if len(p) == 0 {
			continue
		}
		if best == nil || s.votesOf(p) > s.votesOf(best) ||
			(s.votesOf(p) == s.votesOf(best) && slices.Min(p) < slices.Min(best)) {
			best = p
		}
	}
	return best
}

// pollAll is the arbiter's round: every other partition's devices stop
// casting before the caster's start (qnetd revokes before it grants).
func (s *Sim) pollAll() error {
	caster := s.caster()
	for _, p := range s.parts {
		if !slices.Equal(p, caster) {
			if err := s.poll(p, false); err != nil {
				return err
			}
		}
	}
	if caster == nil {
		return nil
	}
	return s.poll(caster, true)
}

// poll has every registered device of partition p poll with its ring.
func (s *Sim) poll(p []uint32, cast bool) error {
	if !s.device {
		return nil
	}
	for _, id := range p {
		c := s.cores[id]
		in, _ := c.Info(0)
		if in.Flags&vq.InfoQdeviceRegistered == 0 {
			continue
		}
		_, acts := c.QdevicePoll("dev", cast, c.Ring())
		if err := s.deliver(p, mc(id, acts)); err != nil {
			return err
		}
	}
	return nil
}
