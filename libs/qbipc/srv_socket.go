package qbipc

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
	"github.com/needle-cluster/needle/libs/qbipc/rawio"
)

// sockServer is the server end of the socket transport (§5): a control file
// for the flow-control flag, a datagram socket receiving requests and
// sending responses, and one sending events. The setup socket only tells
// us when the client is gone.
type sockServer struct {
	setup  *net.UnixConn
	dir    string
	maxMsg int
	ctl    *shmring.Control

	req      *net.UnixConn // bound to <base>-<svc>-request
	respAddr *net.UnixAddr // client's <base>-<svc>-response
	// reqConnected: req is connected to respAddr (after the first request)
	reqConnected bool
	evFD         int           // bound to <base>-<svc>-event-tx, until connected
	ev           *net.UnixConn // evFD connected to the client's event socket
	evAddr       *net.UnixAddr
	evRawFD      int // ev's descriptor for tryEvent; -1 until looked up
	buf          []byte

	// watchSetup's end: it closed req (client gone), or it stopped for a
	// handover (handing set, then a read deadline on setup).
	watchDone chan struct{}
	handing   atomic.Bool

	mu     sync.Mutex
	closed bool
}

func newSockServer(c *Conn, dir, base string) (_ srvTransport, names [3]string, err error) {
	t := &sockServer{setup: c.setup, dir: dir, maxMsg: c.maxMsg, evFD: -1, evRawFD: -1, buf: make([]byte, c.maxMsg+1), watchDone: make(chan struct{})}
	defer func() {
		if err != nil {
			t.close(false)
		}
	}()
	svc := c.srv.cfg.Service
	if t.ctl, err = shmring.CreateControl(base+"-control-"+svc, int(c.creds.UID), int(c.creds.GID)); err != nil {
		return nil, names, err
	}
	name := base + "-" + svc
	reqAddr, err := abstractAddr(name+"-request", "unixgram")
	if err != nil {
		return nil, names, err
	}
	if t.req, err = net.ListenUnixgram("unixgram", reqAddr); err != nil {
		return nil, names, fmt.Errorf("bind request socket: %w", err)
	}
	if err := setBuffers(t.req, c.maxMsg); err != nil {
		return nil, names, err
	}
	if t.respAddr, err = abstractAddr(name+"-response", "unixgram"); err != nil {
		return nil, names, err
	}
	if t.evAddr, err = abstractAddr(name+"-event", "unixgram"); err != nil {
		return nil, names, err
	}
	if t.evFD, err = boundDgram(name+"-event-tx", c.maxMsg); err != nil {
		return nil, names, err
	}
	go t.watchSetup()
	return t, [3]string{t.ctl.Path, name, ""}, nil
}

// boundDgram makes a datagram socket bound to an abstract name but not yet
// connected: the client connects its event socket to this name before it
// can receive, so the name must exist from the handshake on.
func boundDgram(name string, bufSize int) (int, error) {
	addr, err := abstractAddr(name, "unixgram")
	if err != nil {
		return -1, err
	}
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("event socket: %w", err)
	}
	// syscall, not x/sys/unix: only the former accepts a full 108-byte
	// abstract name (x/sys reserves a byte for a NUL terminator).
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: addr.Name}); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("bind event socket: %w", err)
	}
	if err := setBuffersFD(fd, bufSize); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// setBuffers sizes a datagram socket's buffers for max-size messages. As
// root, the FORCE variants lift net.core.wmem_max, so messages up to the
// negotiated size fit (with plain SO_SNDBUF Debian's default caps
// datagrams at 425952 bytes, §5.3).
func setBuffers(uc *net.UnixConn, size int) error {
	rc, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	rc.Control(func(fd uintptr) { serr = setBuffersFD(int(fd), size) })
	return serr
}

func setBuffersFD(fd, size int) error {
	for _, o := range [][2]int{{unix.SO_SNDBUFFORCE, unix.SO_SNDBUF}, {unix.SO_RCVBUFFORCE, unix.SO_RCVBUF}} {
		if unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[0], size) != nil {
			if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, o[1], size); err != nil {
				return fmt.Errorf("socket buffer size %d: %w", size, err)
			}
		}
	}
	return nil
}

// watchSetup waits for the client to hang up, then unblocks next().
func (t *sockServer) watchSetup() {
	defer close(t.watchDone)
	var b [64]byte
	for {
		if _, err := t.setup.Read(b[:]); err != nil {
			if t.handing.Load() && errors.Is(err, os.ErrDeadlineExceeded) {
				return // handover: req goes to the successor
			}
			t.req.Close()
			return
		}
	}
}

// interrupt stops a next() waiting for a request datagram.
func (t *sockServer) interrupt() { t.req.SetReadDeadline(time.Unix(1, 0)) }

