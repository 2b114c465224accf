package node

import (
	"fmt"
	"strings"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/svcid"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/pg"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// selfService is the id totemd uses as the sender of its own bus requests
// to cmapd (it hosts cfg, service 1); responses carrying it are totemd's.
const selfService = stack.SelfService

// askCmap sends cmapd a request of totemd's own (payload: a cmapreq
// request) and returns its id, whose response comes back to
// ownResponse; 0 when cmapd is not attached.
func (n *Node) askCmap(payload []byte) uint64 {
	svc := n.service(svcid.Cmap)
	if svc == nil {
		return 0
	}
	n.reqSeq++
	n.sendSvc(svc, &ipcproto.Msg{Kind: ipcproto.KindRequest, ID: n.reqSeq, Service: selfService, Payload: payload})
	return n.reqSeq
}

// trackPrefix sends cmapd a Track request for prefix and returns its id;
// 0 when cmapd is not attached.
func (n *Node) trackPrefix(prefix string) uint64 { return n.askCmap(cmapreq.Track(prefix)) }

// trackSnapshot reads cmapd's answer m to a Track of prefix: the keys
// below prefix and their values.
func trackSnapshot(m *ipcproto.Msg, prefix string) (map[string]value.Value, error) {
	st, es, err := cmapreq.DecodeTrackReply(m.Payload)
	switch {
	case err != nil:
		return nil, fmt.Errorf("track %s: %w", prefix, err)
	case m.Status != cs.OK || st != cs.OK:
		return nil, fmt.Errorf("track %s: bus status %d, cmap status %d", prefix, int32(m.Status), int32(st))
	}
	snap := make(map[string]value.Value, len(es))
	for _, e := range es {
		if !e.Deleted && strings.HasPrefix(e.Key, prefix) {
			snap[e.Key] = e.Value
		}
	}
	return snap, nil
}

// under are the changes below prefix.
func under(changes []svchost.Change, prefix string) []svchost.Change {
	var mine []svchost.Change
	for _, c := range changes {
		if strings.HasPrefix(c.Key, prefix) {
			mine = append(mine, c)
		}
	}
	return mine
}

// attachedServices are the services whose attachment publishStats
// reports under stats.needle.service.<name>.attached. quorum (service 3)
// is not one: quorumd serves it but attaches as votequorum.
var attachedServices = [...]uint16{svcid.Cmap, svcid.Cfg, svcid.Cpg, svcid.Pload, svcid.Votequorum}

// publishStats writes the stats.srp.* and stats.pg.* statistics into
// cmapd's stats map (corosync-cmapctl -m stats shows them), and needle's
// own stats.needle.service.<name>.attached (u8: 1 while that service's
// daemon is attached to this totemd's bus; cfg is totemd itself, always
// 1), which `needlectl status` reads: the bus is otherwise invisible to
// clients.
func (n *Node) publishStats() {
	svc := n.service(pg.ServiceCmap)
	if svc == nil {
		return
	}
	st := n.st.Status()
	c := st.Counters
	u64 := map[string]uint64{
		"orf_token_tx": c.OrfTokenTx, "orf_token_rx": c.OrfTokenRx,
		"memb_merge_detect_tx": c.MembMergeDetectTx, "memb_merge_detect_rx": c.MembMergeRx,
		"memb_join_tx": c.MembJoinTx, "memb_join_rx": c.MembJoinRx,
		"mcast_tx": c.MemoMcastTx, "mcast_retx": c.RxRetransmits, "mcast_rx": c.MemoMcastRx,
		"memb_commit_token_tx": c.MembCommitTokenTx, "memb_commit_token_rx": c.MembCommitRx,
		"token_hold_cancel_tx": c.TokenHoldCancelTx, "token_hold_cancel_rx": c.TokenHoldRx,
		"operational_entered": c.OperationalEntered, "operational_token_lost": c.TokenLost,
		"gather_entered": c.GatherEntered, "commit_entered": c.CommitEntered,
		"recovery_entered": c.RecoveryEntered, "consensus_timeouts": c.ConsensusTimeouts,
		"rx_msg_dropped": c.DecodeErrors,
	}
	vals := map[string]value.Value{}
	for _, s := range cmapreq.TotemStats() {
		switch s.Type {
		case value.Uint64:
			vals[s.Key] = value.U64(u64[s.Key[len("stats.srp."):]])
		case value.Uint32:
			v := uint32(0)
			if s.Key == "stats.pg.msg_queue_avail" {
				v = uint32(n.st.Avail())
			}
			vals[s.Key] = value.U32(v)
		case value.Uint8:
			vals[s.Key] = value.U8(0)
		}
	}
	for _, id := range attachedServices {
		on := n.st.Attached(id) != nil
		if id == svcid.Cfg || id == svcid.Pload && n.st.Ploading() {
			on = true // served by totemd itself
		}
		var b uint8
		if on {
			b = 1
		}
		vals["stats.needle.service."+svcid.Name(int(id))+".attached"] = value.U8(b)
	}
	n.askCmap(cmapreq.PutStats(vals))
}

// askCmapReload has cmapd re-read corosync.conf for cfg's reload; the
// answer arrives as a response to selfService and completes the reload.
func (n *Node) askCmapReload(seq uint64) bool {
	id := n.askCmap(cmapreq.Reload())
	if id == 0 {
		return false
	}
	n.pendingReload[id] = seq
	return true
}

// ownResponse handles a response addressed to totemd itself.
func (n *Node) ownResponse(m *ipcproto.Msg) {
	if n.trackResponse(m) || n.retuneResponse(m) || n.ploadResponse(m) {
		return
	}
	seq, ok := n.pendingReload[m.ID]
	if !ok {
		if m.Status != cs.OK {
			n.log.Debug("cmapd refused a statistics update", "status", int32(m.Status))
		}
		return
	}
	delete(n.pendingReload, m.ID)
	n.finishReload(seq, m.Status)
}
