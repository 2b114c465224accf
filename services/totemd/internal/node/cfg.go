package node

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cmapreq"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/ipcproto"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg/cfgipc"
	"github.com/needle-cluster/needle/services/totemd/internal/stack"
)

// CfgConfig enables the libqb "cfg" endpoint (corosync-cfgtool's service).
type CfgConfig struct {
	Enabled   bool
	Transport qbipc.Transport // system.qb_ipc_type
	// Nodelist is every configured node's addresses by link (cfg answers
	// from the nodelist, as corosync 3.1.7 does).
	Nodelist map[uint32][]netip.Addr
	// ShutdownTimeout is cfg.shutdown_timeout when configured.
	ShutdownTimeout *time.Duration
	// UIDGID are the uidgid.* keys of the configuration file: the rules
	// for non-root clients until cmapd reports the live ones. From then on
	// totemd mirrors cmapd's uidgid.* keys (tracked over the bus, again
	// after every hello of a new cmapd), so a runtime
	// `cmapctl -s uidgid.gid.N u8 1` lets that group into cfg at once, as
	// it does into cmap.
	UIDGID map[string]value.Value
	// Reload re-reads and validates corosync.conf for `cfgtool -R`; nil
	// means reload is not supported here.
	Reload func() error
	// ReopenLogs reopens the log files for `cfgtool -L`.
	ReopenLogs func() error
}

// ErrKilled is returned by Run when cfg's KILLNODE ended this node: the
// daemon exits with status 255 without leaving the ring, like corosync.
var ErrKilled = errors.New("killed by cfg request")

// cfgState is the driver side of the cfg service, its I/O: the libqb
// endpoint and the uidgid rules it admits clients by. The core itself is
// the stack's (stack.CfgConfig); loop goroutine only.
type cfgState struct {
	ep *cfgipc.Endpoint
	// uidgid mirrors cmapd's uidgid.* keys for the endpoint's rules;
	// trackReq is the bus id of the track request awaiting its answer.
	uidgid   *svchost.Mirror
	trackReq uint64
}

func (n *Node) startCfg(ctx context.Context) error {
	cc := n.cfg.Cfg
	n.cfgs = &cfgState{uidgid: svchost.NewMirror()}
	n.cfgs.uidgid.Replace(svchost.UIDGIDPrefix, cc.UIDGID)
	n.cfgs.ep = cfgipc.New(cfgipc.Config{Service: stackCore{n}, Logger: n.cfg.CfgLog})
	ep, err := svchost.ListenEndpoint(svchost.EndpointConfig{
		Service: cfg.IPCName, Transport: cc.Transport, Loop: nodeLoop{n, ctx}, Handler: n.cfgs.ep,
		Rules: svchost.UIDGID{Keys: n.cfgs.uidgid, Log: n.cfg.Logger}, Log: n.cfg.Logger.Named("IPC"),
	})
	if err != nil {
		return fmt.Errorf("cfg endpoint: %w", err)
	}
	go func() {
		if err := ep.Serve(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("cfg endpoint stopped", "error", err)
		}
	}()
	return nil
}

// stackCore is the endpoint's cfgipc.Core: connections and requests are
// stepped into the stack, which owns the cfg core; its answers come out
// of the stack's Ready (OutCfgAction) and go back through the endpoint's
// Carry (cfgAction). The endpoint calls it on the node goroutine, whose
// loop carries out the Ready after each call.
type stackCore struct{ n *Node }

func (c stackCore) Connect(id cfg.ConnID) error {
	return c.n.st.Step(c.n.now(), stack.CfgConnectEvent(id))
}

func (c stackCore) Request(id cfg.ConnID, msg []byte) ([]cfg.Action, error) {
	return nil, c.n.st.Step(c.n.now(), stack.CfgRequestEvent(id, msg))
}

func (c stackCore) Disconnect(id cfg.ConnID) []cfg.Action {
	c.n.step(stack.CfgDisconnectEvent(id))
	return nil
}

// nodeLoop runs the cfg endpoint's work on the node goroutine.
type nodeLoop struct {
	n   *Node
	ctx context.Context
}

func (l nodeLoop) Post(f func()) bool { return l.n.Do(l.ctx, f) == nil }

