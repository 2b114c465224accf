package qbipc

import (
	"io"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The server's hot-path socket calls (a shm client's request notification
// bytes, the event notification bytes, socket-transport events) go to the
// kernel as raw system calls, unannounced to the Go scheduler: the sockets
// are non-blocking, so a call never waits (EAGAIN comes back and the
// netpoller waits, as in the net package). Announced, a call that lasts a
// little longer — a write also wakes the client — lets the runtime's
// monitor take the processor away mid-call (the daemons run on one): a
// thread hand-off, a futex wake and wait, on every request and event.

// rawRead reads what conn has, waiting (in the netpoller, deadlines
// honoured) while it has nothing; a read of 0 bytes is the peer's close
// (io.EOF).
func rawRead(rc syscall.RawConn, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case unix.EINTR:
				continue
			case unix.EAGAIN:
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

// rawWrite is write(2) on fd, without waiting: EAGAIN is returned as is.
func rawWrite(fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
