package pg

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

var be = binary.BigEndian

// rx is one delivery to the receiver under test: a frame from a node.
type rx struct {
	from    uint32
	frame   []byte
	swapped bool
	bad     bool // Receive must return an error
}

type recorder struct{ got []string }

func (r *recorder) deliver(from uint32, msg []byte, swapped bool) error {
	r.got = append(r.got, fmt.Sprintf("%d:%s", from, msg))
	return nil
}

func TestReceiverTable(t *testing.T) {
	cases := []struct {
		name   string
		in     []rx
		want   []string
		broken uint64
		bad    uint64
	}{
		{
			name: "packed pieces",
			in:   []rx{{from: 1, frame: mkFrame(le, 0, 0, "one", "two", "three")}},
			want: []string{"1:one", "1:two", "1:three"},
		},
		{
			name: "fragmented over three frames",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "he")},
				{from: 1, frame: mkFrame(le, 2, 1, "ll")},
				{from: 1, frame: mkFrame(le, 0, 2, "o")},
			},
			want: []string{"1:hello"},
		},
		{
			name: "prefix, complete and trailing pieces in one frame",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "x", "ab")},
				{from: 1, frame: mkFrame(le, 1, 1, "cd", "y", "ef")},
				{from: 1, frame: mkFrame(le, 0, 1, "gh", "z")},
			},
			want: []string{"1:x", "1:abcd", "1:y", "1:efgh", "1:z"},
		},
		{
			name: "two senders interleaved",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "a1")},
				{from: 2, frame: mkFrame(le, 1, 0, "b1")},
				{from: 2, frame: mkFrame(le, 0, 1, "b2")},
				{from: 1, frame: mkFrame(le, 0, 1, "a2", "a3")},
			},
			want: []string{"2:b1b2", "1:a1a2", "1:a3"},
		},
		{
			name: "byte-swapped sender",
			in: []rx{
				{from: 3, frame: mkFrame(be, 1, 0, "p", strings.Repeat("q", 300)), swapped: true},
				{from: 3, frame: mkFrame(be, 0, 1, "r"), swapped: true},
			},
			want: []string{"3:p", "3:" + strings.Repeat("q", 300) + "r"},
		},
		{
			name: "continuation mismatch drops only the broken message",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "lost")},
				{from: 1, frame: mkFrame(le, 0, 7, "tail", "kept")},
				{from: 1, frame: mkFrame(le, 0, 0, "next")},
			},
			want:   []string{"1:kept", "1:next"},
			broken: 1,
		},
		{
			name: "continuation with nothing buffered: discard until a clean start",
			in: []rx{
				{from: 1, frame: mkFrame(le, 4, 3, "mid")},
				{from: 1, frame: mkFrame(le, 5, 4, "mid2")},
				{from: 1, frame: mkFrame(le, 0, 5, "end", "clean")},
			},
			want:   []string{"1:clean"},
			broken: 1,
		},
		{
			name: "clean start abandons a partial message",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "half")},
				{from: 1, frame: mkFrame(le, 0, 0, "new")},
			},
			want:   []string{"1:new"},
			broken: 1,
		},
		{
			name: "bad frames are dropped and leave the assembly alone",
			in: []rx{
				{from: 1, frame: mkFrame(le, 1, 0, "ab")},
				{from: 1, frame: append(mkFrame(le, 0, 1, "cd"), 'x'), bad: true},
				{from: 1, frame: mkFrame(le, 0, 1, "cd")[:9], bad: true},
				{from: 1, frame: mkFrame(le, 0, 0), bad: true},
				{from: 1, frame: []byte{0, 0, 0}, bad: true},
				{from: 1, frame: mkFrame(be, 0, 1, "cd"), bad: true}, // wrong order: count reads 256
				{from: 1, frame: mkFrame(le, 0, 1, "cd")},
			},
			want: []string{"1:abcd"},
			bad:  5,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			r := NewReceiver(rec.deliver)
			for i, in := range tc.in {
				err := r.Receive(in.from, in.frame, in.swapped)
				if (err != nil) != in.bad {
					t.Fatalf("frame %d: err = %v, want error %v", i, err, in.bad)
				}
			}
			if !reflect.DeepEqual(rec.got, tc.want) {
				t.Fatalf("delivered %q, want %q", rec.got, tc.want)
			}
			st := r.Stats()
			if st.Broken != tc.broken || st.BadFrames != tc.bad {
				t.Fatalf("stats %+v, want broken %d bad %d", st, tc.broken, tc.bad)
			}
		})
	}
}

