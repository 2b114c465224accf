package main

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"
	"time"
)

// senderID names a group member: node id and pid.
type senderID struct{ node, pid uint32 }

// senderState is what one node has seen of one sender.
type senderState struct {
	got      []uint64 // bitset of received data seqs
	distinct uint64
	maxSeen  int64 // highest seq received, -1 before any
	end      int64 // count announced by END, -1 before it arrived
	departed bool  // left the group before its END
}

// checker is the pure verification state of one receiving node: it is fed
// deliveries in the order the daemon delivered them and counts loss,
// duplicates and per-sender FIFO violations, hashes the delivery order of
// data messages ((node, pid, seq) in order: equal on every node iff all
// delivered one order) and keeps latencies.
type checker struct {
	senders    map[senderID]*senderState
	order      hash.Hash
	dups       uint64
	fifo       uint64
	received   uint64
	bytes      uint64
	lat        []time.Duration
	first      time.Time // first data delivery
	last       time.Time // last data delivery
	badPayload uint64
}

func newChecker() *checker {
	return &checker{senders: map[senderID]*senderState{}, order: sha256.New()}
}

func (c *checker) state(s senderID) *senderState {
	st := c.senders[s]
	if st == nil {
		st = &senderState{maxSeen: -1, end: -1}
		c.senders[s] = st
	}
	return st
}

// expect registers a member that must send END before the run completes.
func (c *checker) expect(s senderID) { c.state(s) }

// deliver records one delivered message at time now.
func (c *checker) deliver(s senderID, payload []byte, now time.Time) {
	m, err := parseMsg(payload)
	if err != nil {
		c.badPayload++
		return
	}
	st := c.state(s)
	if m.kind == kindEnd {
		st.end = int64(m.end)
		return
	}
	if st.has(m.seq) {
		c.dups++
		return
	}
	w := m.seq / 64
	for uint64(len(st.got)) <= w {
		st.got = append(st.got, 0)
	}
	if int64(m.seq) < st.maxSeen {
		c.fifo++
	}
	st.got[w] |= uint64(1) << (m.seq % 64)
	st.distinct++
	st.maxSeen = max(st.maxSeen, int64(m.seq))
	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], s.node)
	binary.LittleEndian.PutUint32(rec[4:], s.pid)
	binary.LittleEndian.PutUint64(rec[8:], m.seq)
	c.order.Write(rec[:])
	c.received++
	c.bytes += uint64(len(payload))
	c.lat = append(c.lat, now.Sub(time.Unix(0, m.sent)))
	if c.first.IsZero() {
		c.first = now
	}
	c.last = now
}

// left marks members that left the group; one that has not sent END no
// longer holds up completion.
func (c *checker) left(s senderID) {
	if st := c.senders[s]; st != nil && st.end < 0 {
		st.departed = true
	}
}

// done reports whether every expected sender ended or departed.
func (c *checker) done() bool {
	for _, st := range c.senders {
		if st.end < 0 && !st.departed {
			return false
		}
	}
	return true
}

// lost counts data messages not delivered: for a sender that announced
// its count, count − distinct; for one that departed, the holes below the
// highest seq seen.
func (c *checker) lost() uint64 {
	var n uint64
	for _, st := range c.senders {
		want := uint64(st.maxSeen + 1)
		if st.end >= 0 {
			want = uint64(st.end)
		}
		if want > st.distinct {
			n += want - st.distinct
		}
	}
	return n
}

// lostDetail names, for each sender with a loss, the seqs missing below
// what lost counts (at most maxLostRanges ranges a sender): which sender
// and which messages, for whoever reads a failed run.
func (c *checker) lostDetail() []string {
	const maxLostRanges = 6
	var out []string
	for _, id := range slices.SortedFunc(maps.Keys(c.senders), func(a, b senderID) int {
		return cmp.Or(cmp.Compare(a.node, b.node), cmp.Compare(a.pid, b.pid))
	}) {
		st := c.senders[id]
		want := uint64(st.maxSeen + 1)
		if st.end >= 0 {
			want = uint64(st.end)
		}
		if want <= st.distinct {
			continue
		}
		var ranges []string
		for seq := uint64(0); seq < want && len(ranges) < maxLostRanges; seq++ {
			if st.has(seq) {
				continue
			}
			end := seq
			for end+1 < want && !st.has(end+1) {
				end++
			}
			if end == seq {
				ranges = append(ranges, fmt.Sprint(seq))
			} else {
				ranges = append(ranges, fmt.Sprintf("%d-%d", seq, end))
			}
			seq = end
		}
		out = append(out, fmt.Sprintf("node %d pid %d: %d of %d missing (seqs %s; highest seen %d, departed %v)",
			id.node, id.pid, want-st.distinct, want, strings.Join(ranges, ","), st.maxSeen, st.departed))
	}
	return out
}

// has says whether data seq was received.
func (st *senderState) has(seq uint64) bool {
	w := seq / 64
	return w < uint64(len(st.got)) && st.got[w]&(uint64(1)<<(seq%64)) != 0
}

func (c *checker) orderHash() string { return hex.EncodeToString(c.order.Sum(nil)[:8]) }

// percentiles returns p50, p99 and max latency (nearest rank).
func (c *checker) percentiles() (p50, p99, mx time.Duration) {
	if len(c.lat) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(c.lat)
	slices.Sort(s)
	rank := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[min(max(i, 0), len(s)-1)]
	}
	return rank(0.50), rank(0.99), s[len(s)-1]
}
