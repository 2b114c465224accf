package cmapwire

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Request is one decoded cmap request.
type Request interface {
	// ID is the request id (ReqSet …).
	ID() int32
	// Encode returns the whole message, header included, as libcmap sends it.
	Encode() []byte
}

// Fixed sizes of the request structs (ipc_cmap.h, 3.1.7 x86-64).
const (
	setSize           = 296 // + value
	deleteSize        = 280
	getSize           = 288
	adjustSize        = 288
	iterInitSize      = 280
	iterNextSize      = 24
	iterFinalizeSize  = 24
	trackAddSize      = 296
	trackDeleteSize   = 24
	setCurrentMapSize = 24
)

// Set is SET: key @16, value_len @280, type @288, value @296.
type Set struct {
	Key   string
	Type  value.Type
	Value []byte // raw as sent (libcmap sends strings without their NUL); aliases the decoded message
}

// Delete is DELETE: key @16.
type Delete struct{ Key string }

// Get is GET: key @16, value_len @280 (the caller's buffer size; 0 asks
// only for type and length).
type Get struct {
	Key    string
	BufLen uint64
}

// AdjustInt is ADJUST_INT: key @16, step @280.
type AdjustInt struct {
	Key  string
	Step int32
}

// IterInit is ITER_INIT: prefix @16 (empty = all keys).
type IterInit struct{ Prefix string }

// IterNext is ITER_NEXT: iter_handle @16.
type IterNext struct{ Iter uint64 }

// IterFinalize is ITER_FINALIZE: iter_handle @16.
type IterFinalize struct{ Iter uint64 }

// TrackAdd is TRACK_ADD: key @16 (empty = none), track_type @280,
// track_inst_handle @288.
type TrackAdd struct {
	Key    string
	Flags  int32
	Cookie uint64
}

// TrackDelete is TRACK_DELETE: track_handle @16.
type TrackDelete struct{ Track uint64 }

// SetCurrentMap is SET_CURRENT_MAP: map @16.
type SetCurrentMap struct{ Map int32 }

// ID implements Request.
func (Set) ID() int32           { return ReqSet }
func (Delete) ID() int32        { return ReqDelete }
func (Get) ID() int32           { return ReqGet }
func (AdjustInt) ID() int32     { return ReqAdjustInt }
func (IterInit) ID() int32      { return ReqIterInit }
func (IterNext) ID() int32      { return ReqIterNext }
func (IterFinalize) ID() int32  { return ReqIterFinalize }
func (TrackAdd) ID() int32      { return ReqTrackAdd }
func (TrackDelete) ID() int32   { return ReqTrackDelete }
func (SetCurrentMap) ID() int32 { return ReqSetCurrentMap }

// Encode implements Request.
func (r Set) Encode() []byte {
	b := newRequest(ReqSet, setSize+len(r.Value))
	putName(b[16:], r.Key)
	ne.PutUint64(b[280:], uint64(len(r.Value)))
	b[288] = byte(r.Type)
	copy(b[setSize:], r.Value)
	return b
}

func (r Delete) Encode() []byte {
	b := newRequest(ReqDelete, deleteSize)
	putName(b[16:], r.Key)
	return b
}

func (r Get) Encode() []byte {
	b := newRequest(ReqGet, getSize)
	putName(b[16:], r.Key)
	ne.PutUint64(b[280:], r.BufLen)
	return b
}

func (r AdjustInt) Encode() []byte {
	b := newRequest(ReqAdjustInt, adjustSize)
	putName(b[16:], r.Key)
	ne.PutUint32(b[280:], uint32(r.Step))
	return b
}

func (r IterInit) Encode() []byte {
	b := newRequest(ReqIterInit, iterInitSize)
	putName(b[16:], r.Prefix)
	return b
}

func (r IterNext) Encode() []byte {
	b := newRequest(ReqIterNext, iterNextSize)
	ne.PutUint64(b[16:], r.Iter)
	return b
}

func (r IterFinalize) Encode() []byte {
	b := newRequest(ReqIterFinalize, iterFinalizeSize)
	ne.PutUint64(b[16:], r.Iter)
	return b
}

