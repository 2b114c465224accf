package ringid

import (
	"os"
	"strings"
	"testing"
)

func TestLoadStore(t *testing.T) {
	dir := t.TempDir()
	if seq, err := Load(dir, 7); err != nil || seq != 1 {
		t.Fatalf("fresh node: %d %v, want 1", seq, err)
	}
	if err := Store(dir, 7, 0x1c); err != nil {
		t.Fatal(err)
	}
	if seq, err := Load(dir, 7); err != nil || seq != 0x1d {
		t.Fatalf("after store 0x1c: %#x %v, want 0x1d", seq, err)
	}
	if seq, _ := Load(dir, 8); seq != 1 {
		t.Fatalf("another node's file was used: %d", seq)
	}
}

func TestLoadRejectsBrokenFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(Path(dir, 1), []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, 1); err == nil || !strings.Contains(err.Error(), "has 3 bytes") {
		t.Fatalf("got %v", err)
	}
}

func TestStoreIntoMissingDirFails(t *testing.T) {
	if err := Store("/nonexistent/needle", 1, 5); err == nil {
		t.Fatal("no error")
	}
}
