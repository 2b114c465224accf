package wire

import (
	"bytes"
	"fmt"
)

// Request is one decoded cpg request.
type Request interface {
	// ID is the request id (ReqJoin …).
	ID() int32
	// Encode returns the whole message, header included, as libcpg sends
	// it (padding zeroed).
	Encode() []byte
}

// Fixed sizes of the request structs (ipc_cpg.h, 3.1.7 x86_64).
const (
	joinSize         = 168
	leaveSize        = 160
	mcastSize        = 40 // + message
	membershipSize   = 152
	localGetSize     = 16
	iterInitSize     = 160
	iterNextSize     = 24
	iterFinalizeSize = 24
	finalizeSize     = 16
	zcAllocSize      = 152
	zcFreeSize       = 32
	zcExecuteSize    = 24
	partialSize      = 56 // + fragment
	zcPathLen        = 128
)

// Join is JOIN: group @16, pid @152, flags @160.
type Join struct {
	Group string
	PID   uint32
	Flags uint32
}

// Leave is LEAVE: group @16, pid @152.
type Leave struct {
	Group string
	PID   uint32
}

// Mcast is MCAST (no reply): guarantee @24, msglen @32, message @40.
type Mcast struct {
	Guarantee uint32
	Msg       []byte // aliases the decoded message
}

// PartialMcast is one PARTIAL_MCAST fragment: guarantee @24, msglen @32
// (whole message), fraglen @40, type @48, fragment @56.
type PartialMcast struct {
	Guarantee uint32
	MsgLen    uint32
	Type      uint32
	Frag      []byte // aliases the decoded message
}

// Membership is MEMBERSHIP: group @16.
type Membership struct{ Group string }

// LocalGet is LOCAL_GET: a bare header.
type LocalGet struct{}

// IterInit is ITERATIONINITIALIZE: group @16 (meaningful only for
// IterOneGroup: libcpg leaves it uninitialised otherwise), type @152.
type IterInit struct {
	Group string
	Type  uint32
}

// IterNext is ITERATIONNEXT: iteration_handle @16.
type IterNext struct{ Handle uint64 }

// IterFinalize is ITERATIONFINALIZE: iteration_handle @16.
type IterFinalize struct{ Handle uint64 }

// Finalize is FINALIZE: a bare header.
type Finalize struct{}

// ZcAlloc is ZC_ALLOC: map_size @16, path_to_file @24 (NUL-terminated).
type ZcAlloc struct {
	MapSize uint64
	Path    string
}

// ZcFree is ZC_FREE: map_size @16, server_address @24.
type ZcFree struct {
	MapSize       uint64
	ServerAddress uint64
}

// ZcExecute is ZC_EXECUTE: server_address @16.
type ZcExecute struct{ ServerAddress uint64 }

// ID implements Request.
func (Join) ID() int32         { return ReqJoin }
func (Leave) ID() int32        { return ReqLeave }
func (Mcast) ID() int32        { return ReqMcast }
func (PartialMcast) ID() int32 { return ReqPartialMcast }
func (Membership) ID() int32   { return ReqMembership }
func (LocalGet) ID() int32     { return ReqLocalGet }
func (IterInit) ID() int32     { return ReqIterInit }
func (IterNext) ID() int32     { return ReqIterNext }
func (IterFinalize) ID() int32 { return ReqIterFinalize }
func (Finalize) ID() int32     { return ReqFinalize }
func (ZcAlloc) ID() int32      { return ReqZcAlloc }
func (ZcFree) ID() int32       { return ReqZcFree }
func (ZcExecute) ID() int32    { return ReqZcExecute }

// Encode implements Request.
func (r Join) Encode() []byte {
	b := newRequest(ReqJoin, joinSize)
	putName(b[16:], r.Group)
	ne.PutUint32(b[152:], r.PID)
	ne.PutUint32(b[160:], r.Flags)
	return b
}

func (r Leave) Encode() []byte {
	b := newRequest(ReqLeave, leaveSize)
	putName(b[16:], r.Group)
	ne.PutUint32(b[152:], r.PID)
	return b
}

// Encode builds the MCAST request with its response-shaped header (error
// field zero).
func (r Mcast) Encode() []byte {
	b := newResponse(ReqMcast, 0, mcastSize+len(r.Msg))
	ne.PutUint32(b[24:], r.Guarantee)
	ne.PutUint32(b[32:], uint32(len(r.Msg)))
	copy(b[mcastSize:], r.Msg)
	return b
}

