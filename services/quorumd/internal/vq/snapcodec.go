package vq

import (
	"encoding/binary"
	"fmt"
	"time"
)

// The snapshot codec (snapshot.go) is hand-written on encoding/binary's
// uvarints, like cpgd's core snapshot:
//   - the core's state is unexported fields: a mirror struct for msgpack
//     would be a second copy of the state to keep in step;
//   - the bytes come from another process: every count is checked against
//     the bytes left before anything is allocated, every length and value
//     against its bound, and every error names the field and its offset;
//   - the core keeps depending on nothing outside the repository but
//     go-hclog.
//
// Every integer is a minimal uvarint (Restore refuses a longer one, so one
// state has one encoding and Snapshot(Restore(b)) == b), a flag is one
// byte 0 or 1, a string is a length and its bytes, a duration is its
// nanoseconds.

type enc struct{ b []byte }

func (e *enc) uv(v uint64)         { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) u32(v uint32)        { e.uv(uint64(v)) }
func (e *enc) count(n int)         { e.uv(uint64(n)) }
func (e *enc) str(s string)        { e.count(len(s)); e.b = append(e.b, s...) }
func (e *enc) dur(d time.Duration) { e.uv(uint64(d)) }
func (e *enc) ids(l []uint32)      { e.count(len(l)); e.each(l) }
func (e *enc) each(l []uint32) {
	for _, v := range l {
		e.u32(v)
	}
}
func (e *enc) flags(vs ...bool) {
	for _, v := range vs {
		e.flag(v)
	}
}
func (e *enc) flag(v bool) { e.b = append(e.b, b2u8(v)) }

// dec reads a snapshot. The first error sticks: later reads return zero
// values (counts 0, so loops end).
type dec struct {
	b   []byte
	off int
	err error
}

func (d *dec) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %s", field, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *dec) left() int { return len(d.b) - d.off }

func (d *dec) uv(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, "truncated")
		return 0
	case n < 0:
		d.fail(field, "number overflows 64 bits")
		return 0
	case n != len(binary.AppendUvarint(nil, v)):
		d.fail(field, "number %d not minimally encoded", v)
		return 0
	}
	d.off += n
	return v
}

// upTo reads a number of at most limit.
func (d *dec) upTo(field string, limit uint64) uint64 {
	start := d.off
	v := d.uv(field)
	if v > limit {
		d.off = start // errors name where the field starts
		d.fail(field, "%d exceeds %d", v, limit)
		return 0
	}
	return v
}

func (d *dec) u32(field string) uint32 { return uint32(d.upTo(field, 1<<32-1)) }

// maxSnapDuration bounds every duration: the configuration gives them in
// 32-bit milliseconds.
const maxSnapDuration = time.Duration(1<<32-1) * time.Millisecond

func (d *dec) dur(field string) time.Duration {
	return time.Duration(d.upTo(field, uint64(maxSnapDuration)))
}

func (d *dec) flag(field string) bool {
	if d.err != nil {
		return false
	}
	if d.left() < 1 {
		d.fail(field, "truncated")
		return false
	}
	v := d.b[d.off]
	if v > 1 {
		d.fail(field, "flag byte %d, want 0 or 1", v)
		return false
	}
	d.off++
	return v == 1
}

// count reads a number of elements each at least minSize bytes long, at
// most limit: more than the bytes left can hold is refused before any
// allocation.
func (d *dec) count(field string, minSize, limit int) int {
	start := d.off
	n := d.uv(field)
	switch left := d.left(); {
	case d.err != nil:
		return 0
	case n > uint64(limit):
		d.off = start
		d.fail(field, "count %d exceeds %d", n, limit)
		return 0
	case n > uint64(left/minSize):
		d.off = start
		d.fail(field, "count %d, but only %d bytes left", n, left)
		return 0
	}
	return int(n)
}

// ids reads a list of node ids, nil when empty.
func (d *dec) ids(field string, limit int) []uint32 {
	n := d.count(field, 1, limit)
	if n == 0 {
		return nil
	}
	l := make([]uint32, n)
	for i := range l {
		l[i] = d.u32(field)
	}
	return l
}

// str reads a string of at most maxLen bytes (copied).
func (d *dec) str(field string, maxLen int) string {
	n := d.count(field, 1, maxLen)
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}
