// Package ipcproto is the local bus between totemd and the service daemons
// (cmapd, quorumd, cpgd): length-prefixed msgpack frames over a unix
// socket. A service attaches with its Corosync service id, multicasts
// through the ring, and receives one ordered stream of deliveries,
// configuration changes and sync steps; requests between local services
// are routed through totemd.
//
// Frame: a 4-byte big-endian length, then one msgpack-encoded Msg. Every
// decoder here checks lengths and kinds before use and returns an error
// naming what was wrong; a peer that sends a bad frame is disconnected.
package ipcproto

import (
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/ring"
	"github.com/vmihailenco/msgpack/v5"
)

// Kind says what a Msg is; each kind uses the fields named in its comment.
type Kind uint8

// Message kinds. "svc→" goes from a service to totemd, "→svc" the other way.
//
// Multicasts may be pipelined: a service may send many KindMcast before the
// acks come back, and totemd answers each in order. Once one is refused
// with TryAgain, every later one is refused too, until the refused one is
// sent again under the same ID; so a service that resends from its first
// refused message on keeps its messages in the order it made them.
const (
	KindAttach       Kind = iota + 1 // svc→: Service, Name
	KindAttached                     // →svc: NodeID, Ring (current ring)
	KindDetach                       // svc→: clean detach
	KindMcast                        // svc→: ID, Payload (agreed-order multicast)
	KindMcastAck                     // →svc: ID, Status (OK, TooBig, or TryAgain when the ring queue is full: see below)
	KindDeliver                      // →svc: From, Payload, Swapped
	KindConfChg                      // →svc: Conf
	KindSyncInit                     // →svc: Ring, Trans, Members
	KindSyncProcess                  // →svc: Ring
	KindSyncDone                     // svc→: Ring
	KindSyncActivate                 // →svc: Ring
	KindSyncAbort                    // →svc
	KindRequest                      // both: ID, Service (destination), Payload
	KindResponse                     // both: ID, Status, Payload
	KindError                        // →svc: Text; the connection closes after it
	kindEnd
)

var kindNames = [...]string{"", "attach", "attached", "detach", "mcast", "mcast-ack", "deliver",
	"confchg", "sync-init", "sync-process", "sync-done", "sync-activate", "sync-abort",
	"request", "response", "error"}

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

// Msg is one bus message. Status is a cs_error_t, so a service can hand it
// to its libqb clients unchanged.
type Msg struct {
	Kind    Kind     `msgpack:"k"`
	Service uint16   `msgpack:"sv,omitempty"`
	Name    string   `msgpack:"n,omitempty"`
	ID      uint64   `msgpack:"i,omitempty"`
	NodeID  uint32   `msgpack:"nd,omitempty"`
	From    uint32   `msgpack:"f,omitempty"`
	Payload []byte   `msgpack:"p,omitempty"`
	Swapped bool     `msgpack:"sw,omitempty"`
	Status  cs.Error `msgpack:"st,omitempty"`
	Ring    *Ring    `msgpack:"r,omitempty"`
	Conf    *Conf    `msgpack:"c,omitempty"`
	Trans   []uint32 `msgpack:"tr,omitempty"`
	Members []uint32 `msgpack:"m,omitempty"`
	Text    string   `msgpack:"x,omitempty"`
}

// Encode returns the msgpack body of m (without the length prefix).
func Encode(m *Msg) ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return msgpack.Marshal(m)
}

// Decode parses one msgpack body and validates it.
func Decode(b []byte) (*Msg, error) {
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
	case KindAttach:
		if m.Name == "" {
			return fmt.Errorf("ipcproto: attach for service %d without a name", m.Service)
		}
	case KindConfChg:
		if m.Conf == nil {
			return fmt.Errorf("ipcproto: %s without a configuration", m.Kind)
		}
	case KindSyncInit, KindSyncProcess, KindSyncDone, KindSyncActivate:
		if m.Ring == nil {
			return fmt.Errorf("ipcproto: %s without a ring id", m.Kind)
		}
	case KindAttached, KindDetach, KindMcast, KindMcastAck, KindDeliver, KindSyncAbort,
		KindRequest, KindResponse, KindError:
	default:
		return fmt.Errorf("ipcproto: unknown message kind %d", uint8(m.Kind))
	}
	return nil
}