func (r PartialMcast) Encode() []byte {
	b := newResponse(ReqPartialMcast, 0, partialSize+len(r.Frag))
	ne.PutUint32(b[24:], r.Guarantee)
	ne.PutUint32(b[32:], r.MsgLen)
	ne.PutUint32(b[40:], uint32(len(r.Frag)))
	ne.PutUint32(b[48:], r.Type)
	copy(b[partialSize:], r.Frag)
	return b
}

func (r Membership) Encode() []byte {
	b := newRequest(ReqMembership, membershipSize)
	putName(b[16:], r.Group)
	return b
}

func (LocalGet) Encode() []byte { return newRequest(ReqLocalGet, localGetSize) }

func (r IterInit) Encode() []byte {
	b := newRequest(ReqIterInit, iterInitSize)
	putName(b[16:], r.Group)
	ne.PutUint32(b[152:], r.Type)
	return b
}

func (r IterNext) Encode() []byte {
	b := newRequest(ReqIterNext, iterNextSize)
	ne.PutUint64(b[16:], r.Handle)
	return b
}

func (r IterFinalize) Encode() []byte {
	b := newRequest(ReqIterFinalize, iterFinalizeSize)
	ne.PutUint64(b[16:], r.Handle)
	return b
}

func (Finalize) Encode() []byte { return newRequest(ReqFinalize, finalizeSize) }

func (r ZcAlloc) Encode() []byte {
	b := newRequest(ReqZcAlloc, zcAllocSize)
	ne.PutUint64(b[16:], r.MapSize)
	copy(b[24:24+zcPathLen-1], r.Path)
	return b
}

func (r ZcFree) Encode() []byte {
	b := newRequest(ReqZcFree, zcFreeSize)
	ne.PutUint64(b[16:], r.MapSize)
	ne.PutUint64(b[24:], r.ServerAddress)
	return b
}

func (r ZcExecute) Encode() []byte {
	b := newRequest(ReqZcExecute, zcExecuteSize)
	ne.PutUint64(b[16:], r.ServerAddress)
	return b
}

// fixedSize is the size of a request's fixed part and whether a variable
// tail follows.
func fixedSize(id int32) (n int, tail bool, ok bool) {
	switch id {
	case ReqJoin:
		return joinSize, false, true
	case ReqLeave:
		return leaveSize, false, true
	case ReqMcast:
		return mcastSize, true, true
	case ReqMembership:
		return membershipSize, false, true
	case ReqLocalGet:
		return localGetSize, false, true
	case ReqIterInit:
		return iterInitSize, false, true
	case ReqIterNext:
		return iterNextSize, false, true
	case ReqIterFinalize:
		return iterFinalizeSize, false, true
	case ReqFinalize:
		return finalizeSize, false, true
	case ReqZcAlloc:
		return zcAllocSize, false, true
	case ReqZcFree:
		return zcFreeSize, false, true
	case ReqZcExecute:
		return zcExecuteSize, false, true
	case ReqPartialMcast:
		return partialSize, true, true
	}
	return 0, false, false
}