// trackUIDGID asks cmapd for its uidgid.* keys and their changes (cmapd's
// prefix tracking, package cmapreq). Called on cmapd's hello, which every
// cmapd sends when it attaches.
func (n *Node) trackUIDGID() {
	if n.cfgs == nil {
		return
	}
	n.cfgs.trackReq = n.trackPrefix(svchost.UIDGIDPrefix)
}

// ownRequest answers a request a service sent to totemd itself: cmapd's
// hello and its change notifications (uidgid.* for the cfg endpoint;
// totem.*, nodelist.*, config.* for Retune).
func (n *Node) ownRequest(m *ipcproto.Msg) *ipcproto.Msg {
	reply := &ipcproto.Msg{Kind: ipcproto.KindResponse, ID: m.ID, Service: selfService, Status: cs.OK}
	note, err := cmapreq.DecodeNotification(m.Payload)
	switch {
	case err != nil:
		n.log.Debug("request to totemd refused", "error", err)
		reply.Status = cs.ErrNotSupported
	case note.Hello:
		n.trackUIDGID()
		n.trackRetune()
		n.trackPload()
	default:
		var all []svchost.Change
		for _, e := range note.Changes {
			all = append(all, svchost.Change{Key: e.Key, Value: e.Value, Deleted: e.Deleted})
		}
		n.retuneChanges(all)
		n.ploadChanges(all)
		if n.cfgs == nil {
			break
		}
		n.cfgs.uidgid.Apply(under(all, svchost.UIDGIDPrefix))
	}
	if err == nil {
		reply.Payload = cmapreq.NotificationReply(reply.Status)
	}
	return reply
}

// trackResponse takes cmapd's answer to trackUIDGID; false for any other
// response.
func (n *Node) trackResponse(m *ipcproto.Msg) bool {
	if n.cfgs == nil || n.cfgs.trackReq == 0 || m.ID != n.cfgs.trackReq {
		return false
	}
	n.cfgs.trackReq = 0
	snap, err := trackSnapshot(m, svchost.UIDGIDPrefix)
	if err != nil {
		n.log.Warn("uidgid keys not tracked", "error", err)
		return true
	}
	n.cfgs.uidgid.Replace(svchost.UIDGIDPrefix, snap)
	return true
}

// cfgAction carries out what the stack's cfg core asks of the driver.
func (n *Node) cfgAction(a cfg.Action) {
	switch a := a.(type) {
	case cfg.Respond, cfg.SendEvent:
		if n.cfgs != nil {
			n.cfgs.ep.Carry([]cfg.Action{a})
		}
	case cfg.Reload:
		// cmapd owns the runtime map and applies the new file; without it,
		// totemd can still validate the file and answer.
		if n.askCmapReload(a.Seq) {
			return
		}
		result := cs.OK
		if n.cfg.Cfg.Reload == nil {
			result = cs.ErrNotSupported
		} else if err := n.cfg.Cfg.Reload(); err != nil {
			n.log.Error("Unable to reload config file: " + err.Error())
			result = cs.ErrInvalidParam
		}
		n.finishReload(a.Seq, result)
	case cfg.ReopenLogs:
		result := cs.OK
		if n.cfg.Cfg.ReopenLogs != nil {
			if err := n.cfg.Cfg.ReopenLogs(); err != nil {
				n.log.Error("cannot reopen log files", "error", err)
				result = cs.ErrLibrary
			}
		}
		// The stack tells every service daemon to reopen its files too,
		// then answers the client.
		n.step(stack.CfgReopenLogsDoneEvent(a.Conn, result))
	case cfg.CryptoPhase:
		// Keys cannot change at runtime here; nothing to advance.
	case cfg.Log:
		switch a.Level {
		case cfg.LevelDebug:
			n.cfg.CfgLog.Debug(a.Msg)
		case cfg.LevelError:
			n.cfg.CfgLog.Error(a.Msg)
		default:
			n.cfg.CfgLog.Info(a.Msg)
		}
	case cfg.Exit:
		n.exit = ErrKilled
	case cfg.Shutdown:
		n.exit = errShutdown
	default:
		panic(fmt.Sprintf("node: unexpected cfg action %T", a))
	}
}

var errShutdown = errors.New("shutdown requested through cfg")

// finishReload answers cfg's reload with its result.
func (n *Node) finishReload(seq uint64, result cs.Error) {
	if err := n.st.Step(n.now(), stack.CfgReloadDoneEvent(seq, result)); err != nil {
		n.log.Warn("reload completion refused", "error", err)
	}
}
