package cfg

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Sizes of the 3.1.7 response structs.
const (
	bareRespSize       = 24
	ringStatusRespSize = 10272 // count@24, names[16][128]@32, status[16][512]@2080
	localGetRespSize   = 32    // nodeid@24
	nodeAddrsRespSize  = 32    // family@24, num_addrs@28, addrs[]@32
	nodeStatusRespSize = 4200  // corosync_cfg_node_status_v1 @24
	versionRespSize    = 32    // version@24: node-status failure form
	testShutdownSize   = 32    // flags@24

	ringNamesOff  = 32
	ringStatusOff = ringNamesOff + MaxInterfaces*InterfaceNameLen // 2080

	nodeStatusOff = 24
	linksOff      = 16  // within the node status
	linkSize      = 520 // enabled@0 connected@1 dynconnected@2 mtu@4 src[256]@8 dst[256]@264
)

// BareResponse is a response with no body: RINGREENABLE, KILLNODE,
// TRYSHUTDOWN, REPLYTOSHUTDOWN, RELOAD_CONFIG, REOPEN_LOG_FILES,
// TRACKSTART, TRACKSTOP (and the generic error reply, id 0).
type BareResponse struct {
	Resp  RespID
	Error cs.Error
}

// Encode gives the 24-byte response.
func (r BareResponse) Encode() []byte { return newResp(r.Resp, r.Error, bareRespSize) }

// DecodeBareResponse reads a bare response and checks its id (unless it
// is an error, which may come from the generic layer with id 0).
func DecodeBareResponse(b []byte, want RespID) (BareResponse, error) {
	h, err := checkResp(b, want, bareRespSize)
	return BareResponse{Resp: h.ID, Error: h.Error}, err
}

// checkResp decodes the header and, for a successful response, checks
// the id and that the fixed struct is all there. Error responses may be
// shorter (generic replies are bare headers).
func checkResp(b []byte, want RespID, size int) (RespHeader, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return h, err
	}
	if h.Error != cs.OK {
		return h, nil
	}
	if h.ID != want {
		return h, fmt.Errorf("cfg response: id %d, want %d", h.ID, want)
	}
	if len(b) < size {
		return h, fmt.Errorf("cfg response id %d: %d bytes, the struct needs %d", h.ID, len(b), size)
	}
	return h, nil
}

// full reports whether b carries the whole struct (errors may not).
func full(b []byte, size int) bool { return len(b) >= size }

// Interface is one link of RINGSTATUSGET: Name "<link> <address>",
// Status "OK" for udp/udpu.
type Interface struct {
	Name   string
	Status string
}

// RingStatusResponse answers RINGSTATUSGET. Count is interface_count;
// Interfaces holds the entries filled in (fewer than Count when the
// daemon stopped at a name that was too long).
type RingStatusResponse struct {
	Error      cs.Error
	Count      uint32
	Interfaces []Interface
}

// Encode gives the fixed 10272-byte response; strings are cut to fit.
func (r RingStatusResponse) Encode() []byte {
	b := newResp(RespRingStatusGet, r.Error, ringStatusRespSize)
	le.PutUint32(b[24:], r.Count)
	for i, f := range r.Interfaces {
		if i == MaxInterfaces {
			break
		}
		putCString(b[ringNamesOff+i*InterfaceNameLen:][:InterfaceNameLen], f.Name)
		putCString(b[ringStatusOff+i*InterfaceStatLen:][:InterfaceStatLen], f.Status)
	}
	return b
}

// DecodeRingStatusResponse reads a RINGSTATUSGET response.
func DecodeRingStatusResponse(b []byte) (RingStatusResponse, error) {
	h, err := checkResp(b, RespRingStatusGet, ringStatusRespSize)
	r := RingStatusResponse{Error: h.Error}
	if err != nil || !full(b, ringStatusRespSize) {
		return r, err
	}
	r.Count = le.Uint32(b[24:])
	for i := 0; i < int(min(r.Count, MaxInterfaces)); i++ {
		r.Interfaces = append(r.Interfaces, Interface{
			Name:   cString(b[ringNamesOff+i*InterfaceNameLen:][:InterfaceNameLen]),
			Status: cString(b[ringStatusOff+i*InterfaceStatLen:][:InterfaceStatLen]),
		})
	}
	return r, nil
}

