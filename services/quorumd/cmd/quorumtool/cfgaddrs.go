package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// corosync-quorumtool asks cfg for one thing, the addresses of a node
// (GET_NODE_ADDRS, spec/client-api.md §6.7). totemd's cfg client is
// internal to totemd, so this is the one request, built and checked here.
const (
	cfgReqGetNodeAddrs  = 5
	cfgResGetNodeAddrs  = 11
	cfgNodeAddrsFixed   = 32 // family@24 num_addrs@28 addrs@32
	cfgAddrSlot         = 16 // TOTEMIP_ADDRLEN
	cfgInterfaceMax     = 8  // INTERFACE_MAX: the addresses the tool asks for
	afInet, afInet6     = 2, 10
	cfgMaxAddrsAccepted = 64
)

// cfgConn is the tool's cfg connection.
type cfgConn struct{ ipc *qbipc.Client }

func dialCfg(ctx context.Context) (*cfgConn, error) {
	c, err := qbipc.Dial(ctx, "cfg", qbipc.DialOptions{})
	if err != nil {
		return nil, fmt.Errorf("cfg connect: %w", err)
	}
	return &cfgConn{ipc: c}, nil
}

func (c *cfgConn) Close() error { return c.ipc.Close() }

// nodeAddrs is corosync_cfg_get_node_addrs with INTERFACE_MAX slots: the
// node's addresses in order; a slot libcfg marks unused (all zero bytes)
// is the zero netip.Addr, which the tool skips.
func (c *cfgConn) nodeAddrs(ctx context.Context, nodeid uint32) ([]netip.Addr, error) {
	req := qbipc.NewRequest(cfgReqGetNodeAddrs, 8)
	binary.NativeEndian.PutUint32(req[16:], nodeid)
	b, err := c.ipc.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("cfg get_node_addrs %d: %w", nodeid, err)
	}
	h, err := qbipc.DecodeRespHeader(b)
	if err != nil {
		return nil, fmt.Errorf("cfg get_node_addrs reply: %w", err)
	}
	if st := cs.Error(h.Error); st != cs.OK {
		return nil, st
	}
	if h.ID != cfgResGetNodeAddrs || int(h.Size) != len(b) || len(b) < cfgNodeAddrsFixed {
		return nil, fmt.Errorf("cfg get_node_addrs reply: id %d size %d in %d bytes", h.ID, h.Size, len(b))
	}
	family := binary.NativeEndian.Uint32(b[24:])
	n := int(binary.NativeEndian.Uint32(b[28:]))
	if n > cfgMaxAddrsAccepted || cfgNodeAddrsFixed+n*cfgAddrSlot > len(b) {
		return nil, fmt.Errorf("cfg get_node_addrs reply: %d addresses in %d bytes", n, len(b))
	}
	n = min(n, cfgInterfaceMax)
	out := make([]netip.Addr, n)
	for i := range out {
		slot := [16]byte(b[cfgNodeAddrsFixed+i*cfgAddrSlot:])
		switch family {
		case afInet:
			if slot != [16]byte{} {
				out[i] = netip.AddrFrom4([4]byte(slot[:4]))
			}
		case afInet6:
			if slot != [16]byte{} {
				out[i] = netip.AddrFrom16(slot)
			}
		}
	}
	return out, nil
}
