package cfg

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// ringStatus answers RINGSTATUSGET from the local node's configured
// links: name "<link> <address>", status "OK" (udp/udpu have no link
// monitoring). An address text of 125+ bytes stops the list with
// CS_ERR_NAME_TOO_LONG, keeping the count, as corosync does.
func (s *Service) ringStatus() RingStatusResponse {
	links := s.st.NodeLinks(s.st.LocalNodeID())
	r := RingStatusResponse{Error: cs.OK, Count: uint32(min(len(links), MaxInterfaces))}
	for i, l := range links {
		if i == MaxInterfaces {
			break
		}
		text := l.Addr.String()
		if len(text) >= InterfaceNameLen-3 {
			r.Error = cs.ErrNameTooLong
			break
		}
		r.Interfaces = append(r.Interfaces, Interface{Name: fmt.Sprintf("%d %s", l.Link, text), Status: "OK"})
	}
	return r
}

// nodeAddrs answers GET_NODE_ADDRS (0 = local node) from the nodelist.
// Corosync sizes the reply by the configured links but copies only those
// whose first two address bytes are not zero (it tests a sockaddr
// family field that overlays them), so e.g. ::1 is counted out.
func (s *Service) nodeAddrs(nodeid uint32) NodeAddrsResponse {
	if nodeid == 0 {
		nodeid = s.st.LocalNodeID()
	}
	links := s.st.NodeLinks(nodeid)
	if len(links) == 0 {
		return NodeAddrsResponse{Error: cs.ErrNotExist}
	}
	r := NodeAddrsResponse{Error: cs.OK, Slots: len(links)}
	r.Family, _ = rawAddr(links[0].Addr)
	for _, l := range links {
		_, raw := rawAddr(l.Addr)
		if raw[0] == 0 && raw[1] == 0 {
			continue
		}
		r.Addrs = append(r.Addrs, raw)
	}
	return r
}

// nodeStatus answers NODESTATUSGET the way totemsrp + totemudp[u] fill
// it: reachable = in the membership; for configured nodes link 0 is
// enabled (socket bound), connected = reachable, the net MTU and the
// node's address. Unknown nodes get an all-zero status with their id.
func (s *Service) nodeStatus(r NodeStatusRequest) NodeStatusResponse {
	if r.Version != NodeStatusV1 {
		return NodeStatusResponse{Error: cs.ErrNotSupported}
	}
	ns := NodeStatus{Version: NodeStatusV1, NodeID: r.NodeID}
	if s.st.Reachable(r.NodeID) {
		ns.Reachable = 1
	}
	for _, l := range s.st.NodeLinks(r.NodeID) {
		if l.Link != 0 {
			continue
		}
		link := &ns.Links[0]
		if s.st.LinkEnabled() {
			link.Enabled = 1
		}
		link.Connected = ns.Reachable
		link.MTU = s.st.NetMTU()
		link.SrcAddr = l.Addr.String()
	}
	return NodeStatusResponse{Error: cs.OK, Status: ns}
}
