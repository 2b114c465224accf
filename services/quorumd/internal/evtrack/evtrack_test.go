package evtrack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestPersists(t *testing.T) {
	dir := t.TempDir()
	f, v, err := Open(dir)
	if err != nil || v != 0 {
		t.Fatalf("first open: %d %v", v, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil || !bytes.Equal(b, []byte{0, 0, 0, 0}) {
		t.Fatalf("created file %x %v", b, err)
	}
	if st, _ := os.Stat(f.Path()); st.Mode().Perm() != 0o700 {
		t.Errorf("mode %v", st.Mode())
	}
	for _, x := range []uint32{3, 5, 0x01020304} {
		if err := f.Store(x); err != nil {
			t.Fatal(err)
		}
		// A restart reads what was stored last.
		_, got, err := Open(dir)
		if err != nil || got != x {
			t.Fatalf("after Store(%d): reopen gives %d %v", x, got, err)
		}
	}
	if b, _ := os.ReadFile(f.Path()); !bytes.Equal(b, []byte{4, 3, 2, 1}) {
		t.Errorf("on-disk bytes %x, want native little-endian 04030201", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestShortFileIsReset(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte{7, 0}, 0o600); err != nil {
		t.Fatal(err)
	}
	_, v, err := Open(dir)
	if err != nil || v != 0 {
		t.Fatalf("short file: %d %v", v, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, FileName)); !bytes.Equal(b, []byte{0, 0, 0, 0}) {
		t.Errorf("short file rewritten as %x", b)
	}
}

func TestUnusableDirectory(t *testing.T) {
	if _, _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Fatal("a state directory that does not exist was accepted")
	}
}
