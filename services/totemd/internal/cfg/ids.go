package cfg

// ServiceID is cfg's corosync service number; ring message ids are
// ServiceID<<16 | ExecFn.
const ServiceID = 1

// IPCName is the libqb service name clients connect to.
const IPCName = "cfg"

// ReqID numbers the client requests (req_lib_cfg_types, 3.1.7).
type ReqID int32

// Client request ids.
const (
	ReqRingStatusGet   ReqID = 0
	ReqRingReenable    ReqID = 1
	ReqKillNode        ReqID = 2
	ReqTryShutdown     ReqID = 3
	ReqReplyToShutdown ReqID = 4
	ReqGetNodeAddrs    ReqID = 5
	ReqLocalGet        ReqID = 6
	ReqReloadConfig    ReqID = 7
	ReqReopenLogFiles  ReqID = 8
	ReqNodeStatusGet   ReqID = 9
	ReqTrackStart      ReqID = 10
	ReqTrackStop       ReqID = 11

	numReqs = 12 // ids at or above get the generic INVALID_PARAM reply
)

// RespID numbers responses and events (res_lib_cfg_types, 3.1.7); the
// numbering differs from ReqID.
type RespID int32

// Response and event ids. 4–7 are declared by corosync but never sent.
const (
	RespRingStatusGet   RespID = 0
	RespRingReenable    RespID = 1
	RespTrackStart      RespID = 2
	RespTrackStop       RespID = 3
	RespKillNode        RespID = 8
	RespTryShutdown     RespID = 9
	RespTestShutdown    RespID = 10 // event
	RespGetNodeAddrs    RespID = 11
	RespLocalGet        RespID = 12
	RespReplyToShutdown RespID = 13
	RespReloadConfig    RespID = 14
	RespReopenLogFiles  RespID = 15
	RespNodeStatusGet   RespID = 16
)

// respFor is the normal response id of each request.
var respFor = [numReqs]RespID{
	ReqRingStatusGet:   RespRingStatusGet,
	ReqRingReenable:    RespRingReenable,
	ReqKillNode:        RespKillNode,
	ReqTryShutdown:     RespTryShutdown,
	ReqReplyToShutdown: RespReplyToShutdown,
	ReqGetNodeAddrs:    RespGetNodeAddrs,
	ReqLocalGet:        RespLocalGet,
	ReqReloadConfig:    RespReloadConfig,
	ReqReopenLogFiles:  RespReopenLogFiles,
	ReqNodeStatusGet:   RespNodeStatusGet,
	ReqTrackStart:      RespTrackStart,
	ReqTrackStop:       RespTrackStop,
}

// FlowControlRequired reports whether corosync gates request id on
// "sending allowed" (queue room, no sync running): those get the generic
// CS_ERR_TRY_AGAIN reply when the ring cannot take a message.
func FlowControlRequired(id ReqID) bool {
	switch id {
	case ReqGetNodeAddrs, ReqLocalGet, ReqReopenLogFiles, ReqNodeStatusGet:
		return false
	}
	return id >= 0 && id < numReqs
}

// ExecFn numbers cfg's ring messages (the low 16 bits of the exec id).
type ExecFn uint16

// Ring message numbers.
const (
	ExecRingReenable   ExecFn = 0
	ExecKillNode       ExecFn = 1
	ExecShutdown       ExecFn = 2
	ExecReloadConfig   ExecFn = 3
	ExecCryptoReconfig ExecFn = 4
)

// ExecID is the header id of a cfg ring message.
func ExecID(fn ExecFn) int32 { return ServiceID<<16 | int32(fn) }

// ShutdownFlags is TRYSHUTDOWN's flags (corosync_cfg_shutdown_flags_t).
type ShutdownFlags uint32

// Shutdown modes.
const (
	// ShutdownRequest asks every tracker; any "no" or silence vetoes.
	ShutdownRequest ShutdownFlags = 0
	// ShutdownRegardless asks, but shuts down whatever the answers.
	ShutdownRegardless ShutdownFlags = 1
	// ShutdownImmediate does not ask.
	ShutdownImmediate ShutdownFlags = 2
)

// NodeStatusV1 is the only node-status structure version (CFG_NODE_STATUS_V1).
const NodeStatusV1 = 1

// Crypto reconfiguration phases carried by CRYPTO_RECONFIG.
const (
	CryptoPhaseActivate = 0
	CryptoPhaseCleanup  = 1
)

// Fixed array sizes of the 3.1.7 structs.
const (
	MaxInterfaces     = 16  // CFG_MAX_INTERFACES
	InterfaceNameLen  = 128 // CFG_INTERFACE_NAME_MAX_LEN
	InterfaceStatLen  = 512 // CFG_INTERFACE_STATUS_MAX_LEN
	MaxLinks          = 8   // CFG_MAX_LINKS
	MaxHostLen        = 256 // CFG_MAX_HOST_LEN
	AddrLen           = 16  // TOTEMIP_ADDRLEN
	MaxNameLen        = 256 // CS_MAX_NAME_LENGTH
	DefaultShutdownMs = 5000
)
