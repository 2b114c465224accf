package cmapwire

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Fixed sizes of the response structs.
const (
	statusSize       = RespHeaderSize // SET, DELETE, ADJUST_INT, ITER_FINALIZE, SET_CURRENT_MAP
	getRespSize      = 40             // + the caller's buffer
	handleSize       = 32             // ITER_INIT, TRACK_ADD, TRACK_DELETE
	iterNextRespSize = 304
	notifySize       = 336 // + new value + old value
)

// EncodeStatus is a reply that is only a header: SET (0), DELETE (1),
// ADJUST_INT (3), ITER_FINALIZE (6) and SET_CURRENT_MAP (10).
func EncodeStatus(id int32, err cs.Error) []byte { return newResponse(id, err, statusSize) }

// DecodeStatus reads a header-only reply with response id id.
func DecodeStatus(b []byte, id int32) (cs.Error, error) {
	h, err := decodeReply(b, id, statusSize, true)
	return h.Error, err
}

// decodeReply checks a reply's header. An error status ends the decoding
// there: corosync's generic error reply (id 0, 24 bytes) stands in for
// any response, and clients only read its status. A success must carry
// the expected id and exactly size bytes.
func decodeReply(b []byte, id int32, size int, exact bool) (RespHeader, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return h, err
	}
	if h.Error != cs.OK {
		return h, nil
	}
	if h.ID != id {
		return h, fmt.Errorf("cmap reply: id %d, want %d", h.ID, id)
	}
	if len(b) < size || exact && len(b) != size {
		return h, fmt.Errorf("cmap reply id %d: %d bytes, want %d", id, len(b), size)
	}
	return h, nil
}

// EncodeGet builds the GET reply the way corosync sizes it: on success
// 40 + bufLen bytes (sized by the request, not the value) with the stored
// length and type and, when bufLen > 0, the value; a stored value longer
// than a non-zero bufLen is CS_ERR_INVALID_PARAM. Errors give 40 bytes
// with length and type 0. A bufLen that would make the reply larger than
// MaxMessage is refused with CS_ERR_INVALID_PARAM (corosync would try to
// allocate it).
func EncodeGet(bufLen uint64, v value.Value, err cs.Error) []byte {
	if err == cs.OK && bufLen > MaxMessage-getRespSize {
		err = cs.ErrInvalidParam
	}
	if err == cs.OK && bufLen > 0 && uint64(len(v.Data)) > bufLen {
		err = cs.ErrInvalidParam
	}
	if err != cs.OK {
		return newResponse(ResGet, err, getRespSize)
	}
	b := newResponse(ResGet, cs.OK, getRespSize+int(bufLen))
	ne.PutUint64(b[24:], uint64(len(v.Data)))
	b[32] = byte(v.Type)
	if bufLen > 0 {
		copy(b[getRespSize:], v.Data)
	}
	return b
}

// GetReply is a decoded GET reply. Value holds the stored bytes when the
// request asked for them (BufLen > 0), nil otherwise.
type GetReply struct {
	Type  value.Type
	Len   uint64
	Value []byte
}

// DecodeGet reads a GET reply to a request with buffer size bufLen.
func DecodeGet(b []byte, bufLen uint64) (GetReply, cs.Error, error) {
	h, err := decodeReply(b, ResGet, getRespSize, false)
	if err != nil || h.Error != cs.OK {
		return GetReply{}, h.Error, err
	}
	r := GetReply{Len: ne.Uint64(b[24:]), Type: value.Type(b[32])}
	if bufLen == 0 {
		return r, cs.OK, nil
	}
	if r.Len > bufLen || uint64(len(b)-getRespSize) < r.Len {
		return GetReply{}, cs.OK, fmt.Errorf("cmap GET reply: value_len %d in %d bytes for a %d-byte buffer", r.Len, len(b), bufLen)
	}
	r.Value = append([]byte(nil), b[getRespSize:getRespSize+int(r.Len)]...)
	return r, cs.OK, nil
}