func (t *sockServer) next() ([]byte, error) {
	for {
		n, _, flags, from, err := t.req.ReadMsgUnix(t.buf, nil)
		if err != nil {
			return nil, fmt.Errorf("client gone or request socket failed: %w", err)
		}
		// The request socket is unconnected until the first request: anyone
		// in the network namespace may send to it. Only the client's own
		// socket counts (Go reports abstract names without their NUL
		// padding), and once it has spoken we connect to it, after which
		// the kernel refuses datagrams from anybody else.
		if from == nil || from.Name != strings.TrimRight(t.respAddr.Name, "\x00") {
			continue
		}
		if !t.reqConnected {
			if err := t.connectRequests(); err != nil {
				return nil, err
			}
		}
		if n > t.maxMsg || flags&unix.MSG_TRUNC != 0 {
			return nil, fmt.Errorf("request datagram larger than max_msg_size %d", t.maxMsg)
		}
		return append([]byte(nil), t.buf[:n]...), nil
	}
}

func (t *sockServer) connectRequests() error {
	rc, err := t.req.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	rc.Control(func(fd uintptr) {
		cerr = syscall.Connect(int(fd), &syscall.SockaddrUnix{Name: t.respAddr.Name})
	})
	if cerr != nil {
		return fmt.Errorf("connect request socket to the client: %w", cerr)
	}
	t.reqConnected = true
	return nil
}

func (t *sockServer) respond(msg []byte) error {
	t.req.SetWriteDeadline(time.Now().Add(2 * time.Second))
	if _, err := t.req.WriteToUnix(msg, t.respAddr); err != nil {
		return fmt.Errorf("send response: %w", err)
	}
	return nil
}

func (t *sockServer) event(msg []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if t.ev == nil {
		if err := t.connectEvents(); err != nil {
			return err
		}
	}
	t.ev.SetWriteDeadline(time.Now().Add(time.Millisecond))
	_, err := t.ev.Write(msg)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errFull
	}
	if err != nil {
		return fmt.Errorf("send event: %w", err)
	}
	return nil
}

// tryEvent sends the datagram if the socket has room now; errFull when
// it has not, or while the event goroutine waits for room itself.
func (t *sockServer) tryEvent(msg []byte, _ int64) (bool, error) {
	if !t.mu.TryLock() {
		return false, errFull
	}
	defer t.mu.Unlock()
	if t.closed {
		return false, ErrClosed
	}
	if t.ev == nil {
		if err := t.connectEvents(); err != nil {
			return false, err
		}
	}
	if t.evRawFD < 0 {
		rc, err := t.ev.SyscallConn()
		if err != nil {
			return false, fmt.Errorf("send event: %w", err)
		}
		rc.Control(func(fd uintptr) { t.evRawFD = int(fd) })
	}
	for {
		_, err := rawio.WriteNow(t.evRawFD, msg)
		switch {
		case err == nil:
			return false, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return false, errFull
		}
		return false, fmt.Errorf("send event: %w", err)
	}
}

// connectEvents connects the event socket to the client's, which exists
// only once the client has read our connection response: until then the
// event waits (errFull) like one for a full channel.
func (t *sockServer) connectEvents() error {
	err := syscall.Connect(t.evFD, &syscall.SockaddrUnix{Name: t.evAddr.Name})
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return errFull
	}
	if err != nil {
		return fmt.Errorf("connect event socket: %w", err)
	}
	f := os.NewFile(uintptr(t.evFD), "qb-event")
	fc, err := net.FileConn(f) // duplicates the fd into the netpoller
	f.Close()
	t.evFD = -1
	if err != nil {
		return fmt.Errorf("event socket: %w", err)
	}
	t.ev = fc.(*net.UnixConn)
	return nil
}

func (t *sockServer) flush() (bool, error) { return false, nil }

func (t *sockServer) setFlowControl(level int32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	return t.ctl.SetFlowControl(level)
}

func (t *sockServer) close(graceful bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	if graceful {
		// The client polls its event socket, which hears nothing of the
		// setup socket: hang up first, then wake it with a datagram so its
		// dispatch checks the setup socket and reports the end (§5.4).
		if rc, err := t.setup.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
		}
		if t.ev == nil && t.evFD >= 0 {
			t.connectEvents()
		}
		if t.ev != nil {
			t.ev.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
			t.ev.Write(make([]byte, RespHeaderSize))
		}
	}
	if t.ev != nil {
		t.ev.Close()
	}
	if t.evFD >= 0 {
		unix.Close(t.evFD)
	}
	if t.req != nil {
		t.req.Close()
	}
	if t.ctl != nil {
		t.ctl.Unmap()
		os.Remove(t.ctl.Path)
	}
	os.Remove(t.dir)
}