func (r TrackAdd) Encode() []byte {
	b := newRequest(ReqTrackAdd, trackAddSize)
	putName(b[16:], r.Key)
	ne.PutUint32(b[280:], uint32(r.Flags))
	ne.PutUint64(b[288:], r.Cookie)
	return b
}

func (r TrackDelete) Encode() []byte {
	b := newRequest(ReqTrackDelete, trackDeleteSize)
	ne.PutUint64(b[16:], r.Track)
	return b
}

func (r SetCurrentMap) Encode() []byte {
	b := newRequest(ReqSetCurrentMap, setCurrentMapSize)
	ne.PutUint32(b[16:], uint32(r.Map))
	return b
}

// DecodeRequest parses one whole request. The header's size must equal
// len(b) and the fixed part of the message (plus the value for SET) must
// be exactly there; corosync reads past short messages, we refuse them.
// The daemon answers any error with GenericError(cs.ErrInvalidParam).
func DecodeRequest(b []byte) (Request, error) {
	if len(b) < ReqHeaderSize {
		return nil, fmt.Errorf("cmap request: %d bytes, shorter than its %d-byte header", len(b), ReqHeaderSize)
	}
	id := int32(ne.Uint32(b[0:]))
	size := int32(ne.Uint32(b[8:]))
	if int(size) != len(b) || size < 0 {
		return nil, fmt.Errorf("cmap request id %d: header size %d but %d bytes arrived", id, size, len(b))
	}
	n, ok := fixedSize(id)
	if !ok {
		return nil, fmt.Errorf("cmap request: unknown id %d", id)
	}
	if id == ReqSet {
		if len(b) < n {
			return nil, fmt.Errorf("cmap SET: %d bytes, need at least %d", len(b), n)
		}
		vl := ne.Uint64(b[280:])
		if vl != uint64(len(b)-n) {
			return nil, fmt.Errorf("cmap SET: value_len %d but %d value bytes follow", vl, len(b)-n)
		}
	} else if len(b) != n {
		return nil, fmt.Errorf("cmap request id %d: %d bytes, want %d", id, len(b), n)
	}
	what := fmt.Sprintf("cmap request id %d", id)
	var key string
	switch id {
	case ReqSet, ReqDelete, ReqGet, ReqAdjustInt, ReqIterInit, ReqTrackAdd:
		k, err := getName(b[16:], what)
		if err != nil {
			return nil, err
		}
		key = k
	}
	switch id {
	case ReqSet:
		return Set{Key: key, Type: value.Type(b[288]), Value: b[setSize:]}, nil
	case ReqDelete:
		return Delete{Key: key}, nil
	case ReqGet:
		return Get{Key: key, BufLen: ne.Uint64(b[280:])}, nil
	case ReqAdjustInt:
		return AdjustInt{Key: key, Step: int32(ne.Uint32(b[280:]))}, nil
	case ReqIterInit:
		return IterInit{Prefix: key}, nil
	case ReqIterNext:
		return IterNext{Iter: ne.Uint64(b[16:])}, nil
	case ReqIterFinalize:
		return IterFinalize{Iter: ne.Uint64(b[16:])}, nil
	case ReqTrackAdd:
		return TrackAdd{Key: key, Flags: int32(ne.Uint32(b[280:])), Cookie: ne.Uint64(b[288:])}, nil
	case ReqTrackDelete:
		return TrackDelete{Track: ne.Uint64(b[16:])}, nil
	default: // ReqSetCurrentMap
		return SetCurrentMap{Map: int32(ne.Uint32(b[16:]))}, nil
	}
}

// fixedSize is the size of a request's fixed part.
func fixedSize(id int32) (int, bool) {
	switch id {
	case ReqSet:
		return setSize, true
	case ReqDelete:
		return deleteSize, true
	case ReqGet:
		return getSize, true
	case ReqAdjustInt:
		return adjustSize, true
	case ReqIterInit:
		return iterInitSize, true
	case ReqIterNext:
		return iterNextSize, true
	case ReqIterFinalize:
		return iterFinalizeSize, true
	case ReqTrackAdd:
		return trackAddSize, true
	case ReqTrackDelete:
		return trackDeleteSize, true
	case ReqSetCurrentMap:
		return setCurrentMapSize, true
	}
	return 0, false
}
