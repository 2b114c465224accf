// Package rawio reads and writes non-blocking sockets with raw system
// calls behind the netpoller, for the daemons' hot paths (the bus, the
// libqb IPC's notifications).
//
// Why: the daemons run on one Go processor. A system call announced to
// the Go scheduler (syscall.Syscall, what net.Conn does) that outlasts a
// tick of the runtime's monitor — a write also wakes the peer, which can
// take tens of microseconds — has the processor taken away mid-call and
// handed to another thread, and the caller then waits to get it back: a
// futex wake and wait, often a sched_yield, on the path of every message.
// The sockets are non-blocking (the net package opens them so), so these
// calls never wait: EAGAIN comes back and the netpoller does the waiting,
// deadlines honoured, as in the net package. totemd's transport does the
// same for its datagrams (sendmmsg, recvmmsg).
package rawio

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// Stream is a stream socket read and written with raw system calls.
type Stream struct{ rc syscall.RawConn }

// NewStream returns c's raw stream, or nil when c is not a socket the net
// package polls.
func NewStream(c any) *Stream {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return &Stream{rc: rc}
}

// Read is the package function Read on the stream's socket.
func (s *Stream) Read(p []byte) (int, error) { return Read(s.rc, p) }

// Write writes all of p, waiting for room when the socket buffer is full.
func (s *Stream) Write(p []byte) (int, error) {
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

// Read reads what rc's socket has, waiting in the netpoller while it has
// nothing; a read of 0 bytes is the peer's close (io.EOF).
func Read(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
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

// WriteNow is one write(2) on fd that never waits: EAGAIN and the other
// errors are returned as syscall.Errno.
func WriteNow(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
