// Package snapcodec is the encoding under the pure protocol cores'
// snapshots (cpgd's cpg core, quorumd's votequorum core): the state a
// daemon hands to its successor, read back by Restore.
//
// It is hand-written on encoding/binary's uvarints rather than msgpack:
//   - one state has one encoding, so Snapshot(Restore(b)) == b, which the
//     cores' handover tests and fuzz targets check byte for byte: every
//     integer is a minimal uvarint and Dec refuses a longer one, a flag is
//     one byte 0 or 1, bytes and strings are a length and their bytes, a
//     duration is its nanoseconds;
//   - the bytes come from another process: every count is checked against
//     the bytes left (each element takes at least a given number of bytes)
//     before anything is allocated, so a decoder allocates at most a small
//     multiple of its input's size, every length and value is checked
//     against its bound, and every error names the field and its offset;
//   - the cores keep depending on nothing outside the repository.
//
// Each core keeps its own layout (magic, version, field order) and its
// own checks of what the values mean; this package only reads and writes
// the values.
package snapcodec

import (
	"encoding/binary"
	"fmt"
	"time"
)

// Enc appends a snapshot.
type Enc struct{ b []byte }

// NewEnc returns an Enc appending to b (typically the snapshot's magic).
func NewEnc(b []byte) *Enc { return &Enc{b: b} }

// Bytes returns what was appended so far, including NewEnc's b.
func (e *Enc) Bytes() []byte { return e.b }

// UV appends v as a minimal uvarint.
func (e *Enc) UV(v uint64) { e.b = binary.AppendUvarint(e.b, v) }

// U32 appends v as a uvarint.
func (e *Enc) U32(v uint32) { e.UV(uint64(v)) }

// Count appends a number of elements.
func (e *Enc) Count(n int) { e.UV(uint64(n)) }

// Str appends a length and the string's bytes.
func (e *Enc) Str(s string) { e.Count(len(s)); e.b = append(e.b, s...) }

// Data appends a length and the bytes.
func (e *Enc) Data(p []byte) { e.Count(len(p)); e.b = append(e.b, p...) }

// Dur appends a duration as its nanoseconds (a negative one as its
// two's complement, which Dec's bound refuses).
func (e *Enc) Dur(d time.Duration) { e.UV(uint64(d)) }

// IDs appends a count and each id.
func (e *Enc) IDs(l []uint32) {
	e.Count(len(l))
	for _, v := range l {
		e.U32(v)
	}
}

// Flag appends one byte, 1 for true, 0 for false.
func (e *Enc) Flag(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

// Flags appends each flag.
func (e *Enc) Flags(vs ...bool) {
	for _, v := range vs {
		e.Flag(v)
	}
}

// Dec reads a snapshot. The first error sticks: later reads return zero
// values (counts 0, so loops end), and the caller checks Err once per
// element, or wraps it with In to add where it was.
type Dec struct {
	b   []byte
	off int
	err error
}

// NewDec returns a Dec reading b from offset off (typically past the
// magic, which the caller has checked).
func NewDec(b []byte, off int) *Dec { return &Dec{b: b, off: off} }

// Err is the first error, or nil.
func (d *Dec) Err() error { return d.err }

// Left is the number of bytes not read yet.
func (d *Dec) Left() int { return len(d.b) - d.off }

func (d *Dec) fail(field, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%s at byte %d: %s", field, d.off, fmt.Sprintf(format, args...))
	}
}

// In wraps the sticky error with the element it happened in: nil when
// there is none.
func (d *Dec) In(format string, args ...any) error {
	if d.err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), d.err)
}

// UV reads a minimal uvarint.
func (d *Dec) UV(field string) uint64 {
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

// UpTo reads a number of at most limit.
func (d *Dec) UpTo(field string, limit uint64) uint64 {
	start := d.off
	v := d.UV(field)
	if v > limit {
		d.off = start // errors name where the field starts
		d.fail(field, "%d exceeds %d", v, limit)
		return 0
	}
	return v
}

// U32 reads a number that fits 32 bits.
func (d *Dec) U32(field string) uint32 {
	start := d.off
	v := d.UV(field)
	if v > 1<<32-1 {
		d.off = start
		d.fail(field, "%d exceeds 32 bits", v)
		return 0
	}
	return uint32(v)
}

// Dur reads a duration of at most limit (and so not negative).
func (d *Dec) Dur(field string, limit time.Duration) time.Duration {
	return time.Duration(d.UpTo(field, uint64(max(limit, 0))))
}

// Flag reads one byte, 0 or 1.
func (d *Dec) Flag(field string) bool {
	if d.err != nil {
		return false
	}
	if d.Left() < 1 {
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

// Count reads a number of elements each at least minSize (> 0) bytes
// long: more than the bytes left can hold is refused before the caller
// allocates anything.
func (d *Dec) Count(field string, minSize int) int {
	return d.count(field, minSize, ^uint64(0))
}

// CountUpTo is Count of at most limit elements; a count over limit is
// refused as such before it is compared with the bytes left.
func (d *Dec) CountUpTo(field string, minSize, limit int) int {
	return d.count(field, minSize, uint64(max(limit, 0)))
}

func (d *Dec) count(field string, minSize int, limit uint64) int {
	start := d.off
	n := d.UV(field)
	switch left := d.Left(); {
	case d.err != nil:
		return 0
	case n > limit:
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

// raw reads a length and that many bytes, at most maxLen, without
// copying.
func (d *Dec) raw(field string, maxLen int) []byte {
	start := d.off
	n := d.Count(field, 1)
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

// Str reads a string of at most maxLen bytes (copied: what is restored
// keeps nothing of the caller's buffer).
func (d *Dec) Str(field string, maxLen int) string { return string(d.raw(field, maxLen)) }

// Data reads a byte slice, copied; empty is nil.
func (d *Dec) Data(field string) []byte {
	p := d.raw(field, d.Left())
	if len(p) == 0 {
		return nil
	}
	return append([]byte(nil), p...)
}

// IDs reads a count of at most limit and that many 32-bit ids; nil when
// empty.
func (d *Dec) IDs(field string, limit int) []uint32 {
	n := d.CountUpTo(field, 1, limit)
	if n == 0 {
		return nil
	}
	l := make([]uint32, n)
	for i := range l {
		l[i] = d.U32(field)
	}
	return l
}