// EncodeHandle is the 32-byte reply carrying one u64 at offset 24:
// ITER_INIT (iter_handle), TRACK_ADD (track_handle) and TRACK_DELETE
// (track_inst_handle).
func EncodeHandle(id int32, h uint64, err cs.Error) []byte {
	b := newResponse(id, err, handleSize)
	ne.PutUint64(b[24:], h)
	return b
}

// DecodeHandle reads a reply made by EncodeHandle.
func DecodeHandle(b []byte, id int32) (uint64, cs.Error, error) {
	h, err := decodeReply(b, id, handleSize, true)
	if err != nil || h.Error != cs.OK {
		return 0, h.Error, err
	}
	return ne.Uint64(b[24:]), cs.OK, nil
}

// IterEntry is the body of an ITER_NEXT reply.
type IterEntry struct {
	Key  string
	Len  uint64
	Type value.Type
}

// EncodeIterNext builds the always-304-byte ITER_NEXT reply; on error the
// body stays zero.
func EncodeIterNext(e IterEntry, err cs.Error) []byte {
	b := newResponse(ResIterNext, err, iterNextRespSize)
	if err == cs.OK {
		putName(b[24:], e.Key)
		ne.PutUint64(b[288:], e.Len)
		b[296] = byte(e.Type)
	}
	return b
}

// DecodeIterNext reads an ITER_NEXT reply.
func DecodeIterNext(b []byte) (IterEntry, cs.Error, error) {
	h, err := decodeReply(b, ResIterNext, iterNextRespSize, true)
	if err != nil || h.Error != cs.OK {
		return IterEntry{}, h.Error, err
	}
	k, err := getName(b[24:], "cmap ITER_NEXT reply")
	if err != nil {
		return IterEntry{}, cs.OK, err
	}
	return IterEntry{Key: k, Len: ne.Uint64(b[288:]), Type: value.Type(b[296])}, cs.OK, nil
}

// Notify is a tracker event (NOTIFY_CALLBACK, id 9). New is absent on
// DELETE and Old on ADD (type 0, no bytes).
type Notify struct {
	Cookie uint64 // track_inst_handle
	Key    string
	Event  int32
	New    value.Value
	Old    value.Value
}

// Encode builds the event: new value bytes then old value bytes right
// after the 336-byte fixed part, no alignment between them.
func (n Notify) Encode() []byte {
	b := newResponse(ResNotify, cs.OK, notifySize+len(n.New.Data)+len(n.Old.Data))
	ne.PutUint64(b[24:], n.Cookie)
	putName(b[32:], n.Key)
	ne.PutUint32(b[296:], uint32(n.Event))
	b[304] = byte(n.New.Type)
	b[312] = byte(n.Old.Type)
	ne.PutUint64(b[320:], uint64(len(n.New.Data)))
	ne.PutUint64(b[328:], uint64(len(n.Old.Data)))
	copy(b[notifySize:], n.New.Data)
	copy(b[notifySize+len(n.New.Data):], n.Old.Data)
	return b
}

// DecodeNotify reads a tracker event; both value lengths must add up to
// the bytes after the fixed part.
func DecodeNotify(b []byte) (Notify, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return Notify{}, err
	}
	if h.ID != ResNotify {
		return Notify{}, fmt.Errorf("cmap event: id %d, want %d", h.ID, ResNotify)
	}
	if len(b) < notifySize {
		return Notify{}, fmt.Errorf("cmap event: %d bytes, shorter than %d", len(b), notifySize)
	}
	nl, ol := ne.Uint64(b[320:]), ne.Uint64(b[328:])
	rest := uint64(len(b) - notifySize)
	if nl > rest || ol != rest-nl {
		return Notify{}, fmt.Errorf("cmap event: new_value_len %d + old_value_len %d but %d bytes follow", nl, ol, rest)
	}
	k, err := getName(b[32:], "cmap event")
	if err != nil {
		return Notify{}, err
	}
	n := Notify{Cookie: ne.Uint64(b[24:]), Key: k, Event: int32(ne.Uint32(b[296:]))}
	n.New = value.Value{Type: value.Type(b[304]), Data: append([]byte(nil), b[notifySize:notifySize+nl]...)}
	n.Old = value.Value{Type: value.Type(b[312]), Data: append([]byte(nil), b[notifySize+nl:]...)}
	return n, nil
}