// LocalGetResponse answers LOCAL_GET.
type LocalGetResponse struct {
	Error  cs.Error
	NodeID uint32
}

// Encode gives the 32-byte response.
func (r LocalGetResponse) Encode() []byte {
	b := newResp(RespLocalGet, r.Error, localGetRespSize)
	le.PutUint32(b[24:], r.NodeID)
	return b
}

// DecodeLocalGetResponse reads a LOCAL_GET response.
func DecodeLocalGetResponse(b []byte) (LocalGetResponse, error) {
	h, err := checkResp(b, RespLocalGet, localGetRespSize)
	r := LocalGetResponse{Error: h.Error}
	if err == nil && full(b, localGetRespSize) {
		r.NodeID = le.Uint32(b[24:])
	}
	return r, err
}

// NodeAddrsResponse answers GET_NODE_ADDRS. Addrs are the raw 16-byte
// address slots (IPv4: 4 bytes then zeros). Slots is how many slots the
// message is sized for: corosync sizes it by the node's configured links
// but copies (and counts in num_addrs) only the live ones.
type NodeAddrsResponse struct {
	Error  cs.Error
	Family uint32
	Addrs  [][AddrLen]byte
	Slots  int
}

// Encode gives the 32 + 16·max(Slots, len(Addrs)) byte response.
func (r NodeAddrsResponse) Encode() []byte {
	n := max(r.Slots, len(r.Addrs))
	b := newResp(RespGetNodeAddrs, r.Error, nodeAddrsRespSize+n*AddrLen)
	le.PutUint32(b[24:], r.Family)
	le.PutUint32(b[28:], uint32(len(r.Addrs)))
	for i, a := range r.Addrs {
		copy(b[nodeAddrsRespSize+i*AddrLen:], a[:])
	}
	return b
}

// DecodeNodeAddrsResponse reads a GET_NODE_ADDRS response.
func DecodeNodeAddrsResponse(b []byte) (NodeAddrsResponse, error) {
	h, err := checkResp(b, RespGetNodeAddrs, nodeAddrsRespSize)
	r := NodeAddrsResponse{Error: h.Error}
	if err != nil || !full(b, nodeAddrsRespSize) {
		return r, err
	}
	r.Family = le.Uint32(b[24:])
	num := le.Uint32(b[28:])
	r.Slots = (len(b) - nodeAddrsRespSize) / AddrLen
	if h.Error != cs.OK {
		return r, nil // num_addrs is unspecified on errors
	}
	if uint64(num) > uint64(r.Slots) {
		return r, fmt.Errorf("cfg get_node_addrs response: num_addrs %d but room for %d", num, r.Slots)
	}
	for i := 0; i < int(num); i++ {
		var a [AddrLen]byte
		copy(a[:], b[nodeAddrsRespSize+i*AddrLen:])
		r.Addrs = append(r.Addrs, a)
	}
	return r, nil
}

// LinkStatus is corosync_knet_link_status_v1.
type LinkStatus struct {
	Enabled      uint8
	Connected    uint8
	DynConnected uint8
	MTU          uint32
	SrcAddr      string // ≤ 255 bytes
	DstAddr      string // ≤ 255 bytes
}

// NodeStatus is corosync_cfg_node_status_v1.
type NodeStatus struct {
	Version   uint32
	NodeID    uint32
	Reachable uint8
	Remote    uint8
	External  uint8
	OnwireMin uint8
	OnwireMax uint8
	OnwireVer uint8
	Links     [MaxLinks]LinkStatus
}

// NodeStatusResponse answers NODESTATUSGET: the 4200-byte v1 form when
// Error is OK, otherwise the 32-byte "version" form (Status.Version only).
type NodeStatusResponse struct {
	Error  cs.Error
	Status NodeStatus
}

