package coroconf

import (
	"net/netip"
	"time"
)

// Transport names as written in totem.transport.
const (
	TransportKnet = "knet"
	TransportUDPU = "udpu"
	TransportUDP  = "udp"
)

// Limits and defaults of corosync 3.1.7's totem configuration.
const (
	MaxLinks       = 8     // INTERFACE_MAX
	DefaultPort    = 5405  // mcastport of link 0
	KnetMaxNodeID  = 65536 // KNET_MAX_HOST
	minKeyLen      = 128   // KNET_MIN_KEY_LEN, bytes
	maxKeyLen      = 4096  // KNET_MAX_KEY_LEN, bytes
	linkModeMaxLen = 64    // TOTEM_LINK_MODE_BYTES
	udpNetMTU      = 1500
	knetNetMTU     = 65536 // KNET_MAX_PACKET_SIZE
	defaultAuthkey = "/etc/corosync/authkey"
)

// Totem is the effective totem configuration derived from a Map, in the
// shape the protocol needs. Durations are the effective timer values after
// defaults, token scaling and derivation.
type Totem struct {
	Transport        string // knet, udpu or udp
	Version          uint32
	ClusterName      string
	IPVersion        string // ipv4, ipv6, ipv4-6 or ipv6-4
	LinkMode         string
	ClearNodeHighBit bool
	Threads          uint32
	NetMTU           uint32 // after validation: configured or 1500 (udp/udpu) / 65536 (knet)
	Broadcast        bool

	// LocalNodePos is the position of this node in the nodelist, -1 if
	// none matched; NodeID is its (possibly generated) node id.
	LocalNodePos int
	NodeID       uint32
	// Nodes are the nodelist entries by position; Links the configured
	// links (index = link number).
	Nodes []Node
	Links [MaxLinks]Link

	Timers Timers

	CryptoCipher string // none, aes256, aes192, aes128
	CryptoHash   string // none, md5, sha1, sha256, sha384, sha512
	CryptoModel  string
	KeyFile      string // path the key came from; "" for totem.key or no crypto
	Key          []byte // nil when crypto is off
}

// Node is one nodelist entry.
type Node struct {
	Pos   uint32
	ID    uint32
	Name  string
	Addrs [MaxLinks]netip.Addr // ringX_addr, invalid when absent
}

// Link is one configured link (interface).
type Link struct {
	Configured bool
	BindNet    netip.Addr
	McastAddr  netip.Addr
	LocalAddr  netip.Addr
	Port       uint16
	TTL        uint32
	// knet settings; ignored by udp/udpu
	KnetLinkPriority  uint32
	KnetPingInterval  uint32
	KnetPingTimeout   uint32
	KnetPingPrecision uint32
	KnetPongCount     uint32
	KnetTransport     string // udp or sctp
	// Members is corosync's member list of the link, quirks included: an
	// address whose node id was generated may appear twice (see
	// splitsCurrentNode); Totem.Nodes is the clean per-node list.
	Members []Member
}

// Member is one address on a link.
type Member struct {
	Addr   netip.Addr
	NodeID uint32
}

// Timers are the effective totem timing and flow values.
type Timers struct {
	Token                       time.Duration
	TokenRetransmit             time.Duration
	Hold                        time.Duration
	Join                        time.Duration
	SendJoin                    time.Duration
	Consensus                   time.Duration
	Merge                       time.Duration
	Downcheck                   time.Duration
	MaxNetworkDelay             time.Duration
	TokenWarningPercent         uint32
	TokenRetransmitsBeforeLoss  uint32
	FailRecvConst               uint32
	SeqnoUnchangedConst         uint32
	HeartbeatFailuresAllowed    uint32
	WindowSize                  uint32
	MaxMessages                 uint32
	MissCountConst              uint32
	KnetPMTUDInterval           uint32
	KnetMTU                     uint32
	KnetCompressionThreshold    uint32
	KnetCompressionLevel        int32
	KnetCompressionModel        string
	BlockUnlistedIPs            bool
	CancelTokenHoldOnRetransmit bool
}
