package shmring

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func newPair(t testing.TB, maxMsg int) (server, client *Ring) {
	t.Helper()
	dir := t.TempDir()
	s, err := Create(filepath.Join(dir, "qb-request-test"), maxMsg, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(s.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Unmap()
		s.Unlink()
		s.Unmap()
	})
	return s, c
}

// TestHeaderLayout checks the bytes a C libqb peer reads (spec §6.2).
func TestHeaderLayout(t *testing.T) {
	s, c := newPair(t, 1<<20)
	hdr, err := os.ReadFile(s.HdrPath)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(s.DataPath)
	le := binary.LittleEndian
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"header file size", int64(len(hdr)), 8252},
		{"data file size", st.Size(), 1052672},
		{"word_size", int64(le.Uint32(hdr[8:])), 1052672 / 4},
		{"write_pt", int64(le.Uint32(hdr[0:])), 0},
		{"read_pt", int64(le.Uint32(hdr[4:])), 0},
		{"ref_count after attach", int64(int32(le.Uint32(hdr[8204:]))), 2},
		{"sem value", int64(le.Uint64(hdr[8208:])), 0},
		{"sem private (128 = process-shared)", int64(int32(le.Uint32(hdr[8216:]))), 128},
		{"user data", int64(le.Uint32(hdr[8240:])), 0},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if p := string(bytes.TrimRight(hdr[12:12+4096], "\x00")); p != s.HdrPath {
		t.Errorf("hdr_path %q", p)
	}
	if p := string(bytes.TrimRight(hdr[4108:4108+4096], "\x00")); p != s.DataPath || c.DataPath != s.DataPath {
		t.Errorf("data_path %q / client %q", p, c.DataPath)
	}
	if err := s.Detach(); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.RefCount(); n != 0 {
		t.Errorf("ref_count after detach %d", n)
	}
}

func TestDataSize(t *testing.T) {
	for _, tc := range []struct{ max, want int }{
		{1 << 20, 1052672}, {12328, 16384}, {4096 - 13, 4096}, {4096 - 12, 8192},
	} {
		if got := DataSize(tc.max); got != tc.want {
			t.Errorf("DataSize(%d) = %d, want %d", tc.max, got, tc.want)
		}
	}
}

func TestWriteReadWrap(t *testing.T) {
	s, c := newPair(t, 12328) // 16 KiB ring: wraps quickly
	for i := 0; i < 5000; i++ {
		msg := bytes.Repeat([]byte{byte(i)}, 1+(i*37)%5000)
		if err := c.Write(msg); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		got, err := s.Read(12328)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("read %d: %v (len %d want %d)", i, err, len(got), len(msg))
		}
	}
	if _, err := s.Read(100); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty ring: %v", err)
	}
}

