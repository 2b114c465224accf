package ipcproto

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// allocBudget is what decoding one input may allocate: a fixed allowance
// (a Msg, msgpack's decoder state, error texts; the heap counter moves in
// whole spans) plus a small multiple of the input (a []uint32 element
// from a 1-byte fixint takes 4 bytes).
func allocBudget(n int) uint64 { return 256<<10 + 8*uint64(n) }

// allocated returns the heap bytes allocated while f ran.
func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// boundedAlloc fails t when f allocates more than allocBudget(n). The
// counter is process-wide and the fuzzing engine allocates beside f, so
// f runs up to three times and the least is judged: f is deterministic,
// and an allocation that f itself makes shows up every time.
func boundedAlloc(t testing.TB, what string, n int, f func()) {
	t.Helper()
	least := ^uint64(0)
	for range 3 {
		if least = min(least, allocated(f)); least <= allocBudget(n) {
			return
		}
	}
	t.Fatalf("%s: %d input bytes allocated %d bytes (budget %d)", what, n, least, allocBudget(n))
}

// memoryLimit keeps a fuzz run's heap under a soft limit, so that a leak
// across inputs shows up as GC pressure rather than a swapping machine.
func memoryLimit(f *testing.F) {
	old := debug.SetMemoryLimit(512 << 20)
	f.Cleanup(func() { debug.SetMemoryLimit(old) })
}

func frame(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// TestDecodeRefusesLyingLengths: every header that declares more than the
// frame holds is refused before msgpack allocates for it. The first rows
// are the frame found by FuzzDecode (issue 9 part 7c): a map whose "m"
// value is an array32 header, which made Decode allocate 8×n bytes.
func TestDecodeRefusesLyingLengths(t *testing.T) {
	for _, tc := range []struct {
		name, frame, want string
	}{
		{"array32 of 2^26 under m", "81 a1 6d dd 04 00 00 00", "declares 67108864 elements, only 0 bytes remain"},
		{"array32 of 2^32-1 under m", "81 a1 6d dd ff ff ff ff", "declares 4294967295 elements"},
		{"array32 of 2^26 under tr, after a kind", "82 a1 6b 07 a2 74 72 dd 04 00 00 00 01 02", "declares 67108864 elements, only 2 bytes remain"},
		{"array16 longer than the rest", "81 a1 6d dc ff ff 01 02 03", "declares 65535 elements, only 3 bytes remain"},
		{"map32 of 2^31 pairs", "df 80 00 00 00", "declares 4294967296 elements"},
		{"map16 under c", "81 a1 63 de 10 00", "declares 8192 elements, only 0 bytes remain"},
		{"str32 of 1 GiB", "81 a1 6e db 40 00 00 00 61", "declares 1073741824 bytes, only 1 remain"},
		{"bin32 payload of 4 GiB", "81 a1 70 c6 ff ff ff ff", "declares 4294967295 bytes, only 0 remain"},
		{"ext32 of 2 GiB", "81 a1 70 c9 80 00 00 00 01", "declares 2147483648 bytes, only 0 remain"},
		{"fixext16 cut short", "81 a1 70 d8 01 00", "declares 17 bytes, only 2 remain"},
		{"str8 header cut short", "81 a1 6e d9", "cut short"},
		{"array inside array", "91 dd 00 01 00 00", "declares 65536 elements, only 0 bytes remain"},
		{"nesting too deep", strings.Repeat("91 ", 40) + "01", "nests deeper than 16"},
		{"never-used byte", "81 a1 6b c1", "0xc1 is not a msgpack type"},
		{"two messages in one frame", "81 a1 6b 01 81 a1 6b 01", "4 bytes after the message"},
		{"empty frame", "", "frame ends at byte 0"},
		{"array missing an element", "92 91 01", "frame ends at byte 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := frame(tc.frame)
			var err error
			boundedAlloc(t, tc.name, len(b), func() { _, err = Decode(b) })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(% x): %v, want an error containing %q", b, err, tc.want)
			}
		})
	}
}

