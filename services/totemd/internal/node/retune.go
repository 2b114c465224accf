package node

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/srp"
	"github.com/needle-cluster/needle/services/totemd/internal/transport"
)

// Retune is the totem configuration a set of cmap keys describes, in the
// driver's terms: what corosync 3.1.7 changes on a running ring when
// totem.* or nodelist.* change (by a reload, or a cmap write).
type Retune struct {
	Tunables srp.Tunables
	Nodes    []srp.NodeID
	Peers    []transport.Peer
	Nodelist map[uint32][]netip.Addr
	// Runtime are the runtime.config.totem.* values in force, written
	// back into cmap so that it reports what totemd uses.
	Runtime map[string]value.Value
}

// RetuneFunc derives a Retune from the live totem.* and nodelist.* keys;
// an error means the keys do not make a valid configuration.
type RetuneFunc func(keys map[string]value.Value) (*Retune, error)

// retunePrefixes are the cmap prefixes totemd follows for Retune
// (config.* for the reload flags) and for its logging.
var retunePrefixes = [...]string{"totem.", "nodelist.", "config.", "logging."}

// retuneState follows cmapd's totem.*, nodelist.* and config.* keys.
type retuneState struct {
	keys    *svchost.Mirror
	pending map[uint64]string // track request id → prefix
	lastErr string            // the last refusal logged, to log each once
	// written are the runtime.config.totem.* values last written into
	// cmap (cleared on a cmapd hello): unchanged ones are not sent again.
	written map[string]value.Value
}

// trackRetune asks cmapd for the keys Retune reads (on each cmapd hello).
func (n *Node) trackRetune() {
	svc := n.service(svcid.Cmap)
	if svc == nil || n.cfg.Retune == nil {
		return
	}
	n.retune.written = nil
	for _, p := range retunePrefixes {
		n.retune.pending[n.trackPrefix(p)] = p
	}
}

// retuneResponse takes cmapd's answer to trackRetune; false for any
// other response.
func (n *Node) retuneResponse(m *ipcproto.Msg) bool {
	prefix, ok := n.retune.pending[m.ID]
	if !ok {
		return false
	}
	delete(n.retune.pending, m.ID)
	snap, err := trackSnapshot(m, prefix)
	if err != nil {
		n.log.Warn("totem keys not tracked", "error", err)
		return true
	}
	n.retune.keys.Replace(prefix, snap)
	if len(n.retune.pending) == 0 {
		n.applyRetune()
	}
	return true
}

// relog re-applies cmap's logging.* keys to totemd's logs.
func (n *Node) relog() {
	if n.cfg.Relog == nil {
		return
	}
	keys := map[string]value.Value{}
	for _, k := range n.retune.keys.Keys("logging.") {
		keys[k], _ = n.retune.keys.Get(k)
	}
	if err := n.cfg.Relog(keys); err != nil {
		n.log.Error("logging configuration from cmap not applied", "error", err)
	}
}

// retuneChanges applies cmapd's change notifications under the followed
// prefixes: a change of logging.* re-applies the logging, one of the
// others re-derives the totem configuration.
func (n *Node) retuneChanges(changes []svchost.Change) {
	var mine []svchost.Change
	totem, logging := false, false
	for _, c := range changes {
		for _, p := range retunePrefixes {
			if strings.HasPrefix(c.Key, p) {
				mine = append(mine, c)
				if p == "logging." {
					logging = true
				} else {
					totem = true
				}
				break
			}
		}
	}
	if len(mine) == 0 {
		return
	}
	n.retune.keys.Apply(mine)
	if len(n.retune.pending) > 0 {
		return
	}
	if totem {
		n.applyRetune()
	}
	if logging {
		n.relog()
	}
}

// applyRetune puts the configuration the followed keys describe in force.
// Like corosync it waits while a reload is writing the map (either
// in-progress flag set) and acts on the whole result when the flags drop.
// Keys that do not make a valid configuration change nothing and are
// logged (corosync 3.1.7 logs its validation error but keeps the invalid
// values; a ring run on values that failed validation is worse than one
// run on the last good ones).
func (n *Node) applyRetune() {
	for _, f := range []string{"config.reload_in_progress", "config.totemconfig_reload_in_progress"} {
		if v, ok := n.retune.keys.Get(f); ok {
			if u, _ := v.AsUint(); u != 0 {
				return
			}
		}
	}
	keys := map[string]value.Value{}
	for _, p := range []string{"totem.", "nodelist."} {
		for _, k := range n.retune.keys.Keys(p) {
			keys[k], _ = n.retune.keys.Get(k)
		}
	}
	if len(keys) == 0 {
		return // cmapd has not loaded a configuration
	}
	r, err := n.cfg.Retune(keys)
	if err != nil {
		if msg := err.Error(); msg != n.retune.lastErr {
			n.retune.lastErr = msg
			n.log.Error("totem configuration in cmap not applied; the running one stays", "error", err)
		}
		return
	}
	n.retune.lastErr = ""
	if old := n.st.Tunables(); old != r.Tunables {
		if err := n.st.SetTunables(r.Tunables); err != nil {
			n.log.Error("totem settings not applied", "error", err)
			return
		}
		n.log.Info("totem settings changed", "token_ms", r.Tunables.Token.Milliseconds(),
			"consensus_ms", r.Tunables.Consensus.Milliseconds(), "join_ms", r.Tunables.Join.Milliseconds(),
			"window_size", r.Tunables.WindowSize, "max_messages", r.Tunables.MaxMessages)
	}
	if !slices.Equal(n.cfg.SRP.Nodes, r.Nodes) {
		if err := n.st.SetNodes(r.Nodes); err != nil {
			n.log.Error("new nodelist not applied", "error", err)
		} else {
			n.logPeerChanges(n.tr.Peers(), r.Peers)
			n.tr.SetPeers(r.Peers)
			n.cfg.SRP.Nodes = slices.Clone(r.Nodes)
			n.st.SetCfgNodelist(r.Nodelist) // cfg answers from the stack's copy
		}
	}
	n.writeRuntime(r.Runtime)
}

// logPeerChanges logs the udpu members added and removed, in corosync's
// words.
func (n *Node) logPeerChanges(old, new []transport.Peer) {
	if n.cfg.Transport.Mode != transport.UDPU {
		return
	}
	for _, p := range new {
		if !slices.Contains(old, p) {
			n.cfg.TotemLog.Info(fmt.Sprintf("adding new UDPU member {%s}", p.Addr))
		}
	}
	for _, p := range old {
		if !slices.Contains(new, p) {
			n.cfg.TotemLog.Info(fmt.Sprintf("removing UDPU member {%s}", p.Addr))
		}
	}
}

// writeRuntime sets the runtime.config.totem.* keys in cmap, unless they
// are what was last written.
func (n *Node) writeRuntime(rt map[string]value.Value) {
	if n.service(svcid.Cmap) == nil || len(rt) == 0 || maps.EqualFunc(rt, n.retune.written, value.Value.Equal) {
		return
	}
	n.retune.written = rt
	keys := slices.Sorted(maps.Keys(rt))
	reqs := make([][]byte, 0, len(keys))
	for _, k := range keys {
		v := rt[k]
		reqs = append(reqs, cmapwire.Set{Key: k, Type: v.Type, Value: v.Data}.Encode())
	}
	n.askCmap(cmapreq.Batch(reqs...))
}
