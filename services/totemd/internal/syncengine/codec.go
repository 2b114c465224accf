package syncengine

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/ring"
)

// Message ids of the "sync" group. Corosync's are plain small numbers, not
// service<<16|fn. Corosync 3.1.7's sync_deliver_fn switches on the id with
// cases for 0 and 1 only and does nothing for any other id, so the needle
// ids below reach a real corosync node harmlessly. They start with the
// bytes "ND" so they can never meet a future corosync sync id (corosync
// counts from 0) nor a service id (group "sync" carries no service messages).
const (
	IDBarrier       int32 = 0 // corosync BARRIER
	IDServiceBuild  int32 = 1 // corosync SERVICE_BUILD
	IDMembDetermine int32 = 2 // corosync 2.0.0 MEMB_DETERMINE; never sent, ignored

	IDServiceSet     int32 = 0x4E440001 // needle: the sender's attached service daemons
	IDServiceChange  int32 = 0x4E440002 // needle: a service daemon attached or detached
	IDServiceBarrier int32 = 0x4E440003 // needle: barrier of a per-service round
)

// Wire sizes. The C structs have every member aligned to 8 bytes: the 16-byte
// libqb request header, the packed 12-byte ring id at 16 (padded to 32), then
// the fields at 32 and 40.
const (
	BarrierSize        = 32
	ServiceBuildSize   = 552
	ServiceSetSize     = ServiceBuildSize
	ServiceChangeSize  = 40
	ServiceBarrierSize = 40

	// MaxServiceList is the capacity of the service_list array.
	MaxServiceList = 128

	headerSize  = 16
	ringIDOff   = 16
	countOff    = 32
	listOff     = 40
	serviceOff  = 32
	attachedOff = 36
)

// ErrMalformed marks a sync message that cannot be decoded.
var ErrMalformed = errors.New("malformed sync message")

// ServiceID is a corosync service id (cmap 0, cfg 1, cpg 2, quorum 3,
// pload 4, votequorum 5). It is signed because the wire carries C ints and
// the engine must sort unknown ids exactly as corosync does.
type ServiceID int32

// RingID names a ring: its representative's nodeid and sequence (the
// shared libs/corotypes/ring type). Equality is corosync's memcmp over the
// packed struct.
type RingID = ring.ID

// Message is one decoded sync message.
type Message interface{ syncMessage() }

// Barrier (corosync id 0) says the sender finished the current service.
type Barrier struct{ Ring RingID }

// ServiceBuild (corosync id 1) lists the sender's sync-capable services.
type ServiceBuild struct {
	Ring     RingID
	Services []ServiceID
}

// ServiceSet (needle) lists the services whose daemon is attached at the
// sender. A needle node sends it just before its ServiceBuild, so its
// arrival also marks the sender as a needle node for this ring.
type ServiceSet struct {
	Ring     RingID
	Services []ServiceID
}

// ServiceChange (needle) announces that the sender's daemon for Service
// attached or detached; it starts a per-service round.
type ServiceChange struct {
	Ring     RingID
	Service  ServiceID
	Attached bool
}

// ServiceBarrier (needle) is the barrier of a per-service round. It names
// its service so that it can never be counted as a corosync barrier.
type ServiceBarrier struct {
	Ring    RingID
	Service ServiceID
}

// Unknown is a well-formed header with an id this engine does not handle
// (including MEMB_DETERMINE); it is ignored, as corosync does.
type Unknown struct{ ID int32 }

func (Barrier) syncMessage()        {}
func (ServiceBuild) syncMessage()   {}
func (ServiceSet) syncMessage()     {}
func (ServiceChange) syncMessage()  {}
func (ServiceBarrier) syncMessage() {}
func (Unknown) syncMessage()        {}

var le = binary.LittleEndian

// newFrame returns a zeroed buffer with the request header and ring id
// written. Padding stays zero, as 3.x memsets its structs.
func newFrame(id int32, size int, ring RingID) []byte {
	b := make([]byte, size)
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(size))
	le.PutUint32(b[ringIDOff:], ring.Rep)
	le.PutUint64(b[ringIDOff+4:], ring.Seq)
	return b
}

