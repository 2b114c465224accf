package cfg

import "fmt"

// Request is one decoded client request. Encode gives the exact bytes
// libcfg 3.1.7 sends for it (header included, padding zero).
type Request interface {
	ID() ReqID
	Encode() []byte
}

// Sizes of the 3.1.7 request structs.
const (
	bareReqSize       = 16
	killNodeReqSize   = 288 // nodeid@16, cs_name_t reason@24 (length u16, value[256]@26)
	flagReqSize       = 24  // tryshutdown flags / replytoshutdown response / get_node_addrs nodeid / trackstart flags, @16
	nodeStatusReqSize = 32  // nodeid@16, version@24
)

// BareRequest is a request with no body: RINGSTATUSGET, RINGREENABLE,
// LOCAL_GET, RELOAD_CONFIG, REOPEN_LOG_FILES, TRACKSTOP.
type BareRequest struct{ Req ReqID }

// ID implements Request.
func (r BareRequest) ID() ReqID { return r.Req }

// Encode implements Request.
func (r BareRequest) Encode() []byte { return newReq(r.Req, bareReqSize) }

// KillNodeRequest asks the cluster to kill NodeID.
type KillNodeRequest struct {
	NodeID uint32
	Reason string
	// ReasonLen is cs_name_t.length as received (libcfg sends strlen+1);
	// the daemon copies it to the ring message but reads Reason as a C
	// string. Encode ignores it and writes len(Reason)+1.
	ReasonLen uint16
}

// ID implements Request.
func (KillNodeRequest) ID() ReqID { return ReqKillNode }

// Encode implements Request. Reason is cut to 255 bytes (libcfg refuses
// longer ones with CS_ERR_NAME_TOO_LONG before sending; see client).
func (r KillNodeRequest) Encode() []byte {
	b := newReq(ReqKillNode, killNodeReqSize)
	le.PutUint32(b[16:], r.NodeID)
	putCString(b[26:26+MaxNameLen], r.Reason)
	n := min(len(r.Reason), MaxNameLen-1)
	le.PutUint16(b[24:], uint16(n+1))
	return b
}

// TryShutdownRequest asks this node to shut down.
type TryShutdownRequest struct{ Flags ShutdownFlags }

// ID implements Request.
func (TryShutdownRequest) ID() ReqID { return ReqTryShutdown }

// Encode implements Request.
func (r TryShutdownRequest) Encode() []byte {
	b := newReq(ReqTryShutdown, flagReqSize)
	le.PutUint32(b[16:], uint32(r.Flags))
	return b
}

// ReplyToShutdownRequest is a tracker's vote: Response != 0 is yes.
type ReplyToShutdownRequest struct{ Response uint32 }

// ID implements Request.
func (ReplyToShutdownRequest) ID() ReqID { return ReqReplyToShutdown }

// Encode implements Request.
func (r ReplyToShutdownRequest) Encode() []byte {
	b := newReq(ReqReplyToShutdown, flagReqSize)
	le.PutUint32(b[16:], r.Response)
	return b
}

// GetNodeAddrsRequest asks for a node's configured addresses (0 = local).
type GetNodeAddrsRequest struct{ NodeID uint32 }

// ID implements Request.
func (GetNodeAddrsRequest) ID() ReqID { return ReqGetNodeAddrs }

// Encode implements Request.
func (r GetNodeAddrsRequest) Encode() []byte {
	b := newReq(ReqGetNodeAddrs, flagReqSize)
	le.PutUint32(b[16:], r.NodeID)
	return b
}

// NodeStatusRequest asks for a node's link status in structure Version.
type NodeStatusRequest struct {
	NodeID  uint32
	Version uint32
}

// ID implements Request.
func (NodeStatusRequest) ID() ReqID { return ReqNodeStatusGet }

// Encode implements Request.
func (r NodeStatusRequest) Encode() []byte {
	b := newReq(ReqNodeStatusGet, nodeStatusReqSize)
	le.PutUint32(b[16:], r.NodeID)
	le.PutUint32(b[24:], r.Version)
	return b
}

// TrackStartRequest registers the connection as a shutdown tracker
// (Flags are ignored by the daemon).
type TrackStartRequest struct{ Flags uint8 }

// ID implements Request.
func (TrackStartRequest) ID() ReqID { return ReqTrackStart }

// Encode implements Request.
func (r TrackStartRequest) Encode() []byte {
	b := newReq(ReqTrackStart, flagReqSize)
	b[16] = r.Flags
	return b
}

// reqSize is the fixed size of each request struct.
var reqSize = [numReqs]int{
	ReqRingStatusGet:   bareReqSize,
	ReqRingReenable:    bareReqSize,
	ReqKillNode:        killNodeReqSize,
	ReqTryShutdown:     flagReqSize,
	ReqReplyToShutdown: flagReqSize,
	ReqGetNodeAddrs:    flagReqSize,
	ReqLocalGet:        bareReqSize,
	ReqReloadConfig:    bareReqSize,
	ReqReopenLogFiles:  bareReqSize,
	ReqNodeStatusGet:   nodeStatusReqSize,
	ReqTrackStart:      flagReqSize,
	ReqTrackStop:       bareReqSize,
}

// ErrUnknownRequest marks a request id cfg has no handler for; the
// daemon answers it with GenericError(ErrInvalidParam).
type ErrUnknownRequest struct{ ID int32 }

func (e ErrUnknownRequest) Error() string { return fmt.Sprintf("cfg request: unknown id %d", e.ID) }

// DecodeRequest decodes one client request (16-byte header first). The
// header's size must equal len(msg) and msg must hold the whole fixed
// struct; longer messages are accepted (corosync reads only the struct).
func DecodeRequest(msg []byte) (Request, error) {
	if len(msg) < ReqHeaderSize {
		return nil, fmt.Errorf("cfg request: %d bytes, shorter than the %d-byte header", len(msg), ReqHeaderSize)
	}
	id, size := int32(le.Uint32(msg[0:])), int32(le.Uint32(msg[8:]))
	if int64(size) != int64(len(msg)) {
		return nil, fmt.Errorf("cfg request id %d: header size %d but %d bytes received", id, size, len(msg))
	}
	if id < 0 || id >= numReqs {
		return nil, ErrUnknownRequest{ID: id}
	}
	rid := ReqID(id)
	if want := reqSize[rid]; len(msg) < want {
		return nil, fmt.Errorf("cfg request id %d: %d bytes, the struct needs %d", id, len(msg), want)
	}
	switch rid {
	case ReqKillNode:
		return KillNodeRequest{
			NodeID:    le.Uint32(msg[16:]),
			ReasonLen: le.Uint16(msg[24:]),
			Reason:    cString(msg[26 : 26+MaxNameLen]),
		}, nil
	case ReqTryShutdown:
		return TryShutdownRequest{Flags: ShutdownFlags(le.Uint32(msg[16:]))}, nil
	case ReqReplyToShutdown:
		return ReplyToShutdownRequest{Response: le.Uint32(msg[16:])}, nil
	case ReqGetNodeAddrs:
		return GetNodeAddrsRequest{NodeID: le.Uint32(msg[16:])}, nil
	case ReqNodeStatusGet:
		return NodeStatusRequest{NodeID: le.Uint32(msg[16:]), Version: le.Uint32(msg[24:])}, nil
	case ReqTrackStart:
		return TrackStartRequest{Flags: msg[16]}, nil
	}
	return BareRequest{Req: rid}, nil
}
