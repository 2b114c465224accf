package cmapreq

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Prefix tracking over the bus: how a service daemon (or totemd) keeps a
// local mirror of some icmap prefixes without a libqb connection.
//
//   - Track (id 1001, header then the prefix's bytes), sent to cmapd like
//     any request batch: cmapd registers (sender service, prefix) —
//     registering it again is harmless — and replies TrackReply: a 24-byte
//     header (id 1001, status) then the prefix's current keys as entries.
//   - Changed (id 1003, header then entries) is a KindRequest cmapd sends
//     to the tracking service (Service = its id) after every committed
//     change that touched its prefixes: every changed key, deleted ones
//     flagged. The tracker answers with a bare OK reply; a response of
//     CS_ERR_NOT_EXIST (totemd: the service is not attached) makes cmapd
//     forget that service's registrations.
//   - Hello (id 1004, header only) is a KindRequest cmapd sends to every
//     service id when it attaches to totemd: it has (re)started and holds
//     no registrations, so trackers track again.
//
// An entry is flags (u8, 1 = deleted), the value's type (u8), the key's
// length (u16), the value's length (u32), the key, the value; integers in
// host order like every other bus batch.
const (
	ReqTrack   int32 = 1001
	ReqChanged int32 = 1003
	ReqHello   int32 = 1004
)

// MaxTrackedKey bounds a key's length in an entry (cmap's own limit is
// 255).
const MaxTrackedKey = 1 << 10

// Entry is one key's state in a TrackReply or Changed message.
type Entry struct {
	Key     string
	Value   value.Value
	Deleted bool
}

const entryHeader = 8

// Track is the request that registers prefix.
func Track(prefix string) []byte {
	b := make([]byte, cmapwire.ReqHeaderSize, cmapwire.ReqHeaderSize+len(prefix))
	ne.PutUint32(b[0:], uint32(ReqTrack))
	b = append(b, prefix...)
	ne.PutUint32(b[8:], uint32(len(b)))
	return b
}

// DecodeTrack returns the prefix of a Track request.
func DecodeTrack(msg []byte) (string, error) {
	if len(msg) < cmapwire.ReqHeaderSize || int32(ne.Uint32(msg)) != ReqTrack {
		return "", fmt.Errorf("track request: not a track request (%d bytes)", len(msg))
	}
	return string(msg[cmapwire.ReqHeaderSize:]), nil
}

// TrackReply is cmapd's answer to Track.
func TrackReply(st cs.Error, entries []Entry) []byte {
	return withEntries(ReqTrack, cmapwire.RespHeaderSize, entries, func(b []byte) {
		ne.PutUint32(b[16:], uint32(st))
	})
}

// DecodeTrackReply returns the status and entries of a TrackReply.
func DecodeTrackReply(msg []byte) (cs.Error, []Entry, error) {
	if len(msg) < cmapwire.RespHeaderSize || int32(ne.Uint32(msg)) != ReqTrack {
		return 0, nil, fmt.Errorf("track reply: not a track reply (%d bytes)", len(msg))
	}
	st := cs.Error(int32(ne.Uint32(msg[16:])))
	es, err := DecodeEntries(msg[cmapwire.RespHeaderSize:])
	if err != nil {
		return 0, nil, fmt.Errorf("track reply: %w", err)
	}
	return st, es, nil
}

// Changed is the notification of one committed change.
func Changed(entries []Entry) []byte {
	return withEntries(ReqChanged, cmapwire.ReqHeaderSize, entries, nil)
}

// Hello is cmapd's announcement after it attached.
func Hello() []byte {
	b := make([]byte, cmapwire.ReqHeaderSize)
	ne.PutUint32(b[0:], uint32(ReqHello))
	ne.PutUint32(b[8:], cmapwire.ReqHeaderSize)
	return b
}

// Notification is a decoded request cmapd sent to a tracker.
type Notification struct {
	Hello   bool
	Changes []Entry
}