// DecodeRequest parses one whole request. The header's size must equal
// len(b), the fixed part must be exactly there and a multicast's length
// fields must describe the bytes that follow (corosync reads past short
// messages; needle refuses them). Errors wrap ErrBadRequest, or are a
// *NameError for an overlong group name.
func DecodeRequest(b []byte) (Request, error) {
	if len(b) < ReqHeaderSize {
		return nil, fmt.Errorf("cpg request: %d bytes, shorter than its %d-byte header: %w", len(b), ReqHeaderSize, ErrBadRequest)
	}
	id := int32(ne.Uint32(b[0:]))
	size := int32(ne.Uint32(b[8:]))
	if size < 0 || int(size) != len(b) {
		return nil, fmt.Errorf("cpg request id %d: header size %d but %d bytes arrived: %w", id, size, len(b), ErrBadRequest)
	}
	n, tail, ok := fixedSize(id)
	if !ok {
		return nil, fmt.Errorf("cpg request: unknown id %d: %w", id, ErrBadRequest)
	}
	if len(b) < n || !tail && len(b) != n {
		return nil, fmt.Errorf("cpg request id %d: %d bytes, want %d: %w", id, len(b), n, ErrBadRequest)
	}
	switch id {
	case ReqJoin:
		g, err := getName(b[16:], id)
		if err != nil {
			return nil, err
		}
		return Join{Group: g, PID: ne.Uint32(b[152:]), Flags: ne.Uint32(b[160:])}, nil
	case ReqLeave:
		g, err := getName(b[16:], id)
		if err != nil {
			return nil, err
		}
		return Leave{Group: g, PID: ne.Uint32(b[152:])}, nil
	case ReqMcast:
		ml := ne.Uint32(b[32:])
		if uint64(ml) != uint64(len(b)-n) {
			return nil, fmt.Errorf("cpg MCAST: msglen %d but %d bytes follow: %w", ml, len(b)-n, ErrBadRequest)
		}
		return Mcast{Guarantee: ne.Uint32(b[24:]), Msg: b[n:]}, nil
	case ReqPartialMcast:
		r := PartialMcast{Guarantee: ne.Uint32(b[24:]), MsgLen: ne.Uint32(b[32:]), Type: ne.Uint32(b[48:]), Frag: b[n:]}
		fl := ne.Uint32(b[40:])
		switch {
		case uint64(fl) != uint64(len(b)-n):
			return nil, fmt.Errorf("cpg PARTIAL_MCAST: fraglen %d but %d bytes follow: %w", fl, len(b)-n, ErrBadRequest)
		case fl > r.MsgLen:
			return nil, fmt.Errorf("cpg PARTIAL_MCAST: fraglen %d larger than msglen %d: %w", fl, r.MsgLen, ErrBadRequest)
		case r.Type < PartialFirst || r.Type > PartialLast:
			return nil, fmt.Errorf("cpg PARTIAL_MCAST: fragment type %d: %w", r.Type, ErrBadRequest)
		}
		return r, nil
	case ReqMembership:
		g, err := getName(b[16:], id)
		if err != nil {
			return nil, err
		}
		return Membership{Group: g}, nil
	case ReqLocalGet:
		return LocalGet{}, nil
	case ReqIterInit:
		r := IterInit{Type: ne.Uint32(b[152:])}
		if r.Type == IterOneGroup {
			g, err := getName(b[16:], id)
			if err != nil {
				return nil, err
			}
			r.Group = g
		}
		return r, nil
	case ReqIterNext:
		return IterNext{Handle: ne.Uint64(b[16:])}, nil
	case ReqIterFinalize:
		return IterFinalize{Handle: ne.Uint64(b[16:])}, nil
	case ReqFinalize:
		return Finalize{}, nil
	case ReqZcAlloc:
		p := b[24 : 24+zcPathLen]
		end := bytes.IndexByte(p, 0)
		if end < 0 {
			return nil, fmt.Errorf("cpg ZC_ALLOC: path_to_file not NUL-terminated: %w", ErrBadRequest)
		}
		return ZcAlloc{MapSize: ne.Uint64(b[16:]), Path: string(p[:end])}, nil
	case ReqZcFree:
		return ZcFree{MapSize: ne.Uint64(b[16:]), ServerAddress: ne.Uint64(b[24:])}, nil
	default: // ReqZcExecute
		return ZcExecute{ServerAddress: ne.Uint64(b[16:])}, nil
	}
}

// ResponseID is the response id corosync answers request id req with, and
// whether req is answered at all (MCAST is not). Zero-copy requests map
// to ResNull, needle's NOT_SUPPORTED answer.
func ResponseID(req int32) (int32, bool) {
	switch req {
	case ReqJoin:
		return ResJoin, true
	case ReqLeave:
		return ResLeave, true
	case ReqMembership:
		return ResMembership, true
	case ReqLocalGet:
		return ResLocalGet, true
	case ReqIterInit:
		return ResIterInit, true
	case ReqIterNext:
		return ResIterNext, true
	case ReqIterFinalize:
		return ResIterFinalize, true
	case ReqFinalize:
		return ResFinalize, true
	case ReqZcAlloc, ReqZcFree, ReqZcExecute:
		return ResNull, true
	case ReqPartialMcast:
		return ResPartialSend, true
	}
	return 0, false
}

// FlowControlled reports whether corosync marks the request's handler
// "flow control required" (addendum-317 §5): refused with TRY_AGAIN
// during sync or when the ring's queue is full.
func FlowControlled(req int32) bool {
	switch req {
	case ReqJoin, ReqLeave, ReqMcast, ReqFinalize, ReqZcAlloc, ReqZcFree, ReqZcExecute, ReqPartialMcast:
		return true
	}
	return false
}
