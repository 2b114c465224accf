package daemon

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/coroconf"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/quorumd/internal/evtrack"
	"github.com/needle-cluster/needle/services/quorumd/internal/vq"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// vqConn is one votequorum client's tracking state.
type vqConn struct {
	tracking bool
	flags    uint32
	context  uint64
}

// vqAdapter drives the votequorum core: it builds it at the first
// attachment (the core needs the node id totemd assigns), hands it the
// ring's messages, the sync rounds, virtual time and cmap changes, and
// carries out its actions.
type vqAdapter struct {
	s   *service
	log hclog.Logger

	startKeys coroconf.Map // the file's keys, until the mirror is loaded
	ev        *evtrack.File
	barrier   uint32 // loaded from ev at start-up

	core    *vq.Core
	applied vq.Config // the configuration last given to the core
	epoch   time.Time // the core's virtual clock counts from here

	clients     map[*svchost.Client]*vqConn
	trackers    []*svchost.Client // newest first
	pendingReg  *svchost.Client   // the client whose QDEVICE_REGISTER awaits its ring round trip
	round       svchost.SyncRound // the round whose SyncProcess may finish late
	ringMembers []uint32          // the ring's members (ServiceSync rounds keep them)

	// runtime holds the value of every cmap key the core wrote; keys whose
	// write failed (cmapd not attached yet, restarting) are dirty and
	// written again (reconcile), and a cmapd that lost them (restart) gets
	// them again when the mirror shows them missing.
	runtime    map[string]value.Value
	dirty      map[string]bool
	lastRetry  time.Time
	retryEvery time.Duration
}

// newVQAdapter checks the start-up configuration as corosync's
// votequorum_init does (a refusal ends the daemon with status 20) and
// loads the expected_votes_tracking barrier when tracking is on.
func newVQAdapter(s *service, c svchost.Config) (votequorum, error) {
	a := &vqAdapter{s: s, log: s.log, startKeys: c.Keys, clients: map[*svchost.Client]*vqConn{},
		runtime: map[string]value.Value{}, dirty: map[string]bool{}, retryEvery: time.Second}
	cfg, err := vq.ConfigFromKeys(flatKeys(func(p string) []string { return c.Keys.KeysWithPrefix(p) }, func(k string) (value.Value, bool) {
		v, ok := c.Keys[k]
		return v, ok
	}), provisionalID(c.Keys))
	if err != nil {
		return nil, err
	}
	if cfg.ExpectedVotesTracking || cfg.AllowDownscale {
		f, b, err := evtrack.Open(coroconf.StateDir(c.Keys))
		if err != nil {
			a.log.Error("Unable to load ev_tracking file", "error", err)
			return nil, fmt.Errorf("%s", reasonEVTracking) // corosync's reason, word for word
		}
		a.ev, a.barrier = f, b
	}
	cfg.TrackingBarrier = a.barrier
	if _, _, err := vq.New(cfg); err != nil {
		return nil, err
	}
	return a, nil
}

// reasonEVTracking is corosync's reason when the barrier file can be
// neither read nor created.
const reasonEVTracking = "Unable to load ev_tracking file!"

// provisionalID is a node id to check the start-up configuration with
// before totemd tells us ours: the first nodelist entry's, else 1. The
// checks that refuse to start do not depend on which node we are.
func provisionalID(m coroconf.Map) uint32 {
	for _, k := range m.KeysWithPrefix("nodelist.node.") {
		if strings.HasSuffix(k, ".nodeid") {
			if id, ok := m[k].U32Value(); ok && id != 0 {
				return id
			}
		}
	}
	return 1
}

// flatKeys renders the quorum. and nodelist. keys as the strings the
// core's ConfigFromKeys reads.
func flatKeys(keys func(prefix string) []string, get func(string) (value.Value, bool)) map[string]string {
	out := map[string]string{}
	for _, p := range []string{"quorum.", "nodelist."} {
		for _, k := range keys(p) {
			if v, ok := get(k); ok {
				out[k] = coroconf.FormatValue(v)
			}
		}
	}
	return out
}

