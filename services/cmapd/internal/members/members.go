// Package members keeps the runtime.members.<nodeid>.* keys (spec/cmap.md
// §6.2) that corosync's main writes on every configuration change, before
// the services hear of it. cmapd applies the steps when the bus delivers
// a configuration change.
package members

import (
	"fmt"
	"net/netip"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/internal/load"
)

// Joined is a node that joined, with its interface addresses by link
// number (an invalid Addr for a link it does not have).
type Joined struct {
	NodeID uint32
	Addrs  []netip.Addr
}

// IfacesString renders a node's addresses as totempg_ifaces_print does:
// "r(<link>) ip(<addr>) " per configured link, each piece cut at 62
// characters, or "no interface found for nodeid" for a node without any.
func IfacesString(addrs []netip.Addr) string {
	s := ""
	found := false
	for i, a := range addrs {
		if !a.IsValid() {
			continue
		}
		found = true
		one := fmt.Sprintf("r(%d) ip(%s) ", i, a.Unmap().String())
		if len(one) > 62 {
			one = one[:62]
		}
		s += one
	}
	if !found {
		return "no interface found for nodeid"
	}
	return s
}

func key(id uint32, leaf string) string { return fmt.Sprintf("runtime.members.%d.%s", id, leaf) }

// ConfChg returns the writes for one configuration change: every node in
// left gets status "left" (keys are never deleted), then every joined
// node either gets ip, join_count 1 and status "joined", or, when its ip
// key exists from an earlier membership, join_count + 1 and "joined".
func ConfChg(live load.Live, left []uint32, joined []Joined) []load.Step {
	var steps []load.Step
	for _, id := range left {
		steps = append(steps, load.Step{Key: key(id, "status"), Value: value.Str("left")})
	}
	for _, j := range joined {
		if _, ok := live.Get(key(j.NodeID, "ip")); ok {
			if jc, ok := live.Get(key(j.NodeID, "join_count")); ok {
				if v, err := jc.Adjust(1); err == cs.OK {
					steps = append(steps, load.Step{Key: key(j.NodeID, "join_count"), Value: v})
				}
			}
			steps = append(steps, load.Step{Key: key(j.NodeID, "status"), Value: value.Str("joined")})
			continue
		}
		steps = append(steps,
			load.Step{Key: key(j.NodeID, "ip"), Value: value.Str(IfacesString(j.Addrs))},
			load.Step{Key: key(j.NodeID, "join_count"), Value: value.U32(1)},
			load.Step{Key: key(j.NodeID, "status"), Value: value.Str("joined")})
	}
	return steps
}
