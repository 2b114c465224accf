package node

import (
	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/pload"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// The pload service runs in the stack (stack/pload.go); the node follows
// cmapd's pload.* keys for it and writes its results back into cmap.

// ploadPrefix is where pload's settings live in cmap.
const ploadPrefix = "pload."

// ploadRunKey is the last result key written after a run, so that a
// reader that sees it change sees the others of the same run (the pload
// command waits for it).
const ploadRunKey = "runtime.pload.run"

// ploadState follows cmapd's pload.* keys.
type ploadState struct {
	keys     *svchost.Mirror
	trackReq uint64 // the pending Track request's id, 0 when none
}

// trackPload asks cmapd for the pload.* keys and their changes (on each
// cmapd hello).
func (n *Node) trackPload() {
	if !n.st.Ploading() {
		return
	}
	n.ploads.trackReq = n.trackPrefix(ploadPrefix)
}

// ploadResponse takes cmapd's answer to trackPload; false for any other
// response.
func (n *Node) ploadResponse(m *ipcproto.Msg) bool {
	if n.ploads.trackReq == 0 || m.ID != n.ploads.trackReq {
		return false
	}
	n.ploads.trackReq = 0
	snap, err := trackSnapshot(m, ploadPrefix)
	if err != nil {
		n.log.Warn("pload keys not tracked", "error", err)
		return true
	}
	n.ploads.keys.Replace(ploadPrefix, snap)
	n.ploadConfigured()
	return true
}

// ploadChanges applies cmapd's change notifications below pload.
func (n *Node) ploadChanges(changes []svchost.Change) {
	if !n.st.Ploading() {
		return
	}
	mine := under(changes, ploadPrefix)
	if len(mine) == 0 {
		return
	}
	n.ploads.keys.Apply(mine)
	n.ploadConfigured()
}

func (n *Node) ploadConfigured() {
	n.step(stack.PloadConfiguredEvent(pload.SettingsFrom(n.ploads.keys.Get)))
}

// ploadOut carries out what the stack's pload service asks.
func (n *Node) ploadOut(po *stack.PloadOut) {
	log := n.cfg.PloadLog
	for _, l := range po.Logs {
		switch l.Level {
		case pload.Notice:
			log.Info(l.Text)
		case pload.Warning:
			log.Warn(l.Text)
		default:
			log.Debug(l.Text)
		}
	}
	var reqs [][]byte
	if po.StartQueued {
		reqs = append(reqs, cmapwire.Delete{Key: pload.StartKey}.Encode())
	}
	if r := po.Result; r != nil {
		for _, kv := range []struct {
			k string
			v value.Value
		}{
			{"runtime.pload.writes", value.U32(r.Writes)},
			{"runtime.pload.size", value.U32(r.Size)},
			{"runtime.pload.elapsed_ns", value.U64(uint64(r.ElapsedNs))},
			{"runtime.pload.tps", value.F64(r.TPS)},
			{"runtime.pload.mbps", value.F64(r.MBps)},
			{"runtime.pload.result", value.Str(r.Line)},
			{ploadRunKey, value.U32(uint32(r.Run))},
		} {
			reqs = append(reqs, cmapwire.Set{Key: kv.k, Type: kv.v.Type, Value: kv.v.Data}.Encode())
		}
		log.Info("pload run finished; results in runtime.pload.* (needle keeps running where corosync would exit)")
	}
	if len(reqs) == 0 {
		return
	}
	if n.askCmap(cmapreq.Batch(reqs...)) == 0 {
		log.Warn("pload keys not written: cmapd is not attached", "writes", len(reqs))
	}
}
