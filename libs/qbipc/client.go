package qbipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Client errors. Transport failures wrap ErrDisconnected; callers map
// ErrTryAgain to CS_ERR_TRY_AGAIN and retry.
var (
	ErrDisconnected = errors.New("qbipc: server closed the connection")
	ErrTryAgain     = fmt.Errorf("qbipc: server busy (flow control or full channel): %w", syscall.EAGAIN)
	ErrTooBig       = fmt.Errorf("qbipc: message larger than max_msg_size: %w", syscall.EMSGSIZE)
)

// DialOptions tune Dial; the zero value is what corosync's libraries do.
type DialOptions struct {
	// MaxMsgSize to ask for; 0 means DefaultMaxMsgSize. The server's answer wins.
	MaxMsgSize int

	flagFile, socketDir string // libqb's filesystem-socket switch (tests)
}

// cliTransport is the client end of one connection's channels.
type cliTransport interface {
	send(ctx context.Context, msg []byte, fcMax int32) error
	recvResponse(ctx context.Context) ([]byte, error)
	recvEvent(ctx context.Context) ([]byte, error)
	close()
}

// Client is a connection to one libqb service. Request and ReadEvent may be
// used concurrently (responses and events travel on separate channels);
// concurrent Requests are serialized.
type Client struct {
	setup     *net.UnixConn
	server    Creds
	maxMsg    int
	transport Transport
	t         cliTransport

	reqMu   sync.Mutex
	skip    int // responses of abandoned requests still to be discarded
	evMu    sync.Mutex
	closeMu sync.Mutex
	closed  atomic.Bool
	broken  atomic.Bool // requests and responses can no longer be paired
}

// Dial connects to a libqb service by name ("cmap", "cpg", ...) and attaches
// to whichever transport the server chooses. ctx bounds the handshake.
func Dial(ctx context.Context, service string, opts DialOptions) (*Client, error) {
	if opts.MaxMsgSize == 0 {
		opts.MaxMsgSize = DefaultMaxMsgSize
	}
	if opts.MaxMsgSize < connRespSize {
		opts.MaxMsgSize = connRespSize // libqb's own floor
	}
	if opts.flagFile == "" {
		opts.flagFile = ForceFilesystemFlag
	}
	if opts.socketDir == "" {
		opts.socketDir = SocketDir
	}
	addr, err := setupAddr(service, opts.flagFile, opts.socketDir)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", addr.Name)
	if err != nil {
		return nil, fmt.Errorf("connect to libqb service %q: %w", service, err)
	}
	uc := nc.(*net.UnixConn)
	c, err := handshakeClient(ctx, uc, service, opts)
	if err != nil {
		uc.Close()
		return nil, err
	}
	return c, nil
}

// maxServerMsgSize bounds the max_msg_size a client accepts from a server:
// four times needle's own server limit, far above corosync's (about 1 MiB).
const maxServerMsgSize = 64 << 20

func handshakeClient(ctx context.Context, uc *net.UnixConn, service string, opts DialOptions) (*Client, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	setPassCred := func(on int) {
		rc.Control(func(fd uintptr) { unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, on) })
	}
	setPassCred(1) // as libqb: our credentials ride along with the request
	stop := deadlineFromContext(ctx, uc, forRead|forWrite)
	defer stop()
	if _, err := uc.Write(connRequest{maxMsgSize: uint32(opts.MaxMsgSize)}.encode()); err != nil {
		return nil, fmt.Errorf("libqb service %q: send connection request: %w", service, ctxErr(ctx, err))
	}
	buf := make([]byte, connRespSize)
	if _, err := io.ReadFull(uc, buf); err != nil {
		return nil, fmt.Errorf("libqb service %q: read connection response: %w", service, ctxErr(ctx, err))
	}
	setPassCred(0)
	resp, err := decodeConnResponse(buf)
	if err != nil {
		return nil, fmt.Errorf("libqb service %q: %w", service, err)
	}
	// The socket transport allocates two buffers of this size: a server
	// (or whoever holds the abstract name) must not choose how much.
	if resp.maxMsgSize > maxServerMsgSize {
		return nil, fmt.Errorf("libqb service %q: connection response: max_msg_size %d over %d", service, resp.maxMsgSize, maxServerMsgSize)
	}
	c := &Client{setup: uc, maxMsg: int(resp.maxMsgSize)}
	rc.Control(func(fd uintptr) { c.server, err = peerCreds(fd) })
	if err != nil {
		return nil, err
	}
	if resp.transport == wireSocket {
		c.transport = Socket
		c.t, err = openSockClient(c, resp)
	} else {
		c.transport = SHM
		c.t, err = openShmClient(c, resp)
	}
	if err != nil {
		return nil, fmt.Errorf("libqb service %q: attach %v transport: %w", service, c.transport, err)
	}
	return c, nil
}

// Which deadline of a connection an operation uses: reads and writes on
// one socket may run in different goroutines with different contexts.
const (
	forRead = 1 << iota
	forWrite
)

