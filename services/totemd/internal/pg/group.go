package pg

import (
	"fmt"
	"math/bits"
)

// The two groups corosync uses (spec/totem.md §8.1).
const (
	GroupServices = "a"    // every service exec message
	GroupSync     = "sync" // the sync engine (spec/sync.md §4)
)

// maxGroups bounds the names of one message, as corosync does
// (MAX_GROUPS_PER_MSG).
const maxGroups = 32

// AppendGroupHeader appends the group header for names (n, n lengths, the
// names) in our byte order.
func AppendGroupHeader(dst []byte, names ...string) ([]byte, error) {
	if len(names) == 0 || len(names) > maxGroups {
		return dst, fmt.Errorf("group header: %d names, want 1..%d", len(names), maxGroups)
	}
	for i, n := range names {
		if len(n) == 0 || len(n) > 0xFFFF {
			return dst, fmt.Errorf("group header: name %d is %d bytes, want 1..65535", i, len(n))
		}
	}
	dst = le.AppendUint16(dst, uint16(len(names)))
	for _, n := range names {
		dst = le.AppendUint16(dst, uint16(len(n)))
	}
	for _, n := range names {
		dst = append(dst, n...)
	}
	return dst, nil
}

// groupHeader is a checked view of a message's group header.
type groupHeader struct {
	msg     []byte
	n       int
	swapped bool
	body    int // offset of the body
}

func (g *groupHeader) nameLen(i int) int {
	v := le.Uint16(g.msg[2+2*i:])
	if g.swapped {
		v = bits.ReverseBytes16(v)
	}
	return int(v)
}

// names returns the names in order (allocates; for DecodeGroupHeader).
func (g *groupHeader) names() []string {
	out := make([]string, 0, g.n)
	off := 2 + 2*g.n
	for i := 0; i < g.n; i++ {
		l := g.nameLen(i)
		out = append(out, string(g.msg[off:off+l]))
		off += l
	}
	return out
}

// matches reports whether any name of the header is one of want.
func (g *groupHeader) matches(want []string) bool {
	off := 2 + 2*g.n
	for i := 0; i < g.n; i++ {
		l := g.nameLen(i)
		name := g.msg[off : off+l]
		for _, w := range want {
			if string(name) == w {
				return true
			}
		}
		off += l
	}
	return false
}

// parseGroupHeader checks the group header at the start of msg. swapped
// says the lengths are in the other byte order.
func parseGroupHeader(msg []byte, swapped bool) (groupHeader, error) {
	if len(msg) < 2 {
		return groupHeader{}, fmt.Errorf("group header: message of %d bytes has no name count", len(msg))
	}
	n := le.Uint16(msg)
	if swapped {
		n = bits.ReverseBytes16(n)
	}
	g := groupHeader{msg: msg, n: int(n), swapped: swapped}
	off := 2 + 2*g.n
	if len(msg) < off {
		return groupHeader{}, fmt.Errorf("group header: %d names need %d bytes of lengths, message has %d", n, off, len(msg))
	}
	for i := 0; i < g.n; i++ {
		off += g.nameLen(i)
		if off > len(msg) {
			return groupHeader{}, fmt.Errorf("group header: name %d ends at byte %d, message has %d", i, off, len(msg))
		}
	}
	g.body = off
	return g, nil
}

// DecodeGroupHeader splits a delivered totempg message into its group names
// and the body after the header.
func DecodeGroupHeader(msg []byte, swapped bool) (names []string, body []byte, err error) {
	g, err := parseGroupHeader(msg, swapped)
	if err != nil {
		return nil, nil, err
	}
	return g.names(), msg[g.body:], nil
}

// Handler receives a message's body (group header stripped). The body
// aliases pg's buffers: copy it to keep it past the call. swapped means the
// sender's byte order differs; the service converts its own fields.
type Handler func(from uint32, body []byte, swapped bool)

type groupInstance struct {
	names []string
	fn    Handler
}

// Groups is the local table of group instances (totempg_groups_*): each
// joined a set of names and gets every message addressed to any of them.
type Groups struct {
	inst  []groupInstance
	stats GroupStats
}

// GroupStats are cumulative counters of a Groups table.
type GroupStats struct {
	Delivered uint64 // handler calls
	Unmatched uint64 // messages no local instance joined
	BadHeader uint64 // messages with a malformed group header
}

// Join registers an instance that receives messages of any of names.
func (g *Groups) Join(fn Handler, names ...string) error {
	if fn == nil {
		return fmt.Errorf("groups: join %q: nil handler", names)
	}
	if _, err := AppendGroupHeader(nil, names...); err != nil {
		return fmt.Errorf("groups: join %q: %w", names, err)
	}
	g.inst = append(g.inst, groupInstance{names: append([]string(nil), names...), fn: fn})
	return nil
}

// Stats returns the counters.
func (g *Groups) Stats() GroupStats { return g.stats }

// Deliver is a DeliverFunc: it strips the group header of a whole message
// and calls, in join order, each instance that joined one of its names.
func (g *Groups) Deliver(from uint32, msg []byte, swapped bool) error {
	h, err := parseGroupHeader(msg, swapped)
	if err != nil {
		g.stats.BadHeader++
		return fmt.Errorf("message from node %d: %w", from, err)
	}
	body := msg[h.body:]
	matched := false
	for i := range g.inst {
		in := &g.inst[i]
		if h.matches(in.names) {
			matched = true
			g.stats.Delivered++
			in.fn(from, body, swapped)
		}
	}
	if !matched {
		g.stats.Unmatched++
	}
	return nil
}
