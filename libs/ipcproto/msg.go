package ipcproto

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/vmihailenco/msgpack/v5"
)

// Kind says what a Msg is; each kind uses the fields named in its comment.
type Kind uint8

// Message kinds. "svc→" goes from a service to totemd, "→svc" the other
// way. The package doc (doc.go) is the contract: ordering, sync steps,
// pipelining, batching and service membership.
const (
	KindAttach       Kind = iota + 1 // svc→: Service, Name
	KindAttached                     // →svc: NodeID, Ring, Members (service members), RingMembers
	KindDetach                       // svc→: clean detach
	KindMcast                        // svc→: ID, Payload, Sync (agreed-order multicast; may be pipelined)
	KindMcastAck                     // →svc: ID, Status, Sync (OK, TooBig, or TryAgain: queue full or sync round)
	KindDeliver                      // →svc: From, Payload, Swapped
	KindConfChg                      // →svc: Conf (service view and RingMembers)
	KindSyncInit                     // →svc: ID (round), SyncKind, Ring, Trans, Members
	KindSyncProcess                  // →svc: ID, SyncKind, Ring
	KindSyncDone                     // svc→: ID, Ring
	KindSyncActivate                 // →svc: ID, SyncKind, Ring, Members (service members after the round)
	KindSyncAbort                    // →svc: ID
	KindRequest                      // both: ID, Service (destination), Payload
	KindResponse                     // both: ID, Status, Payload
	KindError                        // →svc: Text; the connection closes after it
	KindDeliverBatch                 // →svc: Batch (consecutive deliveries, in order)
	KindReopenLogs                   // →svc: reopen the log files (corosync-cfgtool -L)
	KindKeep                         // svc→: Names (first frame of a keeper connection: keep.go); later with the listeners' fds
	KindKept                         // →svc: Names held for the daemon, their fds attached
	KindPark                         // svc→: stop writing; answer KindParked, then hold the frames (doc.go, "Handing a daemon over")
	KindParked                       // →svc: the last frame before totemd holds the daemon's frames
	KindUnpark                       // svc→: write again, the held frames first
	KindHandover                     // both: Payload, a chunk of a daemon's handover state, fds attached (at most MaxKept)
	KindHandoverEnd                  // both: ID, the number of KindHandover frames it closes
	KindResume                       // svc→: Service, Name (first frame: as KindAttach, taking over a handed-over session)
	kindEnd
)

var kindNames = [...]string{"", "attach", "attached", "detach", "mcast", "mcast-ack", "deliver",
	"confchg", "sync-init", "sync-process", "sync-done", "sync-activate", "sync-abort",
	"request", "response", "error", "deliver-batch", "reopen-logs", "keep", "kept",
	"park", "parked", "unpark", "handover", "handover-end", "resume"}

func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Ring is a Totem ring id (the shared libs/corotypes/ring type).
type Ring = ring.ID

// ConfType is the kind of configuration change.
type ConfType = ring.ConfType

// Transitional precedes Regular, as in extended virtual synchrony.
const (
	Transitional = ring.Transitional
	Regular      = ring.Regular
)

// Conf is a configuration change as the service sees it (the shared
// libs/corotypes/ring type): Members, Left and Joined are the service
// membership, RingMembers the ring's.
type Conf = ring.ConfChg

// SyncKind says why a sync round runs.
type SyncKind uint8

const (
	// SyncFull follows a ring change: corosync's sync, every service of
	// the union of all members' service lists, every ring member takes
	// part (real corosync nodes included).
	SyncFull SyncKind = iota
	// SyncService follows this service's daemon attaching or detaching on
	// some node: this one service, needle members only.
	SyncService
)

func (k SyncKind) String() string {
	switch k {
	case SyncFull:
		return "full"
	case SyncService:
		return "service"
	}
	return fmt.Sprintf("synckind(%d)", uint8(k))
}

// Delivery is one message of a KindDeliverBatch: what a KindDeliver
// carries.
type Delivery struct {
	From    uint32 `msgpack:"f"`
	Payload []byte `msgpack:"p"`
	Swapped bool   `msgpack:"sw,omitempty"`
}

// MaxBatch bounds the deliveries of one KindDeliverBatch.
const MaxBatch = 1024

// Batch is the deliveries of a KindDeliverBatch, in order.
type Batch []Delivery

// DecodeMsgpack refuses a batch of more than MaxBatch deliveries before
// allocating it. msgpack would size the slice from the declared count, and
// a Delivery takes 40 bytes where its element may take 1 byte on the wire:
// with the count bounded, a batch costs at most 40 KiB beyond its bytes
// (decode.go's allocation budget).
func (b *Batch) DecodeMsgpack(d *msgpack.Decoder) error {
	n, err := d.DecodeArrayLen()
	if err != nil {
		return err
	}
	if n < 0 {
		*b = nil
		return nil
	}
	if n > MaxBatch {
		return fmt.Errorf("batch of %d deliveries, at most %d", n, MaxBatch)
	}
	out := make(Batch, n)
	for i := range out {
		if err := d.Decode(&out[i]); err != nil {
			return fmt.Errorf("batch delivery %d: %w", i, err)
		}
	}
	*b = out
	return nil
}

