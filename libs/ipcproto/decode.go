package ipcproto

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"slices"

	"github.com/vmihailenco/msgpack/v5"
)

// Why a pre-pass: msgpack/v5 (v5.4.1) sizes slices and strings from the
// length a header declares, before it has read the elements. Its own cap
// on that (the "disable allocation limit" flag) compares a flag of value 8
// with 1 and never applies, so the 8-byte frame 81 a1 6d dd NN NN NN NN (a
// map whose "m" value is an array32 header) made Decode allocate 8×n bytes
// for n elements it never received. checkFrame walks the msgpack bytes once,
// without allocating, and refuses any header that declares more elements
// or bytes than remain in the frame; after it, what the decoder allocates
// is a small multiple of the frame's size (at most 8 bytes of []uint32 per
// 1-byte element, plus fixed struct overhead).

// maxDepth bounds container nesting. A Msg nests three deep (Msg → Conf →
// Members); the bound keeps a frame of nothing but array headers from
// driving the decoder's recursive skip into millions of stack frames.
const maxDepth = 16

// checkFrame reports the first header in b that declares more than b holds,
// nesting deeper than maxDepth, a byte that is not msgpack, or bytes after
// the one top-level value.
func checkFrame(b []byte) error {
	// pending[i] is how many values level i still expects; level 0 is the
	// frame's single top-level value.
	var stack [maxDepth + 1]uint64
	stack[0] = 1
	depth := 0
	pos := 0
	for {
		for depth >= 0 && stack[depth] == 0 {
			depth--
		}
		if depth < 0 {
			break
		}
		if pos >= len(b) {
			return fmt.Errorf("frame ends at byte %d inside a value (%d more expected at depth %d)", pos, stack[depth], depth)
		}
		stack[depth]--
		at := pos
		size, items, err := header(b, pos)
		if err != nil {
			return err
		}
		pos += size.hdr
		rest := uint64(len(b) - pos)
		if size.body > rest {
			return fmt.Errorf("value at byte %d declares %d bytes, only %d remain", at, size.body, rest)
		}
		pos += int(size.body)
		if items == 0 {
			continue
		}
		// Every element takes at least one byte: a count above what is
		// left cannot be honest, whatever the elements are.
		if items > rest {
			return fmt.Errorf("container at byte %d declares %d elements, only %d bytes remain", at, items, rest)
		}
		if depth == maxDepth {
			return fmt.Errorf("container at byte %d nests deeper than %d", at, maxDepth)
		}
		depth++
		stack[depth] = items
	}
	if pos != len(b) {
		return fmt.Errorf("%d bytes after the message at byte %d", len(b)-pos, pos)
	}
	return nil
}

// span is the size of one msgpack header and of the raw bytes after it
// (string, binary or extension data; containers have no body of their own).
type span struct {
	hdr  int
	body uint64
}

// header decodes the header at b[pos]: its span and, for arrays and maps,
// the number of values inside (a map's pairs count twice).
func header(b []byte, pos int) (span, uint64, error) {
	c := b[pos]
	switch {
	case c <= 0x7f, c >= 0xe0, c == 0xc0, c == 0xc2, c == 0xc3: // fixints, nil, bool
		return span{hdr: 1}, 0, nil
	case c >= 0x80 && c <= 0x8f: // fixmap
		return span{hdr: 1}, 2 * uint64(c&0x0f), nil
	case c >= 0x90 && c <= 0x9f: // fixarray
		return span{hdr: 1}, uint64(c & 0x0f), nil
	case c >= 0xa0 && c <= 0xbf: // fixstr
		return span{hdr: 1, body: uint64(c & 0x1f)}, 0, nil
	}
	// Fixed-size scalars: the header byte plus that many bytes.
	switch c {
	case 0xcc, 0xd0:
		return span{hdr: 1, body: 1}, 0, nil
	case 0xcd, 0xd1:
		return span{hdr: 1, body: 2}, 0, nil
	case 0xca, 0xce, 0xd2:
		return span{hdr: 1, body: 4}, 0, nil
	case 0xcb, 0xcf, 0xd3:
		return span{hdr: 1, body: 8}, 0, nil
	case 0xd4, 0xd5, 0xd6, 0xd7, 0xd8: // fixext 1, 2, 4, 8, 16: type byte + data
		return span{hdr: 1, body: 1 + 1<<(c-0xd4)}, 0, nil
	}
	// Length-prefixed: the length's width, what it counts, and any extra
	// header byte (an extension's type).
	var width, extra int
	var elems uint64 // 0 for byte strings, 1 per array element, 2 per map pair
	switch c {
	case 0xc4, 0xd9: // bin8, str8
		width = 1
	case 0xc5, 0xda: // bin16, str16
		width = 2
	case 0xc6, 0xdb: // bin32, str32
		width = 4
	case 0xc7, 0xc8, 0xc9: // ext8, ext16, ext32
		width, extra = 1<<(c-0xc7), 1
	case 0xdc:
		width, elems = 2, 1
	case 0xdd:
		width, elems = 4, 1
	case 0xde:
		width, elems = 2, 2
	case 0xdf:
		width, elems = 4, 2
	default: // 0xc1 is never used
		return span{}, 0, fmt.Errorf("byte %d: %#02x is not a msgpack type", pos, c)
	}
	if len(b)-pos-1 < width+extra {
		return span{}, 0, fmt.Errorf("byte %d: header %#02x cut short", pos, c)
	}
	var n uint64
	switch width {
	case 1:
		n = uint64(b[pos+1])
	case 2:
		n = uint64(binary.BigEndian.Uint16(b[pos+1:]))
	case 4:
		n = uint64(binary.BigEndian.Uint32(b[pos+1:]))
	}
	h := 1 + width + extra
	if elems != 0 {
		return span{hdr: h}, elems * n, nil
	}
	return span{hdr: h, body: n}, 0, nil
}

// readFrame reads an n-byte frame body, growing the buffer as bytes arrive:
// a peer that sends a length prefix and then nothing holds a small buffer,
// not n bytes (n is already bounded by MaxFrame). The first step takes a
// 64 KiB multicast and its header whole, with no copy to a grown buffer.
func readFrame(r *bufio.Reader, n uint32) ([]byte, error) {
	const step = 256 << 10
	body := make([]byte, 0, min(int(n), step))
	for len(body) < int(n) {
		want := min(int(n)-len(body), max(step, len(body))) // at most doubles per round
		body = slices.Grow(body, want)
		got, err := io.ReadFull(r, body[len(body):len(body)+want])
		body = body[:len(body)+got]
		if err != nil {
			return nil, fmt.Errorf("ipcproto: read %d-byte frame (%d received): %w", n, len(body), err)
		}
	}
	return body, nil
}

// Unmarshal decodes msgpack bytes that came over the bus inside a frame
// (a daemon's handover state: doc.go, "Handing a daemon over") into v,
// after the same pre-pass as every frame: no header may declare more than
// b holds, so a corrupt or hostile state cannot make the decoder allocate
// more than a small multiple of its size.
func Unmarshal(b []byte, v any) error {
	if err := checkFrame(b); err != nil {
		return fmt.Errorf("ipcproto: %d bytes of msgpack: %w", len(b), err)
	}
	if err := msgpack.Unmarshal(b, v); err != nil {
		return fmt.Errorf("ipcproto: decode %d bytes: %w", len(b), err)
	}
	return nil
}
