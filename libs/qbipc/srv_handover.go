package qbipc

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// The transports' side of a handover. Everything a successor needs is in
// the Parked: the state below, and descriptors of the setup socket and of
// the transport's files and sockets. The shared-memory files go as
// descriptors too, although the successor could open them by name: the
// names are in a directory the client owns (it may put other files under
// them) and they may be gone by then (a client's libqb, and RemoveStale,
// remove the files of a server whose pid no longer exists, which soon is
// the predecessor's). The datagram sockets must go as descriptors: they
// are bound to abstract names, and the client's event socket is connected
// to ours.
//
// Descriptors are duplicated through SyscallConn, never with Fd or
// net.Conn.File: a file made by net.Conn.File switches the socket it
// shares with its other holders to blocking mode when its Fd is called,
// as net.FileConn does (see Server.inherit).

// parkedTransport is a transport's state in a Parked besides its files.
type parkedTransport struct {
	// dir is the connection's directory; the files' names follow from it
	// and the service, as newTransport makes them.
	dir string
	// SHM: notification bytes read whose chunks are not taken, and event
	// notification bytes not written yet.
	credits, owed int
	// Socket: the request socket is connected to the client's (after its
	// first request); the event socket is connected to the client's.
	reqConnected, evConnected bool
}

// The files of a Parked, in order: the setup socket first, then
const (
	// SHM: header and data of the request, response and event rings;
	shmFiles = 1 + 6
	// Socket: the control file, the request and the event socket.
	sockFiles = 1 + 3
)

var ringKinds = [3]string{"request", "response", "event"}

// connBase is the prefix of a connection's file and socket names.
func connBase(dir string) string { return filepath.Join(dir, "qb") }

func ringName(dir, kind, service string) string {
	return connBase(dir) + "-" + kind + "-" + service
}

func controlPath(dir, service string) string { return connBase(dir) + "-control-" + service }

func sockName(dir, service string) string { return connBase(dir) + "-" + service }

// removeConnFiles removes a connection's files and directory, when it ends
// without a server to do it (a handover that failed).
func removeConnFiles(dir, service string, tr Transport) {
	if tr == SHM {
		for _, k := range ringKinds {
			os.Remove(ringName(dir, k, service) + "-header")
			os.Remove(ringName(dir, k, service) + "-data")
		}
	} else {
		os.Remove(controlPath(dir, service))
	}
	os.Remove(dir)
}

// dupFile returns a new descriptor of sc's socket or file, as a file.
func dupFile(sc syscall.Conn, name string) (*os.File, error) {
	fd, err := dupRaw(sc)
	if err != nil {
		return nil, fmt.Errorf("duplicate %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

func dupRaw(sc syscall.Conn) (int, error) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	nfd, derr := -1, error(nil)
	if err := rc.Control(func(fd uintptr) { nfd, derr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0) }); err != nil {
		return -1, err
	}
	return nfd, derr
}

// unixConnOf makes a connection of a socket file, on a descriptor of its
// own (net.FileConn calls Fd, harmless on a file made by os.NewFile).
func unixConnOf(f *os.File, what string) (*net.UnixConn, error) {
	g, err := dupFile(f, what)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	nc, err := net.FileConn(g)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	uc, ok := nc.(*net.UnixConn)
	if !ok {
		nc.Close()
		return nil, fmt.Errorf("%s: not a unix socket", what)
	}
	return uc, nil
}

// checkBound verifies that a handed-over socket is bound to the name its
// state implies (Go reports abstract names up to their padding).
func checkBound(got string, want *net.UnixAddr, what string) error {
	if w := strings.TrimRight(want.Name, "\x00"); got != w {
		return fmt.Errorf("%s is bound to %q, not %q", what, got, w)
	}
	return nil
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// handover unmaps the rings without detaching or unlinking them: the
// client goes on using them with the successor.
func (t *shmServer) handover() (parkedTransport, []*os.File, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return parkedTransport{}, nil, ErrClosed
	}
	// Notifications SendEvent left to the event goroutine, which has
	// stopped: out now if they fit; what stays owed goes with the state
	// (an error is the client's hang-up, which the successor sees too).
	t.flushLocked()
	var files []*os.File
	rings := []*shmring.Ring{t.rq, t.rs, t.ev}
	for _, r := range rings {
		hdr, data, err := r.Files()
		if err != nil {
			closeFiles(files)
			return parkedTransport{}, nil, fmt.Errorf("hand over ring: %w", err)
		}
		files = append(files, hdr, data)
	}
	t.closed = true
	for _, r := range rings {
		r.Unmap()
	}
	return parkedTransport{dir: t.dir, credits: t.credits, owed: t.owed}, files, nil
}

// adoptShm maps the rings of a handed-over connection (files: the
// transport's, in shmFiles order without the setup socket).
func adoptShm(c *Conn, pt parkedTransport, files []*os.File) (srvTransport, error) {
	t := &shmServer{setup: c.setup, dir: pt.dir, maxMsg: c.maxMsg, credits: pt.credits, owed: pt.owed, setupFD: -1}
	rings := []**shmring.Ring{&t.rq, &t.rs, &t.ev}
	for i, kind := range ringKinds {
		r, err := shmring.Reattach(ringName(pt.dir, kind, c.srv.cfg.Service), files[2*i], files[2*i+1], c.maxMsg)
		if err != nil {
			for _, p := range rings[:i] {
				(*p).Unmap()
			}
			return nil, fmt.Errorf("%s ring: %w", kind, err)
		}
		*rings[i] = r
	}
	return t, nil
}