// Msg is one bus message. Status is a cs_error_t, so a service can hand it
// to its libqb clients unchanged.
type Msg struct {
	Kind        Kind     `msgpack:"k"`
	Service     uint16   `msgpack:"sv,omitempty"`
	Name        string   `msgpack:"n,omitempty"`
	ID          uint64   `msgpack:"i,omitempty"`
	NodeID      uint32   `msgpack:"nd,omitempty"`
	From        uint32   `msgpack:"f,omitempty"`
	Payload     []byte   `msgpack:"p,omitempty"`
	Swapped     bool     `msgpack:"sw,omitempty"`
	Status      cs.Error `msgpack:"st,omitempty"`
	Ring        *Ring    `msgpack:"r,omitempty"`
	Conf        *Conf    `msgpack:"c,omitempty"`
	Trans       []uint32 `msgpack:"tr,omitempty"`
	Members     []uint32 `msgpack:"m,omitempty"`
	RingMembers []uint32 `msgpack:"rm,omitempty"`
	SyncKind    SyncKind `msgpack:"sk,omitempty"`
	Batch       Batch    `msgpack:"b,omitempty"`
	Text        string   `msgpack:"x,omitempty"`
	// Names are libqb service names (KindKeep, KindKept).
	Names []string `msgpack:"ns,omitempty"`
	// Sync marks a KindMcast as a sync message of the service's round in
	// progress, and its KindMcastAck likewise: sync and ordinary
	// multicasts are two streams with their own ids (doc.go).
	Sync bool `msgpack:"sy,omitempty"`
}

// Deliveries returns the messages a KindDeliver or KindDeliverBatch
// carries, in delivery order (nil for other kinds), so a service handles
// both forms with one loop.
func (m *Msg) Deliveries() []Delivery {
	switch m.Kind {
	case KindDeliver:
		return []Delivery{{From: m.From, Payload: m.Payload, Swapped: m.Swapped}}
	case KindDeliverBatch:
		return m.Batch
	}
	return nil
}

// Encode returns the msgpack body of m (without the length prefix).
func Encode(m *Msg) ([]byte, error) {
	return appendEncode(nil, m)
}

// appendEncode appends m's msgpack body to b.
func appendEncode(b []byte, m *Msg) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return b, err
	}
	if out, ok := appendFast(b, m); ok {
		return out, nil
	}
	body, err := msgpack.Marshal(m)
	if err != nil {
		return b, err
	}
	return append(b, body...), nil
}

// Decode parses one msgpack body and validates it. A payload that is most
// of b may share b's memory: b must not be changed afterwards.
func Decode(b []byte) (*Msg, error) {
	if m, ok := decodeFast(b); ok {
		if err := m.Validate(); err != nil {
			return nil, err
		}
		return m, nil
	}
	if err := checkFrame(b); err != nil { // before msgpack trusts any length (decode.go)
		return nil, fmt.Errorf("ipcproto: decode %d-byte frame: %w", len(b), err)
	}
	var m Msg
	if err := msgpack.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("ipcproto: decode %d-byte frame: %w", len(b), err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Validate checks that the fields a kind needs are present.
func (m *Msg) Validate() error {
	switch m.Kind {
	case KindAttach, KindResume:
		if m.Name == "" {
			return fmt.Errorf("ipcproto: %s for service %d without a name", m.Kind, m.Service)
		}
	case KindConfChg:
		if m.Conf == nil {
			return fmt.Errorf("ipcproto: %s without a configuration", m.Kind)
		}
	case KindSyncInit, KindSyncProcess, KindSyncDone, KindSyncActivate:
		if m.Ring == nil {
			return fmt.Errorf("ipcproto: %s without a ring id", m.Kind)
		}
		if m.SyncKind > SyncService {
			return fmt.Errorf("ipcproto: %s of unknown sync kind %d", m.Kind, uint8(m.SyncKind))
		}
	case KindDeliverBatch:
		if len(m.Batch) == 0 || len(m.Batch) > MaxBatch {
			return fmt.Errorf("ipcproto: %s with %d deliveries, want 1..%d", m.Kind, len(m.Batch), MaxBatch)
		}
	case KindKeep, KindKept:
		if len(m.Names) > MaxKept {
			return fmt.Errorf("ipcproto: %s of %d names, at most %d", m.Kind, len(m.Names), MaxKept)
		}
		for _, n := range m.Names {
			if n == "" || len(n) > 107 {
				return fmt.Errorf("ipcproto: %s names a libqb service %q (1..107 bytes)", m.Kind, n)
			}
		}
	case KindAttached, KindDetach, KindMcast, KindMcastAck, KindDeliver, KindSyncAbort,
		KindRequest, KindResponse, KindError, KindReopenLogs,
		KindPark, KindParked, KindUnpark, KindHandover, KindHandoverEnd:
	default:
		return fmt.Errorf("ipcproto: unknown message kind %d", uint8(m.Kind))
	}
	return nil
}