func TestFullAndTooBig(t *testing.T) {
	s, c := newPair(t, 12328)
	n := 0
	for ; ; n++ {
		err := c.Write(make([]byte, 1000))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n != 16 { // 16384 bytes, 1012 per chunk, one word kept free
		t.Fatalf("%d chunks fit", n)
	}
	if _, err := s.Read(999); !errors.Is(err, ErrTooBig) {
		t.Fatalf("read into a small limit: %v", err)
	}
	for i := 0; i < n; i++ {
		if _, err := s.Read(1000); err != nil {
			t.Fatalf("drain %d: %v", i, err)
		}
	}
	if err := c.Write(make([]byte, 16384)); !errors.Is(err, ErrTooBig) {
		t.Fatalf("oversize write: %v", err)
	}
}

func TestWaitRead(t *testing.T) {
	s, c := newPair(t, 12328)
	if _, err := s.WaitRead(100, 10*time.Millisecond); !errors.Is(err, ErrEmpty) {
		t.Fatalf("timeout: %v", err)
	}
	wrote := make(chan error, 1)
	go func() {
		time.Sleep(20 * time.Millisecond)
		wrote <- c.Write([]byte("wake"))
	}()
	got, err := s.WaitRead(100, 10*time.Second)
	if werr := <-wrote; werr != nil {
		t.Fatal(werr)
	}
	if err != nil || string(got) != "wake" {
		t.Fatalf("%q %v", got, err)
	}
	if w := s.sem().value(); w != 0 {
		t.Fatalf("sem value %d", w)
	}
	if d := *s.sem().data >> 32; d != 0 {
		t.Fatalf("waiters left registered: %d", d)
	}
}

// TestHostilePeer: corrupt pointers, bad magic, truncated files give
// errors, never a crash.
func TestHostilePeer(t *testing.T) {
	le := binary.LittleEndian
	t.Run("pointer beyond ring", func(t *testing.T) {
		s, c := newPair(t, 12328)
		c.Write([]byte("x"))
		le.PutUint32(c.hdr[offReadPt:], 1<<30)
		if _, err := s.Read(100); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read: %v", err)
		}
		if err := s.Write([]byte("y")); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("write: %v", err)
		}
	})
	t.Run("bad magic", func(t *testing.T) {
		s, c := newPair(t, 12328)
		c.Write([]byte("x"))
		le.PutUint32(c.data[4:], 0xdeadbeef)
		if _, err := s.Read(100); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("huge length", func(t *testing.T) {
		s, c := newPair(t, 12328)
		c.Write([]byte("x"))
		le.PutUint32(c.data[0:], 0xfffffff0)
		if _, err := s.Read(1 << 30); !errors.Is(err, ErrTooBig) {
			t.Fatalf("read: %v", err)
		}
	})
	t.Run("truncated data file", func(t *testing.T) {
		s, c := newPair(t, 12328)
		c.Write([]byte("x"))
		if err := os.Truncate(s.DataPath, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Read(100); !errors.Is(err, ErrFault) {
			t.Fatalf("read: %v", err)
		}
		if err := s.Write([]byte("y")); !errors.Is(err, ErrFault) {
			t.Fatalf("write: %v", err)
		}
	})
	t.Run("truncated header file", func(t *testing.T) {
		s, _ := newPair(t, 12328)
		if err := os.Truncate(s.HdrPath, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.RefCount(); !errors.Is(err, ErrFault) {
			t.Fatalf("ref_count: %v", err)
		}
		if err := s.Write([]byte("y")); !errors.Is(err, ErrFault) {
			t.Fatalf("write: %v", err)
		}
		if _, err := Open(s.Name); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("open truncated: %v", err)
		}
	})
}

// allocated returns the heap bytes allocated while f ran.
func allocated(f func()) uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	before := s[0].Value.Uint64()
	f()
	metrics.Read(s)
	return s[0].Value.Uint64() - before
}

// FuzzRead fills a ring's header words and data with arbitrary bytes (what
// a hostile peer can do) and reads: errors are fine, panics are not.
func FuzzRead(f *testing.F) {
	f.Add(uint32(0), uint32(5), uint32(3), []byte{3, 0, 0, 0, 0xA1, 0xA1, 0xA1, 0xA1, 'a', 'b', 'c'})
	f.Add(uint32(4095), uint32(4095), uint32(1), []byte{0xff, 0xff, 0xff, 0xff})
	s, c := newPair(f, 12328)
	old := debug.SetMemoryLimit(512 << 20)
	f.Cleanup(func() { debug.SetMemoryLimit(old) })
	f.Fuzz(func(t *testing.T, rd, wr, semv uint32, data []byte) {
		le := binary.LittleEndian
		le.PutUint32(c.hdr[offReadPt:], rd)
		le.PutUint32(c.hdr[offWritePt:], wr)
		le.PutUint64(c.hdr[offSem:], uint64(semv%8))
		copy(c.data[int(rd%s.words)*4:], data)
		var msg []byte
		var err error
		// A chunk's length word is the peer's: what Read allocates must
		// stay within the limit it was given, whatever the word says.
		if got := allocated(func() { msg, err = s.Read(12328) }); got > 4<<20 { // generous: the counter is process-wide
			t.Fatalf("Read allocated %d bytes", got)
		}
		if err == nil && len(msg) > 12328 {
			t.Fatalf("read %d bytes", len(msg))
		}
		s.Write(data[:min(len(data), 100)])
	})
}
