package daemon

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/internal/qsvc"
	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
	"github.com/needle-cluster/needle/services/quorumd/wire"
	"github.com/vmihailenco/msgpack/v5"
)

// quorumd hands its clients and its state to the next quorumd when it
// restarts on purpose (svchost.Handoff; libs/ipcproto's doc, "Handing a
// daemon over to its successor"): Pacemaker's controller exits when its
// quorum connection ends, and is respawned without its transient
// attributes, so a quorumd restart must not end the quorum or votequorum
// connections, nor show their trackers a change that did not happen.

// handoffVersion changes with handoffState's meaning.
const handoffVersion = 1

// handoffState is the service's state besides the clients' connections:
// the quorum service's (clients by connection id), and votequorum's.
type handoffState struct {
	Version     int        `msgpack:"v"`
	Provider    string     `msgpack:"p"`
	Served      bool       `msgpack:"s"`
	QRing       bool       `msgpack:"qr"`
	RingMembers []uint32   `msgpack:"rm"`
	Quorum      qsvc.State `msgpack:"q"`
	VQ          *vqState   `msgpack:"vq"` // nil without votequorum
}

// vqState is the votequorum adapter's: the core's snapshot, the
// configuration last applied, the ring's members, the clients and their
// tracking, and the runtime keys written (and those to write again).
type vqState struct {
	Core        []byte          `msgpack:"c"`
	Applied     vq.Config       `msgpack:"a"`
	RingMembers []uint32        `msgpack:"rm"`
	Clients     []vqClientState `msgpack:"cl"` // in id order
	Trackers    []uint64        `msgpack:"t"`  // newest first
	Runtime     []runtimeKey    `msgpack:"rk"` // in key order
}

type vqClientState struct {
	ID       uint64 `msgpack:"i"`
	Tracking bool   `msgpack:"t"`
	Flags    uint32 `msgpack:"f"`
	Context  uint64 `msgpack:"x"`
}

// runtimeKey is one runtime.votequorum. key the core wrote: an uint8
// (Bits 8) or uint32 (Bits 32) value.
type runtimeKey struct {
	Key   string `msgpack:"k"`
	Bits  int    `msgpack:"b"`
	Value uint32 `msgpack:"v"`
	Dirty bool   `msgpack:"d"`
}

// Quiet: votequorum has nothing of its own on its way through the ring,
// no round runs and no client awaits a deferred answer.
func (s *service) Quiet() (bool, string) {
	a, ok := s.vq.(*vqAdapter)
	switch {
	case s.vq == nil:
		return true, ""
	case !ok:
		return false, fmt.Sprintf("votequorum adapter %T cannot hand over", s.vq)
	case a.core == nil:
		return false, "no votequorum state yet (never attached)"
	case a.pendingReg != nil:
		return false, "a quorum device registration awaits its answer"
	}
	return a.core.Quiet()
}

func connID(c any) uint64 { return c.(*svchost.Client).Conn.ID() }

// Handoff encodes the services' state.
func (s *service) Handoff() ([]byte, error) {
	st := handoffState{Version: handoffVersion, Provider: s.provider, Served: s.served, QRing: s.qRing,
		RingMembers: s.ringMembers, Quorum: s.q.Save(connID)}
	if s.vq != nil {
		a, ok := s.vq.(*vqAdapter)
		if !ok {
			return nil, fmt.Errorf("votequorum adapter %T cannot hand over", s.vq)
		}
		var err error
		if st.VQ, err = a.save(); err != nil {
			return nil, err
		}
	}
	b, err := msgpack.Marshal(&st)
	if err != nil {
		return nil, fmt.Errorf("encode quorumd state: %w", err)
	}
	return b, nil
}

func (a *vqAdapter) save() (*vqState, error) {
	snap, err := a.core.Snapshot()
	if err != nil {
		return nil, err
	}
	st := &vqState{Core: snap, Applied: a.applied, RingMembers: a.ringMembers}
	for c, cn := range a.clients {
		st.Clients = append(st.Clients, vqClientState{ID: c.Conn.ID(), Tracking: cn.tracking, Flags: cn.flags, Context: cn.context})
	}
	slices.SortFunc(st.Clients, func(x, y vqClientState) int { return cmp.Compare(x.ID, y.ID) })
	for _, c := range a.trackers {
		st.Trackers = append(st.Trackers, c.Conn.ID())
	}
	for _, k := range slices.Sorted(maps.Keys(a.runtime)) {
		rk := runtimeKey{Key: k, Dirty: a.dirty[k]}
		switch v := a.runtime[k]; v.Type {
		case value.Uint8:
			n, _ := v.AsUint()
			rk.Bits, rk.Value = 8, uint32(n)
		case value.Uint32:
			n, _ := v.AsUint()
			rk.Bits, rk.Value = 32, uint32(n)
		default:
			return nil, fmt.Errorf("runtime key %s of type %v", k, v.Type)
		}
		st.Runtime = append(st.Runtime, rk)
	}
	return st, nil
}

