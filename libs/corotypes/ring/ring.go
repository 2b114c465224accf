// Package ring holds the Totem ring id and the configuration-change types
// every needle daemon shares: totemd's sync engine and bus, the bus
// protocol (libs/ipcproto) and the service daemons.
//
// The msgpack tags are the bus encoding (libs/ipcproto); the types carry
// no codec of their own.
package ring

import "fmt"

// ID names one ring: its representative's node id and a sequence that grows
// with every new ring. Equality is corosync's memcmp of struct memb_ring_id.
type ID struct {
	Rep uint32 `msgpack:"r"`
	Seq uint64 `msgpack:"s"`
}

// IsZero reports the all-zero ring id, which no ring has (it stands for
// "before the first ring" and "none").
func (r ID) IsZero() bool { return r == ID{} }

// String is corosync's display form, "%x.%x".
func (r ID) String() string { return fmt.Sprintf("%x.%x", r.Rep, r.Seq) }

// ConfType is the kind of a configuration change.
type ConfType uint8

// A transitional configuration always precedes its regular one, as in
// extended virtual synchrony.
const (
	Transitional ConfType = iota
	Regular
)

func (t ConfType) String() string {
	switch t {
	case Transitional:
		return "transitional"
	case Regular:
		return "regular"
	}
	return fmt.Sprintf("conftype(%d)", uint8(t))
}

// ConfChg is a configuration change as one service sees it. Members, Left
// and Joined are the service membership: ring members whose daemon for
// that service is attached (a real corosync node counts as always
// attached). RingMembers is the whole ring's membership (for a
// transitional change, the transitional members). Lists are sorted
// ascending.
type ConfChg struct {
	Type        ConfType `msgpack:"t"`
	Ring        ID       `msgpack:"r"`
	Members     []uint32 `msgpack:"m"`
	Left        []uint32 `msgpack:"l,omitempty"`
	Joined      []uint32 `msgpack:"j,omitempty"`
	RingMembers []uint32 `msgpack:"rm,omitempty"`
}
