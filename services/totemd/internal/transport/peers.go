package transport

import (
	"net/netip"
	"slices"
)

// peerSet is the nodelist as the transport uses it: whom a udpu multicast
// goes to, where a token goes, and (block_unlisted_ips) whose datagrams
// are accepted. The senders and the receive loops read it without a lock;
// SetPeers replaces it whole.
type peerSet struct {
	list    []Peer
	addr    map[uint32]netip.AddrPort
	allowed map[netip.Addr]bool
}

func newPeerSet(peers []Peer, port uint16) *peerSet {
	ps := &peerSet{list: slices.Clone(peers), addr: make(map[uint32]netip.AddrPort, len(peers)),
		allowed: make(map[netip.Addr]bool, len(peers))}
	for _, p := range peers {
		a := p.Addr.Unmap()
		ps.addr[p.ID] = netip.AddrPortFrom(a, port)
		ps.allowed[a] = true
	}
	return ps
}

// SetPeers replaces the nodelist, as a configuration reload that adds or
// removes nodes does in corosync: frames sent from now on go to peers,
// and with block_unlisted_ips only their addresses are heard.
func (t *Transport) SetPeers(peers []Peer) {
	t.peers.Store(newPeerSet(peers, t.cfg.Port))
}

// Peers is the nodelist in use.
func (t *Transport) Peers() []Peer { return slices.Clone(t.peers.Load().list) }