// currentConfig is the configuration as cmap holds it now.
func (a *vqAdapter) currentConfig(nodeID uint32) (vq.Config, error) {
	m := a.s.host.Cmap()
	keys := flatKeys(m.Keys, m.Get)
	if len(keys) == 0 { // mirror not loaded yet
		keys = flatKeys(func(p string) []string { return a.startKeys.KeysWithPrefix(p) }, func(k string) (value.Value, bool) {
			v, ok := a.startKeys[k]
			return v, ok
		})
	}
	cfg, err := vq.ConfigFromKeys(keys, nodeID)
	cfg.TrackingBarrier = a.barrier
	return cfg, err
}

// attached builds the core on the first attachment. A later one keeps it
// (same node id): the sync round that follows re-announces us.
func (a *vqAdapter) attached(at svchost.Attachment) {
	a.ringMembers = at.RingMembers
	if a.core != nil {
		if a.core.NodeID() == at.NodeID {
			return
		}
		a.s.host.Fatal(fmt.Errorf("totemd's node id changed from %d to %d under quorumd", a.core.NodeID(), at.NodeID))
		return
	}
	cfg, err := a.currentConfig(at.NodeID)
	if err != nil {
		a.s.host.Fatal(err)
		return
	}
	core, acts, err := vq.New(cfg)
	if err != nil {
		a.s.host.Fatal(fmt.Errorf("votequorum: %w", err))
		return
	}
	a.core, a.applied, a.epoch = core, cfg, time.Now()
	a.apply(acts)
	a.watch()
}

// watch follows the configuration and the runtime keys in cmap, once the
// core exists (built at the first attachment, or restored).
func (a *vqAdapter) watch() {
	for _, p := range []string{"quorum.", "nodelist.", "config."} {
		a.s.host.Cmap().Watch(p, a.cmapChanged)
	}
	a.s.host.Cmap().Watch(runtimePrefix, func([]string) { a.reconcile() })
}

// detached: the multicasts on their way may never come back.
func (a *vqAdapter) detached() {
	if a.core != nil {
		a.core.ForgetSent()
	}
}

// confChg keeps the ring's members current between sync rounds.
func (a *vqAdapter) confChg(c ipcproto.Conf) {
	if c.Type == ring.Regular && len(c.RingMembers) > 0 {
		a.ringMembers = slices.Clone(c.RingMembers)
	}
}

// connect: clients are refused with EAGAIN (CS_ERR_TRY_AGAIN) until the
// core exists, as corosync refuses them until it has initialised.
func (a *vqAdapter) connect(c *svchost.Client) error {
	if a.core == nil {
		return fmt.Errorf("votequorum not ready: not attached to totemd yet: %w", syscall.EAGAIN)
	}
	a.clients[c] = &vqConn{}
	return nil
}

func (a *vqAdapter) disconnect(c *svchost.Client) {
	delete(a.clients, c)
	a.untrack(c)
	// 3.1.7 keeps a pending registration across the client's exit
	// (addendum §1.6); its late answer finds the connection closed.
}

func (a *vqAdapter) untrack(c *svchost.Client) {
	for i, t := range a.trackers {
		if t == c {
			a.trackers = append(a.trackers[:i:i], a.trackers[i+1:]...)
			return
		}
	}
}

func (a *vqAdapter) info() (wire.VQInfo, bool) {
	if a.core == nil {
		return wire.VQInfo{}, false
	}
	in, e := a.core.Info(0)
	return wireInfo(in), e == cs.OK
}

func wireInfo(in vq.Info) wire.VQInfo {
	return wire.VQInfo{NodeID: in.NodeID, State: uint32(in.State), Votes: in.Votes, Expected: in.ExpectedVotes,
		HighestExpected: in.HighestExpected, TotalVotes: in.TotalVotes, Quorum: in.Quorum, Flags: in.Flags,
		QdeviceVotes: in.QdeviceVotes, QdeviceName: in.QdeviceName}
}

func wireRing(r vq.RingID) wire.RingID { return wire.RingID{NodeID: r.NodeID, Seq: r.Seq} }

