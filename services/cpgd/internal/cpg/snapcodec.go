package cpg

import (
	"encoding/binary"
	"fmt"
)

// The snapshot codec is hand-written on encoding/binary's uvarints rather
// than msgpack:
//   - the core's state is unexported fields and maps: msgpack would need a
//     mirror struct for each and sorted copies of every map to give the
//     same bytes for the same state, which the handover tests compare;
//   - the bytes come from another process: every count is checked against
//     the bytes left (each element takes at least one byte per field)
//     before anything is allocated, so Restore allocates at most a small
//     multiple of its input's size, and every error names the field and
//     its offset;
//   - cpgd's go.mod lists msgpack as an indirect requirement only; the
//     core keeps depending on nothing outside the repository.
//
// The layout is versioned (snapshotVersion after a magic string): the
// daemon's successor may be a newer build.
//
// Every integer is a minimal uvarint (Restore refuses a longer one, so the
// encoding of a state is unique and Snapshot(Restore(b)) == b), a flag is
// one byte 0 or 1, bytes and strings are a length and their bytes.

// enc appends a snapshot.
type enc struct{ b []byte }

func (e *enc) uv(v uint64)   { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) u32(v uint32)  { e.uv(uint64(v)) }
func (e *enc) count(n int)   { e.uv(uint64(n)) }
func (e *enc) str(s string)  { e.count(len(s)); e.b = append(e.b, s...) }
func (e *enc) data(p []byte) { e.count(len(p)); e.b = append(e.b, p...) }

func (e *enc) flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// dec reads a snapshot. The first error sticks: later reads return zero
// values (counts 0, so loops end), and the caller checks err once per
// element to add where it was.
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

func (d *dec) u32(field string) uint32 {
	start := d.off
	v := d.uv(field)
	if v > 1<<32-1 {
		d.off = start // errors name where the field starts
		d.fail(field, "%d exceeds 32 bits", v)
		return 0
	}
	return uint32(v)
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

// count reads a number of elements each at least minSize bytes long: more
// than the bytes left can hold is refused before any allocation.
func (d *dec) count(field string, minSize int) int {
	start := d.off
	n := d.uv(field)
	if left := d.left(); n > uint64(left/minSize) {
		d.off = start
		d.fail(field, "count %d, but only %d bytes left", n, left)
		return 0
	}
	return int(n)
}

// raw reads a length and that many bytes, at most maxLen.
func (d *dec) raw(field string, maxLen int) []byte {
	start := d.off
	n := d.count(field, 1)
	if n > maxLen {
		d.off = start
		d.fail(field, "%d bytes, at most %d allowed", n, maxLen)
		return nil
	}
	if d.err != nil {
		return nil
	}
	p := d.b[d.off : d.off+n]
	d.off += n
	return p
}

// str reads a string of at most maxLen bytes (copied: the restored core
// keeps nothing of the caller's buffer).
func (d *dec) str(field string, maxLen int) string { return string(d.raw(field, maxLen)) }

// data reads a byte slice, copied; empty is nil, as cpgmsg decodes an
// empty payload.
func (d *dec) data(field string) []byte {
	p := d.raw(field, d.left())
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

// in wraps the sticky error with the element it happened in.
func (d *dec) in(format string, args ...any) error {
	if d.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), d.err)
}
