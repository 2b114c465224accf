package qbipc

import (
	"fmt"
)

// Just enough of corosync's cmap messages (spec/client-api.md §5) to talk
// to a real corosync and to impersonate it for corosync-cmapctl.
const (
	cmapReqSet           = 0
	cmapReqGet           = 2
	cmapReqTrackAdd      = 7
	cmapReqSetCurrentMap = 9
	cmapResSetCurrentMap = 10
	cmapResNotify        = 9

	cmapTypeU32    = 6
	cmapTypeString = 11

	csOK       = 1
	csNotExist = 12
	csInvalid  = 7
)

func putName(b []byte, key string) {
	le.PutUint16(b, uint16(len(key)))
	copy(b[8:8+256], key)
}

func getName(b []byte) string {
	n := int(le.Uint16(b))
	if n > 256 {
		n = 256
	}
	return string(b[8 : 8+n])
}

// cmapGet encodes GET: header, mar_name_t key @16, value_len @280.
func cmapGet(key string, valueLen int) []byte {
	r := NewRequest(cmapReqGet, 288-ReqHeaderSize)
	putName(r[16:], key)
	le.PutUint64(r[280:], uint64(valueLen))
	return r
}

// cmapSetU32 encodes SET of a u32: key @16, value_len @280, type @288, value @296.
func cmapSetU32(key string, v uint32) []byte {
	r := NewRequest(cmapReqSet, 296+4-ReqHeaderSize)
	putName(r[16:], key)
	le.PutUint64(r[280:], 4)
	r[288] = cmapTypeU32
	le.PutUint32(r[296:], v)
	return r
}

// cmapTrackAdd encodes TRACK_ADD: key @16, track_type @280, inst handle @288.
func cmapTrackAdd(key string, trackType int32, inst uint64) []byte {
	r := NewRequest(cmapReqTrackAdd, 296-ReqHeaderSize)
	putName(r[16:], key)
	le.PutUint32(r[280:], uint32(trackType))
	le.PutUint64(r[288:], inst)
	return r
}

// cmapValue is a decoded GET response.
type cmapValue struct {
	err   int32
	typ   uint8
	value []byte
}

func decodeCmapGet(b []byte) (cmapValue, error) {
	h, err := DecodeRespHeader(b)
	if err != nil {
		return cmapValue{}, err
	}
	if len(b) < 40 || h.ID != cmapReqGet {
		return cmapValue{}, fmt.Errorf("GET response id %d of %d bytes", h.ID, len(b))
	}
	v := cmapValue{err: h.Error, typ: b[32]}
	n := le.Uint64(b[24:])
	if n > uint64(len(b)-40) {
		if h.Error == csOK && len(b) > 40 {
			return v, fmt.Errorf("GET value_len %d beyond %d bytes", n, len(b))
		}
		n = 0
	}
	v.value = b[40 : 40+n]
	return v, nil
}

// fakeCmap answers GET for one u32 key, SET_CURRENT_MAP and TRACK_ADD,
// the way corosync 3.1.7's cmap service does (§5.4).
type fakeCmap struct {
	key     string
	value   uint32
	allowed func(uid, gid uint32) bool
	tracked chan tracker
}

// tracker is a TRACK_ADD seen by fakeCmap.
type tracker struct {
	c    *Conn
	inst uint64
}

// cmapNotifyU32 encodes a NOTIFY_CALLBACK event (§5.11) for a u32 change.
func cmapNotifyU32(inst uint64, key string, event int32, newV, oldV uint32) []byte {
	r := NewResponse(cmapResNotify, csOK, 336+8-RespHeaderSize)
	le.PutUint64(r[24:], inst)
	putName(r[32:], key)
	le.PutUint32(r[296:], uint32(event))
	r[304], r[312] = cmapTypeU32, cmapTypeU32
	le.PutUint64(r[320:], 4)
	le.PutUint64(r[328:], 4)
	le.PutUint32(r[336:], newV)
	le.PutUint32(r[340:], oldV)
	return r
}

func (f *fakeCmap) Connect(c *Conn) error { return Authorize(c.Creds(), f.allowed) }
func (f *fakeCmap) Disconnect(*Conn)      {}

func (f *fakeCmap) Request(c *Conn, msg []byte) ([]byte, error) {
	h, _ := DecodeReqHeader(msg)
	switch h.ID {
	case cmapReqSetCurrentMap:
		return NewResponse(cmapResSetCurrentMap, csOK, 0), nil
	case cmapReqTrackAdd:
		r := NewResponse(cmapReqTrackAdd, csOK, 8)
		le.PutUint64(r[24:], 1)
		if f.tracked != nil && len(msg) >= 296 {
			f.tracked <- tracker{c: c, inst: le.Uint64(msg[288:])}
		}
		return r, nil
	case cmapReqGet:
		if len(msg) < 288 {
			return NewResponse(0, csInvalid, 0), nil
		}
		if getName(msg[16:]) != f.key {
			return NewResponse(cmapReqGet, csNotExist, 16), nil
		}
		want := le.Uint64(msg[280:])
		if want != 0 && want < 4 || want > uint64(c.MaxMsgSize()-40) {
			return NewResponse(cmapReqGet, csInvalid, 16), nil
		}
		r := NewResponse(cmapReqGet, csOK, 16+int(want))
		le.PutUint64(r[24:], 4)
		r[32] = cmapTypeU32
		if want != 0 {
			le.PutUint32(r[40:], f.value)
		}
		return r, nil
	}
	return NewResponse(0, csInvalid, 0), nil
}