// DecodeNotification parses a Changed or Hello request.
func DecodeNotification(msg []byte) (Notification, error) {
	if len(msg) < cmapwire.ReqHeaderSize {
		return Notification{}, fmt.Errorf("cmap notification: %d bytes, shorter than a header", len(msg))
	}
	if size := int(ne.Uint32(msg[8:])); size != len(msg) {
		return Notification{}, fmt.Errorf("cmap notification: header says %d bytes, got %d", size, len(msg))
	}
	switch id := int32(ne.Uint32(msg)); id {
	case ReqHello:
		return Notification{Hello: true}, nil
	case ReqChanged:
		es, err := DecodeEntries(msg[cmapwire.ReqHeaderSize:])
		if err != nil {
			return Notification{}, fmt.Errorf("cmap notification: %w", err)
		}
		return Notification{Changes: es}, nil
	default:
		return Notification{}, fmt.Errorf("cmap notification: unknown id %d", id)
	}
}

// NotificationReply is the tracker's answer to a notification.
func NotificationReply(st cs.Error) []byte {
	b := make([]byte, cmapwire.RespHeaderSize)
	ne.PutUint32(b[0:], uint32(ReqChanged))
	ne.PutUint32(b[8:], cmapwire.RespHeaderSize)
	ne.PutUint32(b[16:], uint32(st))
	return b
}

func withEntries(id int32, hdr int, entries []Entry, fill func([]byte)) []byte {
	n := hdr
	for _, e := range entries {
		n += entryHeader + len(e.Key) + len(e.Value.Data)
	}
	b := make([]byte, hdr, n)
	ne.PutUint32(b[0:], uint32(id))
	ne.PutUint32(b[8:], uint32(n))
	if fill != nil {
		fill(b)
	}
	for _, e := range entries {
		var h [entryHeader]byte
		if e.Deleted {
			h[0] = 1
		} else {
			h[1] = byte(e.Value.Type)
			ne.PutUint32(h[4:], uint32(len(e.Value.Data)))
		}
		ne.PutUint16(h[2:], uint16(len(e.Key)))
		b = append(b, h[:]...)
		b = append(b, e.Key...)
		if !e.Deleted {
			b = append(b, e.Value.Data...)
		}
	}
	return b
}

// DecodeEntries parses entries laid end to end; every length is checked
// against what is left before anything is allocated.
func DecodeEntries(b []byte) ([]Entry, error) {
	var out []Entry
	for off := 0; off < len(b); {
		if len(b)-off < entryHeader {
			return nil, fmt.Errorf("entry at offset %d: %d bytes left, shorter than its header", off, len(b)-off)
		}
		flags, typ := b[off], value.Type(b[off+1])
		klen, vlen := int(ne.Uint16(b[off+2:])), int(ne.Uint32(b[off+4:]))
		off += entryHeader
		if flags > 1 {
			return nil, fmt.Errorf("entry at offset %d: unknown flags %#x", off-entryHeader, flags)
		}
		if klen == 0 || klen > MaxTrackedKey || klen > len(b)-off {
			return nil, fmt.Errorf("entry at offset %d: key length %d, %d bytes left", off-entryHeader, klen, len(b)-off)
		}
		key := string(b[off : off+klen])
		off += klen
		if flags == 1 {
			if vlen != 0 || typ != 0 {
				return nil, fmt.Errorf("deleted entry %q carries a value", key)
			}
			out = append(out, Entry{Key: key, Deleted: true})
			continue
		}
		if vlen > len(b)-off {
			return nil, fmt.Errorf("entry %q: value length %d, %d bytes left", key, vlen, len(b)-off)
		}
		v, st := value.New(typ, b[off:off+vlen])
		if st != cs.OK {
			return nil, fmt.Errorf("entry %q: bad value of type %d, %d bytes: %v", key, typ, vlen, st)
		}
		off += vlen
		out = append(out, Entry{Key: key, Value: v})
	}
	return out, nil
}
