package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/totemd/internal/node"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

// tunablesOf turns the configured timers into the core's settings.
func tunablesOf(tm coroconf.Timers) srp.Tunables {
	return srp.Tunables{
		Token: tm.Token, TokenWarning: tm.Token * time.Duration(tm.TokenWarningPercent) / 100,
		TokenRetransmit: tm.TokenRetransmit, Hold: tm.Hold, Join: tm.Join, SendJoin: tm.SendJoin,
		Consensus: tm.Consensus, Merge: tm.Merge, Downcheck: tm.Downcheck, MaxNetworkDelay: tm.MaxNetworkDelay,
		FailRecvConst: tm.FailRecvConst, SeqnoUnchangedConst: tm.SeqnoUnchangedConst, MissCountConst: tm.MissCountConst,
		WindowSize: tm.WindowSize, MaxMessages: tm.MaxMessages, CancelHoldOnRetransmit: tm.CancelTokenHoldOnRetransmit,
	}
}

// nodesOf lists the nodelist's ids and their link-0 addresses.
func nodesOf(t *coroconf.Totem) ([]srp.NodeID, []transport.Peer) {
	ids := make([]srp.NodeID, 0, len(t.Nodes))
	peers := make([]transport.Peer, 0, len(t.Nodes))
	for _, n := range t.Nodes {
		ids = append(ids, srp.NodeID(n.ID))
		peers = append(peers, transport.Peer{ID: n.ID, Addr: n.Addrs[0]})
	}
	return ids, peers
}

// nodelistOf is every node's addresses by link, as cfg answers them.
func nodelistOf(t *coroconf.Totem) map[uint32][]netip.Addr {
	nl := make(map[uint32][]netip.Addr, len(t.Nodes))
	for _, n := range t.Nodes {
		var addrs []netip.Addr
		for _, a := range n.Addrs {
			if a.IsValid() {
				addrs = append(addrs, a)
			}
		}
		nl[n.ID] = addrs
	}
	return nl
}

// retuner derives the running ring's new settings from cmap's totem.* and
// nodelist.* keys with the same reading and validation as start-up (so
// the defaults and derivations are corosync's: a reloaded token of 10000
// on three nodes is 10650). What cannot change at run time must not: the
// transport and this node's id; the rest is what corosync 3.1.7 re-reads
// (the timers and limits of totem_volatile_config_read, the nodelist).
func retuner(start *coroconf.CheckResult, env func(stateDir string) coroconf.Env) node.RetuneFunc {
	stateDir := coroconf.StateDir(start.Map)
	return func(keys map[string]value.Value) (*node.Retune, error) {
		m := make(coroconf.Map, len(keys)+32)
		for k, v := range keys {
			m[k] = v
		}
		e := env(stateDir)
		t, _, err := coroconf.ReadTotem(m, e)
		if err == nil {
			err = coroconf.Validate(t, m, e, coroconf.ValidateOptions{Needle: true})
		}
		if err != nil {
			return nil, err
		}
		if t.Transport != start.Totem.Transport {
			return nil, fmt.Errorf("totem.transport %s differs from the running %s", t.Transport, start.Totem.Transport)
		}
		if t.NodeID != start.Totem.NodeID {
			return nil, fmt.Errorf("this node's id would change from %d to %d", start.Totem.NodeID, t.NodeID)
		}
		if t.LocalNodePos < 0 {
			return nil, fmt.Errorf("this node (%d) is not in the nodelist", start.Totem.NodeID)
		}
		ids, peers := nodesOf(t)
		r := &node.Retune{Tunables: tunablesOf(t.Timers), Nodes: ids, Peers: peers, Nodelist: nodelistOf(t),
			Runtime: map[string]value.Value{}}
		for k, v := range m {
			// udp and udpu keep link 0 as configured (as cmapd's reload).
			if strings.HasPrefix(k, "runtime.config.totem.") && !strings.HasPrefix(k, "runtime.config.totem.interface.") {
				r.Runtime[k] = v
			}
		}
		return r, nil
	}
}
