package sim

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
)

// KindCfg is a cfg service that broke what it promises its clients or
// the ring.
const KindCfg Kind = "cfg"

// cfgChecker checks the cfg service of a whole-node run:
//
//   - the cfg ring messages one stack's core got in a ring (the ring it
//     was delivered in, transitional deliveries included) are, where two
//     stacks both got them, in the same order: cfg's messages are
//     totally ordered like every other (EVS agreed order);
//   - no stack's core gets one message twice;
//   - every stack up at the end asked its driver for one reload per
//     RELOAD_CONFIG its core got (cfg queues them, one at a time);
//   - every client whose stack is still up at the end has no request
//     left unanswered (a reload's answer needs the requester's own copy
//     back from the ring);
//   - only the node a planned KILL_NODE or shutdown is for exits or
//     stops, once (cfgclient.go), and it does (planCrash).
type cfgChecker struct {
	s     *wsim
	rings map[srp.RingID]map[nodeBoot][]string
	order []srp.RingID // rings in the order first seen, for a stable report
	seen  map[nodeBoot]map[string]bool
	// reloads: RELOAD_CONFIGs a stack's core got, and reloads it asked
	// its driver for.
	delivered, asked map[nodeBoot]int
}

// nodeBoot names one stack: a node's boot-th.
type nodeBoot struct {
	node srp.NodeID
	boot uint32
}

func newCfgChecker(s *wsim) *cfgChecker {
	return &cfgChecker{s: s, rings: map[srp.RingID]map[nodeBoot][]string{}, seen: map[nodeBoot]map[string]bool{},
		delivered: map[nodeBoot]int{}, asked: map[nodeBoot]int{}}
}

// observer is stack.CfgConfig.Observe for n's stack of boot boot.
func (c *cfgChecker) observer(n *wnode, boot uint32) func(srp.RingID, uint32, []byte, bool) {
	nb := nodeBoot{n.id, boot}
	return func(ring srp.RingID, from uint32, msg []byte, swapped bool) {
		s := c.s
		m, err := cfg.DecodeExec(msg, swapped)
		if err != nil {
			s.chk.report(KindCfg, s.now, n.id, "undecodable cfg message from n%d: %v", from, err)
			return
		}
		var key string
		switch m := m.(type) {
		case cfg.ReloadConfigExec:
			key = fmt.Sprintf("reload n%d/%d", m.Source.NodeID, m.Source.Conn)
			c.delivered[nb]++
			if m.Source.NodeID != from {
				s.chk.report(KindCfg, s.now, n.id, "%s sent by n%d", key, from)
			}
		case cfg.KillNodeExec:
			key = fmt.Sprintf("kill n%d (%s) by n%d", m.NodeID, m.Reason, from)
		case cfg.ShutdownExec:
			key = fmt.Sprintf("shutdown of n%d", from)
		default:
			key = fmt.Sprintf("%T%+v by n%d", m, m, from)
			s.chk.report(KindCfg, s.now, n.id, "cfg message nobody sends: %s", key)
		}
		s.res.CfgMessages++
		s.tracef(n, "cfg delivers %s in ring %x.%x", key, ring.Rep, ring.Seq)
		if c.seen[nb] == nil {
			c.seen[nb] = map[string]bool{}
		}
		if c.seen[nb][key] {
			s.chk.report(KindCfg, s.now, n.id, "cfg message %s delivered twice", key)
			return
		}
		c.seen[nb][key] = true
		r := c.rings[ring]
		if r == nil {
			r = map[nodeBoot][]string{}
			c.rings[ring] = r
			c.order = append(c.order, ring)
		}
		r[nb] = append(r[nb], key)
	}
}

// reloadAsked counts a Reload action of n's current stack.
func (c *cfgChecker) reloadAsked(n *wnode) { c.asked[nodeBoot{n.id, n.boot}]++ }

// finish runs the end-of-run checks.
func (c *cfgChecker) finish() {
	s := c.s
	for _, ring := range c.order {
		r := c.rings[ring]
		nbs := make([]nodeBoot, 0, len(r))
		for nb := range r {
			nbs = append(nbs, nb)
		}
		slices.SortFunc(nbs, func(a, b nodeBoot) int {
			if a.node != b.node {
				return int(a.node) - int(b.node)
			}
			return int(a.boot) - int(b.boot)
		})
		for i, a := range nbs {
			for _, b := range nbs[i+1:] {
				if x, y := common(r[a], r[b]), common(r[b], r[a]); !slices.Equal(x, y) {
					s.chk.report(KindCfg, s.now, a.node, "ring %x.%x: cfg messages in another order than n%d's: %q against %q",
						ring.Rep, ring.Seq, b.node, x, y)
				}
			}
		}
	}
	for _, n := range s.nodes {
		if n.st == nil {
			continue
		}
		nb := nodeBoot{n.id, n.boot}
		if c.asked[nb] != c.delivered[nb] {
			s.chk.report(KindCfg, s.now, n.id, "%d reloads asked of the driver for %d RELOAD_CONFIGs delivered", c.asked[nb], c.delivered[nb])
		}
	}
	for _, cl := range s.clientList {
		if cl.want && cl.alive() {
			s.chk.report(KindCfg, s.now, cl.node.id, "cfg client %d (%s) never answered (asked at %s)", cl.id, cl.what, fmtTime(cl.sentAt))
		}
	}
}

// common is a's items that b has too, in a's order.
func common(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