// Encode gives the response in the form its Error selects.
func (r NodeStatusResponse) Encode() []byte {
	if r.Error != cs.OK {
		b := newResp(RespNodeStatusGet, r.Error, versionRespSize)
		le.PutUint32(b[24:], r.Status.Version)
		return b
	}
	b := newResp(RespNodeStatusGet, r.Error, nodeStatusRespSize)
	s := b[nodeStatusOff:]
	le.PutUint32(s[0:], r.Status.Version)
	le.PutUint32(s[4:], r.Status.NodeID)
	s[8], s[9], s[10] = r.Status.Reachable, r.Status.Remote, r.Status.External
	s[11], s[12], s[13] = r.Status.OnwireMin, r.Status.OnwireMax, r.Status.OnwireVer
	for i, l := range r.Status.Links {
		d := s[linksOff+i*linkSize:][:linkSize]
		d[0], d[1], d[2] = l.Enabled, l.Connected, l.DynConnected
		le.PutUint32(d[4:], l.MTU)
		putCString(d[8:8+MaxHostLen], l.SrcAddr)
		putCString(d[264:264+MaxHostLen], l.DstAddr)
	}
	return b
}

// DecodeNodeStatusResponse reads a NODESTATUSGET response of either form.
func DecodeNodeStatusResponse(b []byte) (NodeStatusResponse, error) {
	h, err := checkResp(b, RespNodeStatusGet, nodeStatusRespSize)
	r := NodeStatusResponse{Error: h.Error}
	if err != nil {
		return r, err
	}
	if !full(b, nodeStatusRespSize) {
		if full(b, versionRespSize) {
			r.Status.Version = le.Uint32(b[24:])
		}
		return r, nil
	}
	s := b[nodeStatusOff:]
	r.Status.Version = le.Uint32(s[0:])
	r.Status.NodeID = le.Uint32(s[4:])
	r.Status.Reachable, r.Status.Remote, r.Status.External = s[8], s[9], s[10]
	r.Status.OnwireMin, r.Status.OnwireMax, r.Status.OnwireVer = s[11], s[12], s[13]
	for i := range r.Status.Links {
		d := s[linksOff+i*linkSize:][:linkSize]
		r.Status.Links[i] = LinkStatus{
			Enabled: d[0], Connected: d[1], DynConnected: d[2],
			MTU:     le.Uint32(d[4:]),
			SrcAddr: cString(d[8 : 8+MaxHostLen]),
			DstAddr: cString(d[264 : 264+MaxHostLen]),
		}
	}
	return r, nil
}

// TestShutdownEvent asks a tracker whether this node may shut down
// (Error OK), or tells it the vote timed out (Error CS_ERR_TIMEOUT).
type TestShutdownEvent struct {
	Error cs.Error
	Flags ShutdownFlags
}

// Encode gives the 32-byte event.
func (e TestShutdownEvent) Encode() []byte {
	b := newResp(RespTestShutdown, e.Error, testShutdownSize)
	le.PutUint32(b[24:], uint32(e.Flags))
	return b
}

// DecodeTestShutdownEvent reads an event; any id but TESTSHUTDOWN is an
// error (libcfg fails its dispatch with CS_ERR_LIBRARY on those).
func DecodeTestShutdownEvent(b []byte) (TestShutdownEvent, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return TestShutdownEvent{}, err
	}
	if h.ID != RespTestShutdown {
		return TestShutdownEvent{}, fmt.Errorf("cfg event: id %d, want %d", h.ID, RespTestShutdown)
	}
	if len(b) < testShutdownSize {
		return TestShutdownEvent{}, fmt.Errorf("cfg testshutdown event: %d bytes, the struct needs %d", len(b), testShutdownSize)
	}
	return TestShutdownEvent{Error: h.Error, Flags: ShutdownFlags(le.Uint32(b[24:]))}, nil
}
