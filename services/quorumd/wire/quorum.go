package wire

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
)

// Quorum service (3) request ids (enum req_quorum_types).
const (
	QReqGetQuorate   int32 = 0
	QReqTrackStart   int32 = 1
	QReqTrackStop    int32 = 2
	QReqGetType      int32 = 3
	QReqModelGetType int32 = 4
	QReqCount              = 5 // requests with a handler; higher ids get GenericError(CS_ERR_INVALID_PARAM)
)

// Sizes and offsets of the quorum structs (ipc_quorum.h, 3.1.7 x86_64).
const (
	quorumSvc               = "quorum"
	qTrackStartSize         = 24
	qModelGetTypeSize       = 24
	qValueRespSize          = 32 // GETQUORATE, GETTYPE, MODEL_GETTYPE replies: one u32 @24
	qNotificationFixed      = 48 // V0: quorate@24 ring_seq@32 entries@40 view_list@44
	qV1QuorumFixed          = 56 // quorate@24 ring_id@32 entries@48 view_list@52
	qV1NodelistFixed        = 64 // ring_id@24 m@40 j@48 l@56 lists@60
	qNotificationListOffset = 44
	qV1QuorumListOffset     = 52
	qV1NodelistListOffset   = 60
)

// Quorum service response and event ids (enum res_quorum_types).
const (
	QResGetQuorate   int32 = 0
	QResTrackStart   int32 = 1
	QResTrackStop    int32 = 2
	QResNotification int32 = 3 // V0 event
	QResGetType      int32 = 4
	QResModelGetType int32 = 5
	QResV1Quorum     int32 = 6 // V1 event
	QResV1Nodelist   int32 = 7 // V1 event
)

// Quorum models (quorum_model_t) and types (quorum_type).
const (
	ModelV0    uint32 = 0
	ModelV1    uint32 = 1
	QuorumFree uint32 = 0 // no provider: always quorate
	QuorumSet  uint32 = 1
)

// QRequest is one decoded quorum-service request.
type QRequest interface {
	// ID is the request id (QReqGetQuorate …).
	ID() int32
	// Encode returns the whole message, header included, as libquorum sends it.
	Encode() []byte
}

// QGetQuorate is GETQUORATE: a bare header.
type QGetQuorate struct{}

// QTrackStart is TRACKSTART: track_flags @16 (CS_TRACK_*).
type QTrackStart struct{ Flags uint32 }

// QTrackStop is TRACKSTOP: a bare header.
type QTrackStop struct{}

// QGetType is GETTYPE, sent by quorum_initialize (model V0): a bare header.
type QGetType struct{}

// QModelGetType is MODEL_GETTYPE, sent by quorum_model_initialize for
// V1: model @16 (aligned 8).
type QModelGetType struct{ Model uint32 }

// ID implements QRequest.
func (QGetQuorate) ID() int32   { return QReqGetQuorate }
func (QTrackStart) ID() int32   { return QReqTrackStart }
func (QTrackStop) ID() int32    { return QReqTrackStop }
func (QGetType) ID() int32      { return QReqGetType }
func (QModelGetType) ID() int32 { return QReqModelGetType }

// Encode implements QRequest.
func (QGetQuorate) Encode() []byte { return newRequest(QReqGetQuorate, ReqHeaderSize) }
func (r QTrackStart) Encode() []byte {
	b := newRequest(QReqTrackStart, qTrackStartSize)
	ne.PutUint32(b[16:], r.Flags)
	return b
}
func (QTrackStop) Encode() []byte { return newRequest(QReqTrackStop, ReqHeaderSize) }
func (QGetType) Encode() []byte   { return newRequest(QReqGetType, ReqHeaderSize) }
func (r QModelGetType) Encode() []byte {
	b := newRequest(QReqModelGetType, qModelGetTypeSize)
	ne.PutUint32(b[16:], r.Model)
	return b
}

