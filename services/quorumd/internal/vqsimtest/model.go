package vqsimtest

import (
	"fmt"
	"slices"
	"time"

	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
)

// maxPartitions is vqsim's MAX_PARTITIONS.
const maxPartitions = 16

type msg struct {
	from uint32
	m    vq.Message
}

// Model is vqsim's controller re-done over vq.Core with one fixed order
// per round: partitions of node ids in vqsim's list order, one ring id per
// partition (seq += 4 per new ring, representative = first node), one core
// per live node. The Explorer starts from its start-up and covers every
// order vqsim can take; TestExplorerContainsOrderings checks the async
// orders below are among them.
type Model struct {
	sc    Scenario
	keys  map[string]string
	parts [maxPartitions][]uint32
	rings [maxPartitions]vq.RingID
	cores map[uint32]*vq.Core
	part  map[uint32]int
	now   time.Duration
	// async is vqsim's own sync: each node activates right after its
	// sync_process, and the round's NODEINFO arrive afterwards. Without
	// it the model runs corosync's barrier (every NODEINFO before any
	// activate).
	async bool
	// reverse makes the async model activate and send in reverse
	// partition order (vqsim's timers fire in no fixed order).
	reverse bool
}

// NewModel is vqsim started on sc's configuration: no node runs until
// the boot's steps start them (Scenario.Boot). An error is the
// configuration error votequorum's start-up reports for any node.
func NewModel(sc Scenario, async bool) (*Model, error) {
	m := &Model{sc: sc, async: async, keys: sc.Keys(), cores: map[uint32]*vq.Core{}, part: map[uint32]int{}}
	for i := range m.rings {
		m.rings[i] = vq.RingID{NodeID: uint32(1000 + i)}
	}
	for _, id := range sc.F.IDs {
		cfg, err := vq.ConfigFromKeys(m.keys, id)
		if err != nil {
			return nil, err
		}
		if _, _, err := vq.New(cfg); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func mcasts(from uint32, acts []vq.Action) []msg {
	var out []msg
	for _, a := range acts {
		if mc, ok := a.(vq.Mcast); ok {
			out = append(out, msg{from, mc.Msg})
		}
	}
	return out
}

func (m *Model) start(id uint32, p int) error {
	cfg, err := vq.ConfigFromKeys(m.keys, id)
	if err != nil {
		return err
	}
	c, acts, err := vq.New(cfg)
	if err != nil {
		return err
	}
	c.Advance(m.now)
	m.cores[id] = c
	initMsgs := mcasts(id, acts)
	c.SyncInit([]uint32{id}, vq.RingID{NodeID: id, Seq: 1})
	m.parts[p] = append(m.parts[p], id)
	m.part[id] = p
	return m.newRing(p, true, initMsgs)
}

// newRing is send_partition_to_nodes followed by a whole sync round.
func (m *Model) newRing(p int, bump bool, pending []msg) error {
	if bump {
		m.rings[p].Seq += 4
	}
	members := m.parts[p]
	if len(members) == 0 {
		return nil
	}
	m.rings[p].NodeID = members[0]
	for _, id := range members {
		m.cores[id].SyncInit(slices.Clone(members), m.rings[p])
	}
	if err := m.deliver(members, pending); err != nil {
		return err
	}
	var sent []msg
	order := slices.Clone(members)
	if m.reverse {
		slices.Reverse(order)
	}
	for _, id := range order {
		_, acts := m.cores[id].SyncProcess()
		sent = append(sent, mcasts(id, acts)...)
		if m.async {
			sent = append(sent, mcasts(id, m.cores[id].SyncActivate())...)
		}
	}
	if m.async {
		return m.deliver(members, sent)
	}
	if err := m.deliver(members, sent); err != nil {
		return err
	}
	var after []msg
	for _, id := range members {
		after = append(after, mcasts(id, m.cores[id].SyncActivate())...)
	}
	return m.deliver(members, after)
}

// deliver hands msgs to every member in one agreed order, then whatever
// those deliveries multicast, until quiet.
func (m *Model) deliver(members []uint32, msgs []msg) error {
	for round := 0; len(msgs) > 0; round++ {
		if round > 20 {
			return fmt.Errorf("model: multicasts did not settle")
		}
		var next []msg
		for _, x := range msgs {
			for _, id := range members {
				acts, err := m.cores[id].DeliverMessage(x.from, x.m)
				if err != nil {
					return fmt.Errorf("node %d: %w", id, err)
				}
				next = append(next, mcasts(id, acts)...)
			}
		}
		msgs = next
	}
	return nil
}

// Advance moves every core's clock to now; messages sent from timers
// (none without a quorum device) are delivered in their partition.
func (m *Model) Advance(now time.Duration) error {
	m.now = now
	for p := range m.parts {
		for _, id := range m.parts[p] {
			if err := m.deliver(m.parts[p], mcasts(id, m.cores[id].Advance(now))); err != nil {
				return err
			}
		}
	}
	return nil
}

// NextDeadline is the earliest armed timer of any core.
func (m *Model) NextDeadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	for _, c := range m.cores {
		if d, has := c.NextDeadline(); has && (!ok || d < at) {
			at, ok = d, true
		}
	}
	return at, ok
}

// Deadlines lists every armed timer.
func (m *Model) Deadlines() []time.Duration {
	var out []time.Duration
	for _, c := range m.cores {
		if d, ok := c.NextDeadline(); ok {
			out = append(out, d)
		}
	}
	return out
}

// Apply runs one step at the model's current time.
func (m *Model) Apply(st Step) error { return m.apply(st) }

func (m *Model) apply(st Step) error {
	switch st.Kind {
	case "move":
		for _, id := range st.Nodes {
			old := m.part[id]
			m.parts[old] = slices.DeleteFunc(m.parts[old], func(x uint32) bool { return x == id })
			m.parts[st.Part] = append(m.parts[st.Part], id)
			m.part[id] = st.Part
		}
		return m.updateAll()
	case "join":
		for _, id := range m.parts[st.Other] {
			m.part[id] = st.Part
		}
		m.parts[st.Part] = append(m.parts[st.Part], m.parts[st.Other]...)
		m.parts[st.Other] = nil
		return m.updateAll()
	case "down":
		id := st.Nodes[0]
		p := m.part[id]
		m.parts[p] = slices.DeleteFunc(m.parts[p], func(x uint32) bool { return x == id })
		delete(m.part, id)
		delete(m.cores, id)
		return m.newRing(p, true, nil)
	case "up":
		return m.start(st.Nodes[0], st.Part)
	case "wait":
		return nil
	}
	return fmt.Errorf("model: step kind %q", st.Kind)
}

func (m *Model) updateAll() error {
	for p := range m.parts {
		if err := m.newRing(p, true, nil); err != nil {
			return err
		}
	}
	return nil
}

// NodeView is what vqsim prints for one node, and its last quorum
// recalculation as its votequorum logged it (nil: none logged; vqlog.go).
type NodeView struct {
	Part    int
	Quorate bool
	Members []uint32
	Recalc  *vq.Recalc
}

// recalcText prints r for messages.
func recalcText(r *vq.Recalc) string {
	if r == nil {
		return "no recalculation logged"
	}
	return r.String()
}

// sameRecalc says whether two views hold the same recalculation.
func sameRecalc(a, b *vq.Recalc) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

// View is every live node's state.
func (m *Model) View() map[uint32]NodeView {
	v := map[uint32]NodeView{}
	for id, c := range m.cores {
		v[id] = NodeView{Part: m.part[id], Quorate: c.Quorate(), Members: c.Members(), Recalc: c.LastRecalc()}
	}
	return v
}