// request answers one votequorum request.
func (a *vqAdapter) request(c *svchost.Client, msg []byte) error {
	cn := a.clients[c]
	if cn == nil {
		return fmt.Errorf("votequorum request from an unregistered client")
	}
	req, err := wire.DecodeVQRequest(msg)
	if err != nil {
		a.log.Warn("bad votequorum request", "pid", c.Conn.Creds().PID, "error", err)
		return a.respond(c, wire.GenericError(cs.ErrInvalidParam))
	}
	a.catchUp() // a client is registered only once the core exists (connect)
	status := func(e cs.Error, acts []vq.Action) error {
		a.apply(acts)
		return a.respond(c, wire.EncodeVQStatus(e))
	}
	switch r := req.(type) {
	case wire.VQGetInfo:
		in, e := a.core.Info(r.NodeID)
		return a.respond(c, wire.EncodeVQGetInfo(wireInfo(in), e))
	case wire.VQSetExpected:
		return status(a.core.SetExpected(r.Expected))
	case wire.VQSetVotes:
		return status(a.core.SetVotes(r.NodeID, r.Votes))
	case wire.VQTrackStart:
		// The current state goes out even when the client already
		// tracks; then EXIST.
		if r.Flags&(wire.TrackCurrent|wire.TrackChanges) != 0 {
			a.event(c, wire.VQNodelist{Context: r.Context, Ring: wireRing(a.core.Ring()), Nodes: a.core.Members()}.Encode())
			a.event(c, a.quorumEvent(r.Context, a.core.Quorate(), a.core.Nodes()))
		}
		st := cs.OK
		switch {
		case cn.tracking:
			st = cs.ErrExist
		case r.Flags&(wire.TrackChanges|wire.TrackChangesOnly) != 0:
			cn.tracking, cn.flags, cn.context = true, r.Flags, r.Context
			a.trackers = append([]*svchost.Client{c}, a.trackers...)
		}
		return a.respond(c, wire.EncodeVQStatus(st))
	case wire.VQTrackStop:
		if !cn.tracking {
			return a.respond(c, wire.EncodeVQStatus(cs.ErrNotExist))
		}
		cn.tracking = false
		a.untrack(c)
		return a.respond(c, wire.EncodeVQStatus(cs.OK))
	case wire.VQQdeviceRegister:
		e, pending, acts := a.core.QdeviceRegister(r.Name)
		if pending {
			a.pendingReg = c
			a.apply(acts)
			return nil // answered when our QDEVICE_REG comes back
		}
		return status(e, acts)
	case wire.VQQdeviceUnregister:
		return status(a.core.QdeviceUnregister(r.Name))
	case wire.VQQdeviceUpdate:
		return status(a.core.QdeviceUpdate(r.OldName, r.NewName))
	case wire.VQQdevicePoll:
		return status(a.core.QdevicePoll(r.Name, r.CastVote != 0, vq.RingID{NodeID: r.Ring.NodeID, Seq: r.Ring.Seq}))
	case wire.VQQdeviceMasterWins:
		return status(a.core.QdeviceMasterWins(r.Name, r.Allow != 0))
	}
	panic(fmt.Sprintf("quorumd: decoded votequorum request %T has no handler", req))
}

func (a *vqAdapter) respond(c *svchost.Client, msg []byte) error {
	if err := c.Respond(msg); err != nil && !errors.Is(err, qbipc.ErrClosed) {
		a.log.Warn("votequorum reply not sent", "pid", c.Conn.Creds().PID, "error", err)
	}
	return nil
}

func (a *vqAdapter) event(c *svchost.Client, msg []byte) {
	if err := c.SendEvent(msg); err != nil && !errors.Is(err, qbipc.ErrClosed) {
		a.log.Warn("votequorum event not queued", "pid", c.Conn.Creds().PID, "error", err)
	}
}

func (a *vqAdapter) quorumEvent(ctx uint64, quorate bool, nodes []vq.NodeState) []byte {
	ev := wire.VQQuorum{Quorate: b32(quorate), Context: ctx, Nodes: make([]wire.VQNode, len(nodes))}
	for i, n := range nodes {
		ev.Nodes[i] = wire.VQNode{NodeID: n.NodeID, State: uint32(n.State)}
	}
	return ev.Encode()
}