// DecodeQRequest parses one whole quorum request; its header size must
// equal len(b) and the struct's size exactly.
func DecodeQRequest(b []byte) (QRequest, error) {
	id, err := reqHeader(quorumSvc, b)
	if err != nil {
		return nil, err
	}
	want := ReqHeaderSize
	switch id {
	case QReqTrackStart:
		want = qTrackStartSize
	case QReqModelGetType:
		want = qModelGetTypeSize
	case QReqGetQuorate, QReqTrackStop, QReqGetType:
	default:
		return nil, fmt.Errorf("quorum request: unknown id %d", id)
	}
	if len(b) != want {
		return nil, fmt.Errorf("quorum request id %d: %d bytes, want %d", id, len(b), want)
	}
	switch id {
	case QReqGetQuorate:
		return QGetQuorate{}, nil
	case QReqTrackStart:
		return QTrackStart{Flags: ne.Uint32(b[16:])}, nil
	case QReqTrackStop:
		return QTrackStop{}, nil
	case QReqGetType:
		return QGetType{}, nil
	default:
		return QModelGetType{Model: ne.Uint32(b[16:])}, nil
	}
}

// EncodeQStatus is a header-only reply: TRACKSTART (1) or TRACKSTOP (2).
func EncodeQStatus(id int32, err cs.Error) []byte { return newResponse(id, err, RespHeaderSize) }

// DecodeQStatus reads a header-only reply with response id id.
func DecodeQStatus(b []byte, id int32) (cs.Error, error) {
	h, _, err := decodeReply(quorumSvc, b, id, RespHeaderSize)
	return h.Error, err
}

// EncodeQValue is a reply carrying one u32 at offset 24: GETQUORATE (id 0,
// quorate), GETTYPE (4) and MODEL_GETTYPE (5) (quorum_type).
func EncodeQValue(id int32, v uint32, err cs.Error) []byte {
	b := newResponse(id, err, qValueRespSize)
	ne.PutUint32(b[24:], v)
	return b
}

// DecodeQValue reads a reply made by EncodeQValue (0 when corosync's
// generic error reply stands in for it).
func DecodeQValue(b []byte, id int32) (uint32, cs.Error, error) {
	h, body, err := decodeReply(quorumSvc, b, id, qValueRespSize)
	if err != nil || !body {
		return 0, h.Error, err
	}
	return ne.Uint32(b[24:]), h.Error, nil
}

// QNotification is the model V0 quorum event (id 3): quorate @24 (int32),
// ring_seq @32, view_list_entries @40, view_list @44; header.size is
// 48 + 4×n, the 4 bytes after the list being the struct's rounding.
type QNotification struct {
	Quorate uint32
	RingSeq uint64
	View    []uint32
}

// Encode builds the event.
func (n QNotification) Encode() []byte {
	b := newResponse(QResNotification, cs.OK, qNotificationFixed+4*len(n.View))
	ne.PutUint32(b[24:], n.Quorate)
	ne.PutUint64(b[32:], n.RingSeq)
	ne.PutUint32(b[40:], uint32(len(n.View)))
	putList(b[qNotificationListOffset:], n.View)
	return b
}

// QV1Quorum is the model V1 quorum event (id 6): quorate @24, ring_id @32,
// view_list_entries @48, view_list @52; header.size 56 + 4×n.
type QV1Quorum struct {
	Quorate uint32
	Ring    RingID
	View    []uint32
}

// Encode builds the event.
func (n QV1Quorum) Encode() []byte {
	b := newResponse(QResV1Quorum, cs.OK, qV1QuorumFixed+4*len(n.View))
	ne.PutUint32(b[24:], n.Quorate)
	putRing(b[32:], n.Ring)
	ne.PutUint32(b[48:], uint32(len(n.View)))
	putList(b[qV1QuorumListOffset:], n.View)
	return b
}

