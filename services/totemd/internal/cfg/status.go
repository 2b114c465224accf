package cfg

import "net/netip"

// StatusProvider is what the cfg core asks the totemd driver about the
// node. Every method must answer from the driver's current state without
// blocking; the core calls them while handling one event.
type StatusProvider interface {
	// LocalNodeID is this node's totem node id.
	LocalNodeID() uint32
	// NodeLinks lists nodeid's configured addresses from the nodelist
	// (totem_config's member lists), ordered by link number; nil when the
	// node is not configured. Used for ring status (local node), node
	// addresses and node status: the nodelist, not the membership, is
	// corosync 3.1.7's source of truth here.
	NodeLinks(nodeid uint32) []LinkAddr
	// Reachable reports whether nodeid is in the current totem membership.
	Reachable(nodeid uint32) bool
	// LinkEnabled reports whether the transport socket is bound to the
	// configured address (corosync's BIND_STATE_REGULAR), as opposed to
	// the loopback fallback after the interface went away.
	LinkEnabled() bool
	// NetMTU is the effective totem net_mtu (1410 for netmtu 1500 on udpu).
	NetMTU() uint32
	// MemberStatus is the value of runtime.members.<nodeid>.status
	// ("joined", "left") and whether that key exists.
	MemberStatus(nodeid uint32) (status string, ok bool)
	// ShutdownTimeoutMs is cfg.shutdown_timeout when set as a u32.
	ShutdownTimeoutMs() (ms uint32, ok bool)
	// SendingAllowed reports whether a ring message may be queued now:
	// false while a membership sync runs or the ring's queue is full.
	// Flow-controlled requests are refused with CS_ERR_TRY_AGAIN then.
	SendingAllowed() bool
}

// LinkAddr is one configured address of a node.
type LinkAddr struct {
	Link uint8
	Addr netip.Addr
}

// Linux address family numbers as the wire carries them.
const (
	afInet  = 2
	afInet6 = 10
)

// rawAddr is an address as corosync's totem_ip_address holds it: 16
// bytes, IPv4 in the first 4.
func rawAddr(a netip.Addr) (fam uint32, raw [AddrLen]byte) {
	if a.Is4() {
		v := a.As4()
		copy(raw[:], v[:])
		return afInet, raw
	}
	return afInet6, a.As16()
}
