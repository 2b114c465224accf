package qbipc

import (
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// handover stops watchSetup, so that it does not take the client's
// hang-up for its own, and closes this process's descriptors only.
func (t *sockServer) handover() (parkedTransport, []*os.File, error) {
	t.handing.Store(true)
	t.setup.SetReadDeadline(time.Unix(1, 0))
	<-t.watchDone
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return parkedTransport{}, nil, ErrClosed
	}
	ctl, err := t.ctl.File()
	if err != nil {
		return parkedTransport{}, nil, fmt.Errorf("hand over control file: %w", err)
	}
	req, err := dupFile(t.req, "qb-request")
	if err != nil {
		ctl.Close()
		return parkedTransport{}, nil, err // watchSetup closed it: the client is gone
	}
	var ev *os.File
	if t.ev != nil {
		ev, err = dupFile(t.ev, "qb-event")
	} else {
		var fd int
		if fd, err = unix.FcntlInt(uintptr(t.evFD), unix.F_DUPFD_CLOEXEC, 0); err == nil {
			ev = os.NewFile(uintptr(fd), "qb-event")
		}
	}
	if err != nil {
		closeFiles([]*os.File{ctl, req})
		return parkedTransport{}, nil, fmt.Errorf("hand over event socket: %w", err)
	}
	t.closed = true
	if t.ev != nil {
		t.ev.Close()
	} else {
		unix.Close(t.evFD)
	}
	t.req.Close()
	t.ctl.Unmap()
	pt := parkedTransport{dir: t.dir, reqConnected: t.reqConnected, evConnected: t.ev != nil}
	return pt, []*os.File{ctl, req, ev}, nil
}

// adoptSock takes over a handed-over socket-transport connection (files:
// the transport's, in sockFiles order without the setup socket).
func adoptSock(c *Conn, pt parkedTransport, files []*os.File) (_ srvTransport, err error) {
	svc := c.srv.cfg.Service
	name := sockName(pt.dir, svc)
	t := &sockServer{setup: c.setup, dir: pt.dir, maxMsg: c.maxMsg, evFD: -1, evRawFD: -1, buf: make([]byte, c.maxMsg+1),
		watchDone: make(chan struct{}), reqConnected: pt.reqConnected}
	defer func() {
		if err != nil {
			t.close(false)
		}
	}()
	var reqAddr, txAddr *net.UnixAddr
	for _, a := range []struct {
		p    **net.UnixAddr
		name string
	}{{&reqAddr, "-request"}, {&t.respAddr, "-response"}, {&t.evAddr, "-event"}, {&txAddr, "-event-tx"}} {
		if *a.p, err = abstractAddr(name+a.name, "unixgram"); err != nil {
			return nil, err
		}
	}
	if t.ctl, err = shmring.ReattachControl(controlPath(pt.dir, svc), files[0]); err != nil {
		return nil, fmt.Errorf("control file: %w", err)
	}
	if t.req, err = unixConnOf(files[1], "request socket"); err != nil {
		return nil, err
	}
	if err := checkBound(t.req.LocalAddr().String(), reqAddr, "request socket"); err != nil {
		return nil, err
	}
	if pt.evConnected {
		if t.ev, err = unixConnOf(files[2], "event socket"); err != nil {
			return nil, err
		}
		err = checkBound(t.ev.LocalAddr().String(), txAddr, "event socket")
	} else {
		err = t.adoptEventFD(files[2], txAddr)
	}
	if err != nil {
		return nil, err
	}
	go t.watchSetup()
	return t, nil
}

// adoptEventFD keeps the event socket as a raw descriptor, as
// newSockServer does until the client's event socket exists.
func (t *sockServer) adoptEventFD(f *os.File, txAddr *net.UnixAddr) error {
	fd, err := dupRaw(f)
	if err != nil {
		return fmt.Errorf("event socket: %w", err)
	}
	t.evFD = fd
	if err := unix.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("event socket: %w", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return fmt.Errorf("event socket: %w", err)
	}
	su, ok := sa.(*syscall.SockaddrUnix)
	if !ok {
		return fmt.Errorf("event socket: not a unix socket")
	}
	return checkBound(su.Name, txAddr, "event socket")
}
