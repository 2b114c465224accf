package client

import (
	"context"
	"net/netip"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
)

// LocalNodeID returns the daemon's node id (corosync_cfg_local_get).
func (c *Client) LocalNodeID(ctx context.Context) (uint32, error) {
	b, err := c.call(ctx, "local_get", cfg.BareRequest{Req: cfg.ReqLocalGet})
	if err != nil {
		return 0, err
	}
	r, err := cfg.DecodeLocalGetResponse(b)
	return r.NodeID, result("local_get", r.Error, err)
}

// RingStatus returns the local node's links (corosync_cfg_ring_status_get).
func (c *Client) RingStatus(ctx context.Context) ([]cfg.Interface, error) {
	b, err := c.call(ctx, "ring_status_get", cfg.BareRequest{Req: cfg.ReqRingStatusGet})
	if err != nil {
		return nil, err
	}
	r, err := cfg.DecodeRingStatusResponse(b)
	return r.Interfaces, result("ring_status_get", r.Error, err)
}

// NodeStatus returns a node's v1 status (corosync_cfg_node_status_get).
// Like libcfg it refuses a reply of another structure version.
func (c *Client) NodeStatus(ctx context.Context, nodeid uint32) (cfg.NodeStatus, error) {
	b, err := c.call(ctx, "node_status_get", cfg.NodeStatusRequest{NodeID: nodeid, Version: cfg.NodeStatusV1})
	if err != nil {
		return cfg.NodeStatus{}, err
	}
	r, err := cfg.DecodeNodeStatusResponse(b)
	if err == nil && r.Error == cs.OK && r.Status.Version != cfg.NodeStatusV1 {
		r.Error = cs.ErrNotSupported
	}
	return r.Status, result("node_status_get", r.Error, err)
}

// NodeAddrs returns a node's configured addresses, 0 meaning the local
// node (corosync_cfg_get_node_addrs). Slots that libcfg would mark unused
// (all-zero) come back as the zero netip.Addr.
func (c *Client) NodeAddrs(ctx context.Context, nodeid uint32) ([]netip.Addr, error) {
	b, err := c.call(ctx, "get_node_addrs", cfg.GetNodeAddrsRequest{NodeID: nodeid})
	if err != nil {
		return nil, err
	}
	r, err := cfg.DecodeNodeAddrsResponse(b)
	if err := result("get_node_addrs", r.Error, err); err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, raw := range r.Addrs {
		var a netip.Addr
		switch r.Family {
		case 2: // AF_INET
			if [4]byte(raw[:4]) != [4]byte{} {
				a = netip.AddrFrom4([4]byte(raw[:4]))
			}
		case 10: // AF_INET6
			if raw != [16]byte{} {
				a = netip.AddrFrom16(raw)
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// KillNode asks the cluster to kill nodeid (corosync_cfg_kill_node).
// Reasons of 256 bytes or more are refused with CS_ERR_NAME_TOO_LONG
// before anything is sent, as libcfg does.
func (c *Client) KillNode(ctx context.Context, nodeid uint32, reason string) error {
	if len(reason) >= cfg.MaxNameLen {
		return &Error{Op: "kill_node", Code: cs.ErrNameTooLong, Err: cs.ErrNameTooLong}
	}
	return c.bare(ctx, "kill_node", cfg.KillNodeRequest{NodeID: nodeid, Reason: reason}, cfg.RespKillNode)
}

// TryShutdown asks this node to shut down (corosync_cfg_try_shutdown).
// With trackers the answer waits for their votes or the timeout:
// CS_ERR_BUSY vetoed, CS_ERR_EXIST another request is running.
func (c *Client) TryShutdown(ctx context.Context, flags cfg.ShutdownFlags) error {
	return c.bare(ctx, "try_shutdown", cfg.TryShutdownRequest{Flags: flags}, cfg.RespTryShutdown)
}

// ReplyToShutdown votes on a running shutdown request
// (corosync_cfg_replyto_shutdown). Unlike libcfg, which returns only the
// transport status, the daemon's answer is reported (CS_ERR_ACCESS: no
// shutdown is being voted on).
func (c *Client) ReplyToShutdown(ctx context.Context, yes bool) error {
	var v uint32
	if yes {
		v = 1
	}
	return c.bare(ctx, "replyto_shutdown", cfg.ReplyToShutdownRequest{Response: v}, cfg.RespReplyToShutdown)
}

// TrackStart makes this connection a shutdown tracker: it receives
// TESTSHUTDOWN events (NextEvent) and should vote (corosync_cfg_trackstart).
func (c *Client) TrackStart(ctx context.Context) error {
	return c.bare(ctx, "trackstart", cfg.TrackStartRequest{}, cfg.RespTrackStart)
}

// TrackStop ends tracking (corosync_cfg_trackstop).
func (c *Client) TrackStop(ctx context.Context) error {
	return c.bare(ctx, "trackstop", cfg.BareRequest{Req: cfg.ReqTrackStop}, cfg.RespTrackStop)
}

// ReloadConfig makes every node reload corosync.conf; the error is this
// node's result (corosync_cfg_reload_config).
func (c *Client) ReloadConfig(ctx context.Context) error {
	return c.bare(ctx, "reload_config", cfg.BareRequest{Req: cfg.ReqReloadConfig}, cfg.RespReloadConfig)
}

// ReopenLogFiles makes the daemon reopen its log files
// (corosync_cfg_reopen_log_files).
func (c *Client) ReopenLogFiles(ctx context.Context) error {
	return c.bare(ctx, "reopen_log_files", cfg.BareRequest{Req: cfg.ReqReopenLogFiles}, cfg.RespReopenLogFiles)
}

// RingReenable is the 2.x ring re-enable; 3.x daemons answer
// CS_ERR_NOT_SUPPORTED (libcfg 3.1.7 no longer has the call).
func (c *Client) RingReenable(ctx context.Context) error {
	return c.bare(ctx, "ring_reenable", cfg.BareRequest{Req: cfg.ReqRingReenable}, cfg.RespRingReenable)
}

// NextEvent waits for the next TESTSHUTDOWN event (what
// corosync_cfg_dispatch hands to the shutdown callback). Event.Error is
// CS_OK for a question and CS_ERR_TIMEOUT when the vote timed out.
func (c *Client) NextEvent(ctx context.Context) (cfg.TestShutdownEvent, error) {
	b, err := c.c.ReadEvent(ctx)
	if err != nil {
		return cfg.TestShutdownEvent{}, &Error{Op: "dispatch", Code: CSErrorOf(err), Err: err}
	}
	ev, err := cfg.DecodeTestShutdownEvent(b)
	if err != nil {
		return ev, &Error{Op: "dispatch", Code: cs.ErrLibrary, Err: err}
	}
	return ev, nil
}
