package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// The cfg service's GET_NODE_ADDRS (spec/client-api.md §6.7), the one cfg
// call corosync-cpgtool makes. cfg's own client lives inside totemd's
// module (internal), so the tool speaks these two messages itself.
const (
	cfgReqGetNodeAddrs = 5
	cfgResGetNodeAddrs = 11
	cfgAddrLen         = 16 // TOTEMIP_ADDRLEN
	interfaceMax       = 8  // INTERFACE_MAX: the slots corosync-cpgtool asks for
	afInet, afInet6    = 2, 10
)

var le = binary.LittleEndian

// nodeAddrs asks cfg for nodeid's addresses, as libcfg's
// corosync_cfg_get_node_addrs decodes them: at most interfaceMax slots,
// an all-zero slot comes back as the zero Addr (the tool skips it).
func nodeAddrs(ctx context.Context, cfg *qbipc.Client, nodeid uint32) ([]netip.Addr, error) {
	req := qbipc.NewRequest(cfgReqGetNodeAddrs, 8)
	le.PutUint32(req[16:], nodeid)
	b, err := cfg.Request(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("cfg get_node_addrs %d: %w", nodeid, err)
	}
	if len(b) < 32 {
		return nil, fmt.Errorf("cfg get_node_addrs %d: %d-byte reply", nodeid, len(b))
	}
	if e := cs.Error(int32(le.Uint32(b[16:]))); e != cs.OK {
		return nil, e
	}
	family, num := le.Uint32(b[24:]), int(le.Uint32(b[28:]))
	if 32+num*cfgAddrLen > len(b) {
		return nil, fmt.Errorf("cfg get_node_addrs %d: %d addresses in a %d-byte reply", nodeid, num, len(b))
	}
	var out []netip.Addr
	for i := 0; i < num && i < interfaceMax; i++ {
		raw := [16]byte(b[32+i*cfgAddrLen:])
		var a netip.Addr
		switch family {
		case afInet:
			if raw != [16]byte{} {
				a = netip.AddrFrom4([4]byte(raw[:4]))
			}
		case afInet6:
			if raw != [16]byte{} {
				a = netip.AddrFrom16(raw)
			}
		}
		out = append(out, a)
	}
	return out, nil
}