// QV1Nodelist is the model V1 nodelist event (id 7): ring_id @24, the
// member, joined and left counts @40/@48/@56, then the three lists one
// after the other from @60; header.size 64 + 4×(m+j+l).
type QV1Nodelist struct {
	Ring                  RingID
	Members, Joined, Left []uint32
}

// Encode builds the event.
func (n QV1Nodelist) Encode() []byte {
	m, j, l := len(n.Members), len(n.Joined), len(n.Left)
	b := newResponse(QResV1Nodelist, cs.OK, qV1NodelistFixed+4*(m+j+l))
	putRing(b[24:], n.Ring)
	ne.PutUint32(b[40:], uint32(m))
	ne.PutUint32(b[48:], uint32(j))
	ne.PutUint32(b[56:], uint32(l))
	putList(b[qV1NodelistListOffset:], n.Members)
	putList(b[qV1NodelistListOffset+4*m:], n.Joined)
	putList(b[qV1NodelistListOffset+4*(m+j):], n.Left)
	return b
}

// DecodeQEvent reads any quorum-service event and returns a QNotification,
// QV1Quorum or QV1Nodelist. The lists must fill header.size exactly.
func DecodeQEvent(b []byte) (any, error) {
	h, err := decodeRespHeader(quorumSvc, b)
	if err != nil {
		return nil, err
	}
	switch h.ID {
	case QResNotification:
		if _, err := decodeEventHeader(quorumSvc, b, h.ID, qNotificationFixed); err != nil {
			return nil, err
		}
		n, err := qListLen(b, 40, qNotificationFixed, "view_list_entries")
		if err != nil {
			return nil, err
		}
		return QNotification{Quorate: ne.Uint32(b[24:]), RingSeq: ne.Uint64(b[32:]), View: getList(b[qNotificationListOffset:], n)}, nil
	case QResV1Quorum:
		if _, err := decodeEventHeader(quorumSvc, b, h.ID, qV1QuorumFixed); err != nil {
			return nil, err
		}
		n, err := qListLen(b, 48, qV1QuorumFixed, "view_list_entries")
		if err != nil {
			return nil, err
		}
		return QV1Quorum{Quorate: ne.Uint32(b[24:]), Ring: getRing(b[32:]), View: getList(b[qV1QuorumListOffset:], n)}, nil
	case QResV1Nodelist:
		if _, err := decodeEventHeader(quorumSvc, b, h.ID, qV1NodelistFixed); err != nil {
			return nil, err
		}
		var c [3]int
		for i, off := range []int{40, 48, 56} {
			if c[i], err = listCount(quorumSvc+" V1 nodelist event", "list entries", ne.Uint32(b[off:])); err != nil {
				return nil, err
			}
		}
		if want := qV1NodelistFixed + 4*(c[0]+c[1]+c[2]); len(b) != want {
			return nil, fmt.Errorf("quorum V1 nodelist event: %d+%d+%d entries need %d bytes, %d arrived", c[0], c[1], c[2], want, len(b))
		}
		off := qV1NodelistListOffset
		n := QV1Nodelist{Ring: getRing(b[24:])}
		n.Members = getList(b[off:], c[0])
		n.Joined = getList(b[off+4*c[0]:], c[1])
		n.Left = getList(b[off+4*(c[0]+c[1]):], c[2])
		return n, nil
	}
	return nil, fmt.Errorf("quorum event: unknown id %d", h.ID)
}

// qListLen reads the u32 count at off and checks that fixed + 4×count is
// exactly the message.
func qListLen(b []byte, off, fixed int, what string) (int, error) {
	id := int32(ne.Uint32(b))
	n, err := listCount(fmt.Sprintf("quorum event id %d", id), what, ne.Uint32(b[off:]))
	if err != nil {
		return 0, err
	}
	if want := fixed + 4*n; len(b) != want {
		return 0, fmt.Errorf("quorum event id %d: %s %d needs %d bytes, %d arrived", id, what, n, want, len(b))
	}
	return n, nil
}