// TestCheckFrameAcceptsMsgpack: whatever msgpack/v5 encodes passes the
// pre-pass unchanged, including kinds Msg never uses (floats, extensions,
// nested maps), so the check refuses lies and nothing else.
func TestCheckFrameAcceptsMsgpack(t *testing.T) {
	values := []any{
		nil, true, false, 0, -1, -33, 127, 128, 1 << 16, -1 << 40, uint64(1) << 63, 1.5, float32(2.5),
		"", "x", strings.Repeat("s", 31), strings.Repeat("s", 300), strings.Repeat("s", 70000),
		[]byte{}, bytes.Repeat([]byte{1}, 300), bytes.Repeat([]byte{1}, 70000),
		[]uint32{}, make([]uint32, 15), make([]uint32, 16), make([]uint32, 70000),
		map[string]any{"a": []any{1, "b", map[string]any{"c": nil}}},
		map[string]int{"a": 1, "b": 2},
		time.Unix(1, 5), time.Unix(1<<40, 0),
		&Msg{Kind: KindConfChg, Conf: &Conf{Type: Regular, Ring: Ring{Rep: 1, Seq: 2}, Members: []uint32{1, 2, 3}, Left: []uint32{4}}},
		&Msg{Kind: KindMcast, ID: 1 << 60, Payload: bytes.Repeat([]byte{0xab}, 1<<20)},
	}
	for _, v := range values {
		b, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkFrame(b); err != nil {
			t.Errorf("%T %.40v: % .32x: %v", v, v, b, err)
		}
	}
	// ext types of every width
	for _, n := range []int{1, 2, 4, 8, 16, 3, 300, 70000} {
		var buf bytes.Buffer
		enc := msgpack.NewEncoder(&buf)
		if err := enc.EncodeExtHeader(5, n); err != nil {
			t.Fatal(err)
		}
		buf.Write(make([]byte, n))
		if err := checkFrame(buf.Bytes()); err != nil {
			t.Errorf("ext of %d bytes: %v", n, err)
		}
	}
}

// TestRecvGrowsWithTheBytesThatArrive: a peer that sends only a length
// prefix (the largest allowed) does not make Recv hold MaxFrame bytes.
func TestRecvGrowsWithTheBytesThatArrive(t *testing.T) {
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], MaxFrame)
	in := append(hdr[:], 0x81, 0xa1)
	c := &Conn{r: bufioReader(in)}
	var err error
	boundedAlloc(t, "recv", 64<<10, func() { _, err = c.Recv() })
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "2 received") {
		t.Fatalf("truncated max-size frame: %v", err)
	}
}

func seeds(f *testing.F) {
	for _, m := range []*Msg{
		{Kind: KindAttach, Name: "cpg", Service: 2},
		{Kind: KindConfChg, Conf: &Conf{Members: []uint32{1}}},
		{Kind: KindMcast, ID: 1, Payload: []byte("abc")},
		{Kind: KindSyncInit, Ring: &Ring{Rep: 1, Seq: 2}, Trans: []uint32{1}, Members: []uint32{1, 2}},
		{Kind: KindDeliverBatch, Batch: Batch{{From: 1, Payload: []byte("a")}, {From: 2, Swapped: true}}},
	} {
		b, _ := Encode(m)
		f.Add(b)
	}
	f.Add(frame("81 a1 6d dd 04 00 00 00")) // issue 9 part 7c
	f.Add(frame("81 a1 6d dd ff ff ff ff"))
	f.Add(frame("81 a1 70 c6 ff ff ff ff"))
}

// FuzzDecode: no input panics, every input's allocations stay within
// allocBudget, and what decodes re-encodes.
func FuzzDecode(f *testing.F) {
	seeds(f)
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m *Msg
		var err error
		boundedAlloc(t, "Decode", len(b), func() { m, err = Decode(b) })
		if err != nil {
			return
		}
		if _, err := Encode(m); err != nil {
			t.Fatalf("decoded message does not re-encode: %v", err)
		}
	})
}

// FuzzRecv feeds a byte stream (length prefixes and bodies) to Recv until
// it fails: allocations stay within the budget for the bytes received.
func FuzzRecv(f *testing.F) {
	seeds(f)
	f.Add(frame("00 40 00 00 81 a1"))
	memoryLimit(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		// the fuzzer's bytes as one framed message, then as a raw stream
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
		for _, in := range [][]byte{append(hdr[:], body...), body} {
			boundedAlloc(t, "Recv", len(in)+64<<10, func() {
				c := &Conn{r: bufioReader(in)}
				for range 64 {
					if _, err := c.Recv(); err != nil {
						return
					}
				}
			})
		}
	})
}

// TestUnmarshalBounded: a handover state whose header declares 2³² − 1
// elements is refused before anything is allocated for them (msgpack
// alone would try 32 GB).
func TestUnmarshalBounded(t *testing.T) {
	var v struct {
		E []uint64 `msgpack:"e"`
	}
	err := Unmarshal([]byte{0x81, 0xa1, 0x65, 0xdd, 0xff, 0xff, 0xff, 0xff}, &v)
	if err == nil || !strings.Contains(err.Error(), "declares 4294967295 elements") {
		t.Fatalf("Unmarshal of an array32 bomb: %v", err)
	}
	if err := Unmarshal([]byte{0x81, 0xa1, 0x65, 0x92, 0x01, 0x02}, &v); err != nil || len(v.E) != 2 {
		t.Fatalf("Unmarshal of a small map: %v %v", v, err)
	}
}