func b32(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// apply carries out the core's actions in order.
func (a *vqAdapter) apply(acts []vq.Action) {
	for _, act := range acts {
		switch x := act.(type) {
		case vq.Mcast:
			msg := x.Msg
			a.s.host.Mcast(x.Payload, func(e cs.Error) { a.mcastDone(msg, e) })
		case vq.QuorumNotify:
			a.s.setQuorum(x.Members, x.Quorate, wireRing(x.Ring))
			for _, c := range a.trackers {
				a.event(c, a.quorumEvent(a.clients[c].context, x.Quorate, x.Nodes))
			}
		case vq.NodelistNotify:
			for _, c := range a.trackers {
				a.event(c, wire.VQNodelist{Context: a.clients[c].context, Ring: wireRing(x.Ring), Nodes: x.Members}.Encode())
			}
		case vq.ExpectedVotesNotify:
			for _, c := range a.trackers {
				a.event(c, wire.VQExpectedVotes{Context: a.clients[c].context, Expected: x.Expected}.Encode())
			}
		case vq.CmapSet:
			a.cmapSet(x.Key, x.Value)
		case vq.PersistBarrier:
			a.persist(x.Value)
		case vq.Log:
			a.log.Log(x.Level, x.Msg)
		case vq.QdeviceRegisterReply:
			if c := a.pendingReg; c != nil {
				a.pendingReg = nil
				a.respond(c, wire.EncodeVQStatus(x.Err))
			}
		case vq.SyncReady:
			a.s.host.SyncDone(a.round)
		default:
			panic(fmt.Sprintf("quorumd: votequorum action %T has no handler", act))
		}
	}
}

// mcastDone is the ring's verdict on one votequorum message. A
// registration whose QDEVICE_REG never reached the ring is answered
// CS_ERR_TRY_AGAIN, as corosync answers a failed send.
func (a *vqAdapter) mcastDone(m vq.Message, e cs.Error) {
	if e == cs.OK {
		return
	}
	a.log.Warn("votequorum message not sent", "message", fmt.Sprintf("%T", m), "error", e)
	a.core.Unsent()
	if r, ok := m.(vq.QdeviceReg); ok && r.Operation == vq.OpRegister && a.pendingReg != nil {
		a.core.QdeviceRegisterFailed()
		c := a.pendingReg
		a.pendingReg = nil
		a.respond(c, wire.EncodeVQStatus(cs.ErrTryAgain))
	}
}

// runtimePrefix is where votequorum's runtime keys live.
const runtimePrefix = "runtime.votequorum."

// cmapSet writes one key the core sets (runtime.votequorum.*, the reset
// of quorum.cancel_wait_for_all) through cmapd, and remembers it.
func (a *vqAdapter) cmapSet(key string, v any) {
	var val value.Value
	switch x := v.(type) {
	case uint8:
		val = value.U8(x)
	case uint32:
		val = value.U32(x)
	default:
		panic(fmt.Sprintf("quorumd: cmap value %T for %s", v, key))
	}
	if strings.HasPrefix(key, runtimePrefix) {
		a.runtime[key] = val
	}
	a.write(key, val)
}

func (a *vqAdapter) write(key string, val value.Value) {
	delete(a.dirty, key)
	a.s.host.Cmap().Set(key, val, func(e cs.Error) {
		if e != cs.OK {
			a.log.Debug("cmap write failed; will retry", "key", key, "error", e)
			if _, mine := a.runtime[key]; mine {
				a.dirty[key] = true
			}
		}
	})
}

// rewriteAll writes every runtime key again.
func (a *vqAdapter) rewriteAll() {
	for k, v := range a.runtime {
		a.write(k, v)
	}
}

// reconcile writes again every runtime key that is dirty or that the
// mirror shows missing or different (cmapd restarted without them).
func (a *vqAdapter) reconcile() {
	m := a.s.host.Cmap()
	for k, v := range a.runtime {
		cur, ok := m.Get(k)
		if a.dirty[k] || !ok || !cur.Equal(v) {
			a.write(k, v)
		}
	}
}

// persist stores the expected_votes_tracking barrier (evtrack writes it
// durably; 3.1.7 logs this warning when its write fails).
func (a *vqAdapter) persist(v uint32) {
	if a.ev == nil {
		return
	}
	if err := a.ev.Store(v); err != nil {
		a.log.Warn("Unable to update ev_tracking_barrier on disk data!!!", "error", err)
		return
	}
	a.barrier = v
}

func (a *vqAdapter) now() time.Duration { return time.Since(a.epoch) }

func (a *vqAdapter) deliver(from uint32, payload []byte, swapped bool) {
	if a.core == nil {
		return
	}
	a.catchUp()
	acts, err := a.core.Deliver(from, payload, swapped)
	if err != nil {
		a.log.Warn("votequorum ring message ignored", "from", from, "bytes", len(payload), "error", err)
	}
	a.apply(acts)
}

// syncInit: a ring change syncs the ring's members. A round that only
// follows a quorumd attaching or leaving on some node keeps the ring's
// members: a restarted quorumd is not a node that left (its record keeps
// its votes until the node leaves the ring), so restarting one never
// costs anyone quorum.
func (a *vqAdapter) syncInit(r svchost.SyncRound) {
	if a.core == nil {
		return
	}
	members := r.Members
	if r.Kind == svchost.FullSync {
		a.ringMembers = r.Members
	} else {
		// The ring's members as last known, plus the round's own (an
		// attachment made before the first ring knows none).
		members = slices.Clone(a.ringMembers)
		for _, m := range r.Members {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
		slices.Sort(members)
	}
	a.catchUp()
	a.apply(a.core.SyncInit(members, vq.RingID{NodeID: r.Ring.Rep, Seq: r.Ring.Seq}))
}

func (a *vqAdapter) syncProcess(r svchost.SyncRound) bool {
	if a.core == nil {
		return true
	}
	a.round = r
	a.catchUp()
	done, acts := a.core.SyncProcess()
	a.apply(acts)
	return done
}

func (a *vqAdapter) syncActivate(svchost.SyncRound) {
	if a.core != nil {
		a.catchUp()
		a.apply(a.core.SyncActivate())
	}
}

func (a *vqAdapter) syncAbort() {
	if a.core != nil {
		a.apply(a.core.SyncAbort())
	}
}

func (a *vqAdapter) tick(now time.Time) {
	if a.core == nil {
		return
	}
	if len(a.dirty) > 0 && now.Sub(a.lastRetry) >= a.retryEvery {
		a.lastRetry = now
		a.reconcile()
	}
	a.catchUp()
}

// catchUp moves the core's clock to now, firing what expired, before an
// input: the core arms a timer at its own time, so an input on a stale
// clock would arm it early. Every input catches up, so the clock needs no
// tick of its own: the daemon ticks only while tickWanted.
func (a *vqAdapter) catchUp() { a.apply(a.core.Advance(a.now())) }

// tickWanted: a timer is armed (last_man_standing, the quorum device's),
// or cmap writes wait to be retried. An idle quorumd is not woken every
// TickPeriod (ten wake-ups a second cost it more than half of an idle
// node's CPU).
func (a *vqAdapter) tickWanted() bool {
	if a.core == nil {
		return false
	}
	_, armed := a.core.NextDeadline()
	return armed || len(a.dirty) > 0
}

// cmapChanged reacts to a change under quorum., nodelist. or config.: a
// write of quorum.cancel_wait_for_all >= 1 cancels waiting for all; any
// other change of what votequorum reads is a runtime reload, skipped
// while a totem reload is in progress (its end, the flag going back to 0,
// triggers it) and after a failed one.
func (a *vqAdapter) cmapChanged(changed []string) {
	if a.core == nil {
		return
	}
	a.catchUp()
	m := a.s.host.Cmap()
	for _, k := range changed {
		if k != "quorum.cancel_wait_for_all" {
			continue
		}
		if v, ok := m.Get(k); ok {
			if n, ok := v.AsUint(); ok && n >= 1 {
				a.apply(a.core.CancelWaitForAll())
				return
			}
		}
	}
	if v, ok := m.Get("config.totemconfig_reload_in_progress"); ok {
		if n, ok := v.AsUint(); ok && n == 1 {
			return
		}
	}
	if v, ok := m.Get("config.reload_status"); ok {
		if n, ok := v.AsInt(); ok && cs.Error(n) != cs.OK {
			return
		}
	}
	cfg, err := a.currentConfig(a.core.NodeID())
	if err != nil {
		a.log.Error("votequorum configuration not reloaded", "error", err)
		return
	}
	if reflect.DeepEqual(cfg, a.applied) {
		return
	}
	a.applied = cfg
	a.apply(a.core.Reload(cfg))
}
