package daemon

import (
	"fmt"
	"slices"

	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cpgd/internal/cpg"
	"github.com/vmihailenco/msgpack/v5"
)

// cpgd hands its clients and its core to the next cpgd when it restarts
// on purpose (svchost.Handoff; libs/ipcproto's doc, "Handing a daemon
// over to its successor"): Pacemaker's daemons exit when they lose CPG,
// so a cpgd restart must not end their connections, and the other nodes
// must not see their processes leave and join again.

// handoffState is what the successor needs beyond the core and the
// clients' connections: the flow-control flag every client carries and
// the counters of the metrics.
type handoffState struct {
	Core      []byte `msgpack:"c"`
	FC        int32  `msgpack:"fc"`
	Lost      uint64 `msgpack:"l"`
	Mcasts    uint64 `msgpack:"m"`
	TryAgain  uint64 `msgpack:"t"`
	RingBytes uint64 `msgpack:"rb"`
}

// Quiet: nothing of cpgd's own on its way through the ring.
func (s *service) Quiet() (bool, string) {
	switch {
	case s.core == nil:
		return false, "no cpg state yet (never attached)"
	case len(s.failed) > 0:
		return false, fmt.Sprintf("%d cpg messages wait for the bus", len(s.failed))
	case s.backlogBytes > 0:
		return false, fmt.Sprintf("%d bytes of cpg messages not yet accepted by the ring", s.backlogBytes)
	}
	return s.core.Quiet()
}

// Handoff encodes the core and the service's own state.
func (s *service) Handoff() ([]byte, error) {
	snap, err := s.core.Snapshot()
	if err != nil {
		return nil, err
	}
	b, err := msgpack.Marshal(&handoffState{Core: snap, FC: s.fc, Lost: s.lost, Mcasts: s.mcasts, TryAgain: s.tryAgain, RingBytes: s.ringBytes})
	if err != nil {
		return nil, fmt.Errorf("encode cpgd state: %w", err)
	}
	return b, nil
}

// Resume takes over the predecessor's core and clients. A client the
// core does not know is dropped; a connection the core knows without a
// client (none, unless the predecessor lost one while handing over)
// leaves its group as a disconnect does.
func (s *service) Resume(h svchost.Host, a svchost.Attachment, state []byte, clients []*svchost.Client) error {
	var st handoffState
	if err := ipcproto.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("decode cpgd state: %w", err)
	}
	if st.FC != fcOpen && st.FC != fcOff2 {
		return fmt.Errorf("cpgd state: flow-control flag %d", st.FC)
	}
	core, err := cpg.Restore(s.coreConfig(a.NodeID), st.Core)
	if err != nil {
		return err
	}
	s.host, s.core, s.attached = h, core, true
	s.fc, s.lost, s.mcasts, s.tryAgain, s.ringBytes = st.FC, st.Lost, st.Mcasts, st.TryAgain, st.RingBytes
	known := core.ConnIDs()
	for _, c := range clients {
		id := cpg.ConnID(c.Conn.ID())
		if !slices.Contains(known, id) {
			s.log.Warn("a handed-over client unknown to the cpg state; dropping it", "conn", id)
			c.Conn.Close()
			continue
		}
		s.clients[id] = c
	}
	for _, id := range known {
		if _, ok := s.clients[id]; !ok {
			s.log.Warn("a cpg connection handed over without its client; it leaves its group", "conn", id)
			core.Disconnect(id)
		}
	}
	s.flush()
	return nil
}
