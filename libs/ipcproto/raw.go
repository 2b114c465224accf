package ipcproto

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawStream reads and writes a stream socket with raw system calls behind
// the netpoller: read(2) and write(2) go to the kernel without telling the
// Go scheduler, and EAGAIN hands the waiting to the netpoller as the net
// package does. The socket is non-blocking (the net package opens it so),
// so neither call ever waits. Announced, a call that lasts a little longer
// (a write also wakes the peer) lets the runtime's monitor take the
// processor away mid-call — the daemons run on one — and costs a thread
// hand-off and a futex wake and wait on the path of every multicast and
// delivery; totemd's transport does the same for its datagrams.
type rawStream struct{ rc syscall.RawConn }

// newRawStream returns c's raw stream, or nil when c is not a socket the
// net package polls.
func newRawStream(c any) *rawStream {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &rawStream{rc: rc}
}

// Read reads what is there, waiting for something when nothing is; 0 bytes
// from the kernel is the peer's close (io.EOF).
func (s *rawStream) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := s.rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of p, waiting for room when the socket buffer is full.
func (s *rawStream) Write(p []byte) (int, error) {
	done := 0
	var errno syscall.Errno
	err := s.rc.Write(func(fd uintptr) bool {
		for done < len(p) {
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[done])), uintptr(len(p)-done))
			switch e {
			case 0:
				done += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = os.NewSyscallError("write", errno)
	}
	return done, err
}