// Resume takes over the predecessor's state and clients. A client the
// state does not know is disconnected; a client the state knows that was
// not handed over is forgotten, as a disconnect would.
func (s *service) Resume(h svchost.Host, at svchost.Attachment, state []byte, clients []*svchost.Client) error {
	var st handoffState
	if err := ipcproto.Unmarshal(state, &st); err != nil {
		return fmt.Errorf("decode quorumd state (%d bytes): %w", len(state), err)
	}
	switch {
	case st.Version != handoffVersion:
		return fmt.Errorf("quorumd state version %d, this quorumd reads version %d", st.Version, handoffVersion)
	case st.Provider != s.provider:
		return fmt.Errorf("quorumd state of quorum provider %q, this quorumd's is %q", st.Provider, s.provider)
	case (st.VQ != nil) != (s.vq != nil):
		return fmt.Errorf("quorumd state with votequorum %v, this quorumd with votequorum %v", st.VQ != nil, s.vq != nil)
	}
	byEP := map[string]map[uint64]*svchost.Client{wire.QuorumEndpoint: {}, wire.VotequorumEndpoint: {}}
	var extra []*svchost.Client
	for _, c := range clients {
		m, ok := byEP[c.Endpoint]
		if !ok || m[c.Conn.ID()] != nil {
			extra = append(extra, c)
			continue
		}
		m[c.Conn.ID()] = c
	}
	qkeys := map[uint64]any{}
	for id, c := range byEP[wire.QuorumEndpoint] {
		qkeys[id] = c
	}
	q, missing, err := qsvc.Load(s.provider != "", st.Quorum, qkeys)
	if err != nil {
		return err
	}
	for _, id := range missing {
		s.qlog.Warn("a quorum client's connection was lost in the handover; forgotten", "conn", id)
	}
	var a *vqAdapter
	if st.VQ != nil {
		a = s.vq.(*vqAdapter)
		if err := a.resume(h, at, st.VQ, byEP[wire.VotequorumEndpoint]); err != nil {
			return err
		}
	}
	s.host, s.attached, s.nodeID = h, true, at.NodeID
	s.q, s.served, s.qRing, s.ringMembers = q, st.Served, st.QRing, st.RingMembers
	known := func(c *svchost.Client) bool {
		if c.Endpoint == wire.QuorumEndpoint {
			return slices.ContainsFunc(st.Quorum.Clients, func(x qsvc.ClientState) bool { return x.ID == c.Conn.ID() })
		}
		return a != nil && a.clients[c] != nil
	}
	for _, m := range byEP {
		for _, c := range m {
			if !known(c) {
				extra = append(extra, c)
			}
		}
	}
	for _, c := range extra {
		s.log.Warn("a handed-over client unknown to the quorumd state; disconnecting it", "endpoint", c.Endpoint, "conn", c.Conn.ID())
		c.Conn.Close()
	}
	return nil
}

// resume restores the core (on a clock starting now) and the clients.
func (a *vqAdapter) resume(h svchost.Host, at svchost.Attachment, st *vqState, clients map[uint64]*svchost.Client) error {
	if at.NodeID != st.Applied.NodeID {
		return fmt.Errorf("votequorum state of node %d, totemd says this is node %d", st.Applied.NodeID, at.NodeID)
	}
	core, err := vq.Restore(st.Applied, st.Core, 0)
	if err != nil {
		return err
	}
	conns := map[*svchost.Client]*vqConn{}
	byID := map[uint64]*vqConn{}
	for _, x := range st.Clients {
		if byID[x.ID] != nil {
			return fmt.Errorf("votequorum state: client %d twice", x.ID)
		}
		if x.Tracking && x.Flags&(wire.TrackChanges|wire.TrackChangesOnly) == 0 {
			return fmt.Errorf("votequorum state: client %d tracks with flags %#x", x.ID, x.Flags)
		}
		byID[x.ID] = &vqConn{tracking: x.Tracking, flags: x.Flags, context: x.Context}
		if c := clients[x.ID]; c != nil {
			conns[c] = byID[x.ID]
		} else {
			a.log.Warn("a votequorum client's connection was lost in the handover; forgotten", "conn", x.ID)
		}
	}
	var trackers []*svchost.Client
	tracking := 0
	for _, cn := range byID {
		if cn.tracking {
			tracking++
		}
	}
	if len(st.Trackers) != tracking {
		return fmt.Errorf("votequorum state: %d trackers listed, %d clients tracking", len(st.Trackers), tracking)
	}
	for i, id := range st.Trackers {
		if cn := byID[id]; cn == nil || !cn.tracking || slices.Contains(st.Trackers[:i], id) {
			return fmt.Errorf("votequorum state: tracker %d is not a tracking client listed once", id)
		}
		if c := clients[id]; c != nil {
			trackers = append(trackers, c)
		}
	}
	runtime, dirty := map[string]value.Value{}, map[string]bool{}
	for _, k := range st.Runtime {
		switch {
		case len(k.Key) <= len(runtimePrefix) || k.Key[:len(runtimePrefix)] != runtimePrefix:
			return fmt.Errorf("votequorum state: runtime key %q", k.Key)
		case k.Bits == 8 && k.Value <= 255:
			runtime[k.Key] = value.U8(uint8(k.Value))
		case k.Bits == 32:
			runtime[k.Key] = value.U32(k.Value)
		default:
			return fmt.Errorf("votequorum state: runtime key %s of %d bits = %d", k.Key, k.Bits, k.Value)
		}
		if k.Dirty {
			dirty[k.Key] = true
		}
	}
	a.core, a.applied, a.epoch = core, st.Applied, time.Now()
	a.ringMembers, a.clients, a.trackers = st.RingMembers, conns, trackers
	a.runtime, a.dirty = runtime, dirty
	a.s.host = h
	a.watch()
	return nil
}
