package nstest

import (
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRun checks what the child gets: a network namespace of its own
// (loopback only, and up), and a fresh tmpfs on each directory asked for.
func TestRun(t *testing.T) {
	if !Run(t, Tmpfs{"/run", "mode=0755"}) {
		return
	}
	ifs, err := net.Interfaces()
	if err != nil || len(ifs) != 1 || ifs[0].Name != "lo" || ifs[0].Flags&net.FlagUp == 0 {
		t.Fatalf("interfaces %+v (%v), want lo alone and up", ifs, err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs("/run", &fs); err != nil || fs.Type != unix.TMPFS_MAGIC {
		t.Fatalf("/run: type %#x (%v), want tmpfs", fs.Type, err)
	}
	if ents, err := os.ReadDir("/run"); err != nil || len(ents) != 0 {
		t.Fatalf("/run not fresh: %d entries (%v)", len(ents), err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	l.Close()
}
