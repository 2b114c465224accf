package shmring

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"
)

// TestReattach: a ring handed over by descriptors is the same ring (what
// the old mapping wrote, the new one reads, and the peer's mapping sees the
// new one's writes), and ref_count is left as it was.
func TestReattach(t *testing.T) {
	s, c := newPair(t, 12328)
	if err := c.Write([]byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUserData(2); err != nil {
		t.Fatal(err)
	}
	hdr, data, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	defer hdr.Close()
	defer data.Close()
	r, err := Reattach(s.Name, hdr, data, 12328)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Unmap()
	if n, _ := r.RefCount(); n != 2 {
		t.Fatalf("ref_count %d after Reattach, want 2 (unchanged)", n)
	}
	if v, _ := r.UserData(); v != 2 {
		t.Fatalf("user data %d, want 2", v)
	}
	got, err := r.Read(12328)
	if err != nil || string(got) != "before" {
		t.Fatalf("read through the new mapping: %q %v", got, err)
	}
	if err := r.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Read(12328); err != nil || string(got) != "after" {
		t.Fatalf("peer reads %q %v", got, err)
	}
	if r.HdrPath != s.HdrPath || r.DataPath != s.DataPath {
		t.Fatalf("paths %s %s, want %s %s", r.HdrPath, r.DataPath, s.HdrPath, s.DataPath)
	}
}

// TestFilesRefusesReplacedFile: the client owns the connection directory
// and can put anything under a ring's name; Files hands over only the
// file that is mapped, and never opens what the name leads to otherwise.
func TestFilesRefusesReplacedFile(t *testing.T) {
	s, _ := newPair(t, 12328)
	if err := os.Rename(s.DataPath, s.DataPath+".moved"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.DataPath, make([]byte, DataSize(12328)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Files(); err == nil || !strings.Contains(err.Error(), "not the file mapped here") {
		t.Fatalf("Files with the data file replaced: %v", err)
	}
	os.Remove(s.DataPath)
	if err := syscall.Mkfifo(s.DataPath, 0o600); err != nil {
		t.Fatal(err)
	}
	// Opening a FIFO for reading would block: the name is only ever
	// opened with O_PATH until it is known to be the ring file.
	if _, _, err := s.Files(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Files with a FIFO under the name: %v", err)
	}
	os.Remove(s.DataPath)
	if err := os.Symlink(s.DataPath+".moved", s.DataPath); err != nil {
		t.Fatal(err)
	}
	// O_PATH|O_NOFOLLOW opens the link itself, which is no ring file.
	if _, _, err := s.Files(); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("Files with a symlink under the name: %v", err)
	}
}

// TestReattachRefusesShortFiles: a file shorter than the ring (truncated
// by the client) is refused rather than mapped past its end.
func TestReattachRefusesShortFiles(t *testing.T) {
	s, _ := newPair(t, 12328)
	hdr, data, err := s.Files()
	if err != nil {
		t.Fatal(err)
	}
	defer hdr.Close()
	defer data.Close()
	if err := data.Truncate(100); err != nil {
		t.Fatal(err)
	}
	if _, err := Reattach(s.Name, hdr, data, 12328); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Reattach of a truncated data file: %v", err)
	}
	if _, err := Reattach(s.Name, hdr, data, 0); err == nil {
		t.Fatal("Reattach with max_msg_size 0 accepted")
	}
	if _, err := Reattach(s.Name, nil, data, 12328); err == nil {
		t.Fatal("Reattach without a header file accepted")
	}
}

// TestControlFile: the control file's descriptor maps the same flag.
func TestControlFile(t *testing.T) {
	path := t.TempDir() + "/qb-control-test"
	c, err := CreateControl(path, os.Getuid(), os.Getgid())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Unmap()
	c.SetFlowControl(1)
	f, err := c.File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ReattachControl(path, f)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Unmap()
	if v, _ := d.FlowControl(); v != 1 {
		t.Fatalf("flow control %d through the new mapping", v)
	}
}