func marshalList(id int32, ring RingID, list []ServiceID) ([]byte, error) {
	if len(list) > MaxServiceList {
		return nil, fmt.Errorf("encode sync message %#x: %d services, at most %d fit", id, len(list), MaxServiceList)
	}
	b := newFrame(id, ServiceBuildSize, ring)
	le.PutUint32(b[countOff:], uint32(len(list)))
	for i, s := range list {
		le.PutUint32(b[listOff+4*i:], uint32(s))
	}
	return b, nil
}

// Marshal encodes the barrier (32 bytes).
func (m Barrier) Marshal() []byte { return newFrame(IDBarrier, BarrierSize, m.Ring) }

// Marshal encodes the service build (552 bytes); more than 128 services is
// an error.
func (m ServiceBuild) Marshal() ([]byte, error) {
	return marshalList(IDServiceBuild, m.Ring, m.Services)
}

// Marshal encodes the service set (552 bytes, SERVICE_BUILD's layout).
func (m ServiceSet) Marshal() ([]byte, error) {
	return marshalList(IDServiceSet, m.Ring, m.Services)
}

// Marshal encodes the service change (40 bytes): service @32, attached
// (1 or 0) @36.
func (m ServiceChange) Marshal() []byte {
	b := newFrame(IDServiceChange, ServiceChangeSize, m.Ring)
	le.PutUint32(b[serviceOff:], uint32(m.Service))
	if m.Attached {
		le.PutUint32(b[attachedOff:], 1)
	}
	return b
}

// Marshal encodes the per-service barrier (40 bytes): service @32.
func (m ServiceBarrier) Marshal() []byte {
	b := newFrame(IDServiceBarrier, ServiceBarrierSize, m.Ring)
	le.PutUint32(b[serviceOff:], uint32(m.Service))
	return b
}

// Decode parses one sync message as delivered in group "sync" (group header
// already stripped). It never byte-swaps (corosync never does either), never
// reads padding and never panics; a message with an unhandled id decodes to
// Unknown. A known message must have exactly its size, and its header size
// field must agree.
func Decode(b []byte) (Message, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrMalformed, len(b), headerSize)
	}
	id := int32(le.Uint32(b[0:]))
	var want int
	switch id {
	case IDBarrier:
		want = BarrierSize
	case IDServiceBuild, IDServiceSet:
		want = ServiceBuildSize
	case IDServiceChange:
		want = ServiceChangeSize
	case IDServiceBarrier:
		want = ServiceBarrierSize
	default:
		return Unknown{ID: id}, nil
	}
	if len(b) != want {
		return nil, fmt.Errorf("%w: id %#x: %d bytes, want %d", ErrMalformed, id, len(b), want)
	}
	if size := int32(le.Uint32(b[8:])); size != int32(want) {
		return nil, fmt.Errorf("%w: id %#x: header size %d, want %d", ErrMalformed, id, size, want)
	}
	ring := RingID{Rep: le.Uint32(b[ringIDOff:]), Seq: le.Uint64(b[ringIDOff+4:])}
	switch id {
	case IDBarrier:
		return Barrier{Ring: ring}, nil
	case IDServiceBuild, IDServiceSet:
		n := int32(le.Uint32(b[countOff:]))
		if n < 0 || n > MaxServiceList {
			return nil, fmt.Errorf("%w: id %#x: service_list_entries %d outside 0..%d", ErrMalformed, id, n, MaxServiceList)
		}
		list := make([]ServiceID, n)
		for i := range list {
			list[i] = ServiceID(int32(le.Uint32(b[listOff+4*i:])))
		}
		if id == IDServiceSet {
			return ServiceSet{Ring: ring, Services: list}, nil
		}
		return ServiceBuild{Ring: ring, Services: list}, nil
	case IDServiceChange:
		svc := ServiceID(int32(le.Uint32(b[serviceOff:])))
		switch a := le.Uint32(b[attachedOff:]); a {
		case 0, 1:
			return ServiceChange{Ring: ring, Service: svc, Attached: a == 1}, nil
		default:
			return nil, fmt.Errorf("%w: service change: attached flag %d, want 0 or 1", ErrMalformed, a)
		}
	default: // IDServiceBarrier
		return ServiceBarrier{Ring: ring, Service: ServiceID(int32(le.Uint32(b[serviceOff:])))}, nil
	}
}