func TestReceiverLeftNodeDiscard(t *testing.T) {
	var rec recorder
	r := NewReceiver(rec.deliver)
	mustRx(t, r, 2, mkFrame(le, 1, 0, "partial-from-2"))
	mustRx(t, r, 3, mkFrame(le, 1, 0, "partial-from-3"))
	r.ConfChange([]uint32{2, 9})
	if r.Pending(2) != 0 || r.Pending(3) == 0 || r.Stats().Dropped != 1 {
		t.Fatalf("after left=[2]: pending(2)=%d pending(3)=%d stats %+v", r.Pending(2), r.Pending(3), r.Stats())
	}
	// Node 2 rejoins with a fresh stream; the old prefix must not leak in.
	mustRx(t, r, 2, mkFrame(le, 1, 0, "fresh-"))
	mustRx(t, r, 2, mkFrame(le, 0, 1, "start"))
	mustRx(t, r, 3, mkFrame(le, 0, 1, "+rest"))
	want := []string{"2:fresh-start", "3:partial-from-3+rest"}
	if !reflect.DeepEqual(rec.got, want) || r.Stats().Broken != 0 {
		t.Fatalf("delivered %q (stats %+v), want %q", rec.got, r.Stats(), want)
	}
}

func TestReceiverTransAckSets(t *testing.T) {
	var rec recorder
	r := NewReceiver(rec.deliver)
	mustRx(t, r, 1, mkFrame(le, 1, 0, "old-"))
	r.SetWaitingTransAck(true)
	mustRx(t, r, 1, mkFrame(le, 1, 0, "sy"))
	mustRx(t, r, 1, mkFrame(le, 0, 1, "nc"))
	r.SetWaitingTransAck(false)
	mustRx(t, r, 1, mkFrame(le, 0, 1, "message"))
	want := []string{"1:sync", "1:old-message"}
	if !reflect.DeepEqual(rec.got, want) {
		t.Fatalf("delivered %q, want %q", rec.got, want)
	}
	r.SetWaitingTransAck(true)
	mustRx(t, r, 4, mkFrame(le, 1, 0, "x"))
	r.ConfChange([]uint32{4})
	r.SetWaitingTransAck(false)
	if r.Stats().Dropped != 1 {
		t.Fatalf("left node's trans-set buffer not dropped: %+v", r.Stats())
	}
}

func TestReceiverOversize(t *testing.T) {
	var rec recorder
	r := NewReceiver(rec.deliver)
	chunk := strings.Repeat("z", 60000)
	frag := uint8(1)
	mustRx(t, r, 1, mkFrame(le, frag, 0, chunk))
	for sent := len(chunk); sent <= MaxAssembleSize; sent += len(chunk) {
		next := frag%255 + 1
		mustRx(t, r, 1, mkFrame(le, next, frag, chunk))
		frag = next
	}
	mustRx(t, r, 1, mkFrame(le, 0, frag, "end", "after"))
	if len(rec.got) != 1 || rec.got[0] != "1:after" || r.Stats().Oversize != 1 || r.Stats().Broken != 0 {
		t.Fatalf("delivered %d messages, stats %+v", len(rec.got), r.Stats())
	}
}

func TestReceiverJoinsDeliverErrors(t *testing.T) {
	var g Groups
	r := NewReceiver(g.Deliver)
	err := r.Receive(5, mkFrame(le, 0, 0, "\x01", "\x01\x00\x01\x00a"), false)
	if err == nil || !strings.Contains(err.Error(), "node 5") {
		t.Fatalf("err = %v, want a group header error naming node 5", err)
	}
	if g.Stats().BadHeader != 1 || g.Stats().Unmatched != 1 {
		t.Fatalf("group stats %+v", g.Stats())
	}
}

func mustRx(t *testing.T, r *Receiver, from uint32, frame []byte) {
	t.Helper()
	if err := r.Receive(from, frame, false); err != nil {
		t.Fatal(err)
	}
}
