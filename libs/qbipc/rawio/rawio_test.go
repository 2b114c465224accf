package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// pair returns two connected unix stream sockets as the net package
// opens them (non-blocking, polled).
func pair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

func TestStreamRoundTripLargerThanTheBuffer(t *testing.T) {
	a, b := pair(t)
	wa, rb := NewStream(a), NewStream(b)
	if wa == nil || rb == nil {
		t.Fatal("NewStream refused a unix socket")
	}
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than the socket buffer, so Write waits for room
	done := make(chan error, 1)
	go func() {
		_, err := wa.Write(msg)
		a.Close()
		done <- err
	}()
	got, err := io.ReadAll(rb) // ends with the io.EOF of a 0-byte read
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("read %d bytes, want the %d written", len(got), len(msg))
	}
}

func TestReadHonoursDeadlineAndClose(t *testing.T) {
	_, b := pair(t)
	rb := NewStream(b)
	b.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	if _, err := rb.Read(make([]byte, 8)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	b.SetReadDeadline(time.Time{})
	go func() { time.Sleep(20 * time.Millisecond); b.Close() }()
	if _, err := rb.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read of a closed socket: %v, want net.ErrClosed", err)
	}
}

func TestWriteNowNeverWaits(t *testing.T) {
	a, _ := pair(t)
	var fd int
	rc, err := a.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	rc.Control(func(f uintptr) { fd = int(f) })
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		if i > 10000 {
			t.Fatal("the socket never filled")
		}
		if _, err := WriteNow(fd, chunk); err != nil {
			if !errors.Is(err, syscall.EAGAIN) {
				t.Fatalf("full socket: %v, want EAGAIN", err)
			}
			return
		}
	}
}

func TestNewStreamRefusesWhatIsNoSocket(t *testing.T) {
	if NewStream(bytes.NewReader(nil)) != nil {
		t.Fatal("NewStream accepted a bytes.Reader")
	}
}