// deadlineFromContext applies ctx's deadline and cancellation to the read
// and/or write side of conn until the returned stop is called.
func deadlineFromContext(ctx context.Context, conn net.Conn, sides int) (stop func()) {
	set := func(t time.Time) {
		if sides&forRead != 0 {
			conn.SetReadDeadline(t)
		}
		if sides&forWrite != 0 {
			conn.SetWriteDeadline(t)
		}
	}
	d, _ := ctx.Deadline()
	set(d)
	// The cancellation may fire concurrently with stop; once stop has run
	// it must not touch the next operation's deadline.
	var mu sync.Mutex
	stopped := false
	unregister := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			set(time.Unix(1, 0))
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		unregister()
		set(time.Time{})
	}
}

// ctxErr prefers the context's error over the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if e := ctx.Err(); e != nil {
		return e
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded // the socket's timer beat the context's
	}
	return err
}

// Transport is what the server chose.
func (c *Client) Transport() Transport { return c.transport }

// MaxMsgSize is the negotiated limit for every message.
func (c *Client) MaxMsgSize() int { return c.maxMsg }

// ServerCreds are the credentials of the server process (SO_PEERCRED).
func (c *Client) ServerCreds() Creds { return c.server }

// Request sends msg (16-byte header first; its size field is set from
// len(msg)) and waits for the response. The flow-control flag refuses the
// send only at level 1, as for every corosync request but cpg multicasts.
func (c *Client) Request(ctx context.Context, msg []byte) ([]byte, error) {
	return c.Call(ctx, msg, CallOptions{})
}

// CallOptions select the less common request kinds.
type CallOptions struct {
	// NoResponse: the service sends none (cpg MCAST).
	NoResponse bool
	// FlowControlMax is the highest flag value that refuses the send: 1 by
	// default, 2 for cpg MCAST and PARTIAL_MCAST (libqb's fc_enable_max).
	FlowControlMax int32
}

// Call is Request with options.
func (c *Client) Call(ctx context.Context, msg []byte, o CallOptions) ([]byte, error) {
	if len(msg) < ReqHeaderSize {
		return nil, fmt.Errorf("request of %d bytes: %w", len(msg), ErrShortMessage)
	}
	if len(msg) > c.maxMsg {
		return nil, fmt.Errorf("request of %d bytes (max %d): %w", len(msg), c.maxMsg, ErrTooBig)
	}
	if o.FlowControlMax == 0 {
		o.FlowControlMax = 1
	}
	le.PutUint32(msg[8:], uint32(len(msg)))
	c.reqMu.Lock()
	defer c.reqMu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.broken.Load() {
		return nil, fmt.Errorf("%w: an earlier request was half sent; reconnect", ErrDisconnected)
	}
	for c.skip > 0 {
		if _, err := c.t.recvResponse(ctx); err != nil {
			return nil, fmt.Errorf("discard response of an abandoned request: %w", err)
		}
		c.skip--
	}
	if err := c.t.send(ctx, msg, o.FlowControlMax); err != nil {
		return nil, err
	}
	if o.NoResponse {
		return nil, nil
	}
	resp, err := c.t.recvResponse(ctx)
	if err != nil {
		if ctx.Err() != nil {
			c.skip++ // the response may still come: it is not the next request's
		}
		return nil, err
	}
	if _, err := DecodeRespHeader(resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// ReadEvent waits for the next event (24-byte header first) until ctx ends.
// It returns an error wrapping ErrDisconnected once the server is gone.
func (c *Client) ReadEvent(ctx context.Context) ([]byte, error) {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.closed.Load() {
		return nil, ErrClosed
	}
	ev, err := c.t.recvEvent(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := DecodeRespHeader(ev); err != nil {
		return nil, err
	}
	return ev, nil
}

// Close disconnects. Safe to call more than once and concurrently with
// Request/ReadEvent, which then fail.
func (c *Client) Close() error {
	c.closeMu.Lock()
	defer c.closeMu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	if rc, err := c.setup.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.Shutdown(int(fd), unix.SHUT_RDWR) })
	}
	c.setup.Close() // wakes any waiter blocked on the setup socket
	c.reqMu.Lock()
	c.evMu.Lock()
	c.t.close()
	c.evMu.Unlock()
	c.reqMu.Unlock()
	return nil
}

// setupHungUp checks, without consuming anything, whether the server closed
// the setup socket. In shm mode it carries event notifications; in socket
// mode nothing after the handshake.
func (c *Client) setupHungUp() bool {
	rc, err := c.setup.SyscallConn()
	if err != nil {
		return true
	}
	hung := false
	if cerr := rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		hung = (err == nil && n == 0) || (err != nil && err != unix.EAGAIN && err != unix.EINTR)
	}); cerr != nil {
		return true
	}
	return hung
}

// serverDead reports whether the server process no longer exists.
func (c *Client) serverDead() bool {
	return c.server.PID > 0 && unix.Kill(int(c.server.PID), 0) == unix.ESRCH
}

// Errno is the errno a libqb client would report for err, for callers that
// map it to a cs_error_t like corosync's libraries (qb_to_cs_error):
// refusals carry the server's errno, busy is EAGAIN, too big EMSGSIZE, a
// timeout ETIMEDOUT, and a lost or closed connection ENOTCONN.
func Errno(err error) syscall.Errno {
	var re *RefusedError
	var e syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &re):
		return re.Errno
	case errors.Is(err, ErrDisconnected), errors.Is(err, ErrClosed):
		return syscall.ENOTCONN
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return syscall.ETIMEDOUT
	case errors.As(err, &e) && e != 0:
		return e
	}
	return syscall.ENOTCONN
}
