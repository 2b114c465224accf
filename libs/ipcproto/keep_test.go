package ipcproto

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// unixPair is a connected pair of unix stream sockets as Conns.
func unixPair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conns := make([]*Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		conns[i] = NewConn(c)
		t.Cleanup(func() { c.Close() })
	}
	return conns[0], conns[1]
}

func sameFile(t *testing.T, a, b *os.File) bool {
	t.Helper()
	var sa, sb syscall.Stat_t
	if err := syscall.Fstat(int(a.Fd()), &sa); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Fstat(int(b.Fd()), &sb); err != nil {
		t.Fatal(err)
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// TestFilesTravelWithTheirFrame: the descriptors of a KindKept arrive
// with it, in order, as new descriptors of the same open files, and the
// frames around it are read as usual.
func TestFilesTravelWithTheirFrame(t *testing.T) {
	a, b := unixPair(t)
	dir := t.TempDir()
	var files []*os.File
	for _, n := range []string{"x", "y"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		files = append(files, f)
	}
	want := &Msg{Kind: KindKept, Names: []string{"quorum", "votequorum"}}
	if err := a.SendFiles(want, files); err != nil {
		t.Fatal(err)
	}
	if err := a.Send(&Msg{Kind: KindKeep}); err != nil {
		t.Fatal(err)
	}
	got, fs, err := b.RecvFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Names) != 2 || got.Names[1] != "votequorum" || len(fs) != 2 {
		t.Fatalf("got %+v with %d files", got, len(fs))
	}
	for i := range fs {
		if fs[i].Fd() == files[i].Fd() || !sameFile(t, fs[i], files[i]) {
			t.Errorf("file %d: fd %d is not a new descriptor of %s", i, fs[i].Fd(), files[i].Name())
		}
		fs[i].Close()
	}
	if m, err := b.Recv(); err != nil || m.Kind != KindKeep {
		t.Fatalf("next frame: %v %v", m, err)
	}
}

// TestRecvFilesRefusesBufferedBytes: once Recv buffered bytes past its
// frame, descriptors might have been dropped with them; RecvFiles says so
// instead of reading on.
func TestRecvFilesRefusesBufferedBytes(t *testing.T) {
	a, b := unixPair(t)
	if err := a.SendBatch([]*Msg{{Kind: KindKeep}, {Kind: KindKeep, Names: []string{"cpg"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.RecvFiles(); err == nil || !strings.Contains(err.Error(), "already buffered") {
		t.Fatalf("RecvFiles after a buffered frame: %v", err)
	}
}

// TestRecvFilesRefusesAHugeFrame: a message that carries files is small;
// a large length prefix is refused before anything is allocated.
func TestRecvFilesRefusesAHugeFrame(t *testing.T) {
	a, b := unixPair(t)
	go a.c.Write([]byte{0x7f, 0xff, 0xff, 0xff})
	if _, _, err := b.RecvFiles(); err == nil || !strings.Contains(err.Error(), "length prefix") {
		t.Fatalf("RecvFiles of a 2 GiB frame: %v", err)
	}
}
