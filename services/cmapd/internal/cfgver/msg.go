// Package cfgver is cmap's only ring traffic and its part in sync
// (spec/cmap.md §8, spec/sync.md §7.1): the totem.config_version check.
// Every node multicasts its totem.config_version during sync (reason
// SYNC) and whenever the key changes (reason NEW_CONFIG_VERSION); every
// node stores what it receives under runtime.members.<sender>.config_version;
// a node that joins an existing cluster with a different non-zero version
// shuts down. The message is byte-compatible with corosync 3.1.7.
//
// Everything here is pure: the driver passes in the current key value and
// delivered messages, and acts on what comes back (multicast these bytes,
// set this key, shut down with this message).
package cfgver

import (
	"encoding/binary"
	"fmt"
	"math/bits"

	"github.com/needle-cluster/needle/libs/corotypes/value"
)

// Key is the configuration key the check is about.
const Key = "totem.config_version"

// MsgID is the ring message id, (service 0 << 16) | MESSAGE_REQ_EXEC_CMAP_MCAST 0.
const MsgID = 0

// Reasons of a CMAP MCAST message.
const (
	ReasonSync             = 0
	ReasonNewConfigVersion = 1
)

// MaxItems is the most items one message may carry.
const MaxItems = 32

// Layout: a 48-byte fixed part (16-byte request header, then reason,
// no_items and two reserved bytes each 8-byte aligned), then items of
// mar_name_t key @0, value_type @264, value_len @272, value @280, each
// padded to a multiple of 8.
const (
	headerSize = 48
	itemFixed  = 280
	nameMax    = 256
)

// Item is one key carried by the message; Value.Type None means the key
// does not exist on the sender (length 0).
type Item struct {
	Key   string
	Value value.Value
}

// Message is a decoded CMAP MCAST.
type Message struct {
	Reason uint8
	Items  []Item
}

func align8(n int) int { return (n + 7) &^ 7 }

// Encode builds the ring message in host byte order (as corosync sends
// it), padding zeroed.
func (m Message) Encode() ([]byte, error) {
	if len(m.Items) > MaxItems {
		return nil, fmt.Errorf("cmap mcast: %d items, at most %d", len(m.Items), MaxItems)
	}
	size := headerSize
	for _, it := range m.Items {
		if len(it.Key) >= nameMax {
			return nil, fmt.Errorf("cmap mcast: key of %d bytes does not fit mar_name_t", len(it.Key))
		}
		size += align8(itemFixed + len(it.Value.Data))
	}
	le := binary.NativeEndian
	b := make([]byte, size)
	le.PutUint32(b[0:], MsgID)
	le.PutUint32(b[8:], uint32(size))
	b[16] = m.Reason
	b[24] = uint8(len(m.Items))
	p := headerSize
	for _, it := range m.Items {
		le.PutUint16(b[p:], uint16(len(it.Key)))
		copy(b[p+8:], it.Key)
		b[p+264] = byte(it.Value.Type)
		le.PutUint64(b[p+272:], uint64(len(it.Value.Data)))
		copy(b[p+itemFixed:], it.Value.Data)
		p += align8(itemFixed + len(it.Value.Data))
	}
	return b, nil
}

// Decode parses a delivered message. swapped says the sender's byte order
// differs from ours (the bus reports it): lengths and numeric values are
// then byte-swapped as corosync's exec_cmap_mcast_endian_convert does.
// Every item must lie inside b; names are read like corosync, as the
// bytes up to the first NUL of the 256-byte array.
func Decode(b []byte, swapped bool) (Message, error) {
	order := byteOrder(swapped)
	if len(b) < headerSize {
		return Message{}, fmt.Errorf("cmap mcast: %d bytes, shorter than its %d-byte header", len(b), headerSize)
	}
	if size := order.Uint32(b[8:]); int64(size) != int64(len(b)) {
		return Message{}, fmt.Errorf("cmap mcast: header size %d but %d bytes delivered", size, len(b))
	}
	m := Message{Reason: b[16]}
	n := int(b[24])
	p := headerSize
	for i := 0; i < n; i++ {
		if len(b)-p < itemFixed {
			return Message{}, fmt.Errorf("cmap mcast: item %d of %d at byte %d runs past the %d-byte message", i, n, p, len(b))
		}
		vl := order.Uint64(b[p+272:])
		if vl > uint64(len(b)-p-itemFixed) {
			return Message{}, fmt.Errorf("cmap mcast: item %d value_len %d runs past the %d-byte message", i, vl, len(b))
		}
		name := b[p+8 : p+8+nameMax]
		if z := indexNUL(name); z >= 0 {
			name = name[:z]
		}
		t := value.Type(b[p+264])
		data := append([]byte(nil), b[p+itemFixed:p+itemFixed+int(vl)]...)
		if swapped {
			swapValue(t, data)
		}
		m.Items = append(m.Items, Item{Key: string(name), Value: value.Value{Type: t, Data: data}})
		next := align8(itemFixed + int(vl))
		if next > len(b)-p {
			next = len(b) - p // the last item's padding may be cut; corosync never reads it
		}
		p += next
	}
	return m, nil
}

func indexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}

// byteOrder is the order a delivered message is in: ours, or the other
// one when the sender's endianness differs.
func byteOrder(swapped bool) binary.ByteOrder {
	nativeLE := binary.NativeEndian.Uint16([]byte{1, 0}) == 1
	if nativeLE != swapped {
		return binary.LittleEndian
	}
	return binary.BigEndian
}

// swapValue converts a fixed-size number from the other byte order in place.
func swapValue(t value.Type, d []byte) {
	if len(d) != t.Size() {
		return
	}
	le := binary.NativeEndian
	switch len(d) {
	case 2:
		le.PutUint16(d, bits.ReverseBytes16(le.Uint16(d)))
	case 4:
		le.PutUint32(d, bits.ReverseBytes32(le.Uint32(d)))
	case 8:
		le.PutUint64(d, bits.ReverseBytes64(le.Uint64(d)))
	}
}

// Version extracts totem.config_version from a message as corosync's
// receiver does: absent item or type "not exist" → 0; a u64 item → its
// value; any other type → 0.
func (m Message) Version() uint64 {
	for _, it := range m.Items {
		if it.Key != Key {
			continue
		}
		if it.Value.Type != value.Uint64 {
			return 0
		}
		var buf [8]byte
		copy(buf[:], it.Value.Data) // memcpy of value_len (≤ 8) bytes
		return binary.NativeEndian.Uint64(buf[:])
	}
	return 0
}
