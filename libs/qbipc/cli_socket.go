package qbipc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// sockClient is the client end of the socket transport.
type sockClient struct {
	c       *Client
	ctl     *shmring.Control
	req, ev *net.UnixConn
	buf     []byte // responses
	evBuf   []byte // events (read by another goroutine)
	dead    atomic.Bool
	dir     string
}

func openSockClient(c *Client, resp connResponse) (_ cliTransport, err error) {
	t := &sockClient{c: c, buf: make([]byte, c.maxMsg+1), evBuf: make([]byte, c.maxMsg+1)}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	if t.ctl, err = shmring.OpenControl(resp.request); err != nil {
		return nil, err
	}
	t.dir = dirOf(resp.request)
	dial := func(local, remote string) (*net.UnixConn, error) {
		la, err := abstractAddr(resp.response+"-"+local, "unixgram")
		if err != nil {
			return nil, err
		}
		ra, err := abstractAddr(resp.response+"-"+remote, "unixgram")
		if err != nil {
			return nil, err
		}
		uc, err := net.DialUnix("unixgram", la, ra)
		if err != nil {
			return nil, fmt.Errorf("datagram socket %s: %w", local, err)
		}
		return uc, setBuffers(uc, c.maxMsg)
	}
	if t.req, err = dial("response", "request"); err != nil {
		return nil, err
	}
	if t.ev, err = dial("event", "event-tx"); err != nil {
		return nil, err
	}
	go t.watchSetup()
	return t, nil
}

// watchSetup notices the server hanging up (nothing else arrives on the
// setup socket in this mode) and wakes every blocked read. This is better
// than libqb, whose socket clients idle through a server crash.
func (t *sockClient) watchSetup() {
	var b [16]byte
	for {
		if _, err := t.c.setup.Read(b[:]); err != nil {
			t.dead.Store(true)
			past := time.Unix(1, 0)
			t.req.SetDeadline(past)
			t.ev.SetDeadline(past)
			return
		}
	}
}

func (t *sockClient) gone() bool { return t.dead.Load() || t.c.setupHungUp() }

func (t *sockClient) send(ctx context.Context, msg []byte, fcMax int32) error {
	fc, err := t.ctl.FlowControl()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	if fc > 0 && fc <= fcMax {
		return ErrTryAgain
	}
	if t.gone() {
		return ErrDisconnected
	}
	stop := deadlineFromContext(ctx, t.req, forWrite)
	defer stop()
	if _, err := t.req.Write(msg); err != nil {
		if errors.Is(err, unix.EAGAIN) {
			return ErrTryAgain
		}
		if errors.Is(err, unix.EMSGSIZE) {
			return fmt.Errorf("%w: %v", ErrTooBig, err)
		}
		if cerr := ctxErr(ctx, err); cerr != err {
			return cerr
		}
		return fmt.Errorf("%w: send request: %v", ErrDisconnected, err)
	}
	return nil
}

// recv reads one datagram from uc into buf (maxMsg+1 bytes, so that an
// oversized one is detected).
func (t *sockClient) recv(ctx context.Context, uc *net.UnixConn, buf []byte, what string) ([]byte, error) {
	stop := deadlineFromContext(ctx, uc, forRead)
	defer stop()
	if t.dead.Load() {
		return nil, ErrDisconnected
	}
	n, err := uc.Read(buf)
	if err != nil {
		if cerr := ctxErr(ctx, err); cerr != err && !t.dead.Load() {
			return nil, cerr
		}
		return nil, fmt.Errorf("%w: read %s: %v", ErrDisconnected, what, err)
	}
	if n > t.c.maxMsg {
		return nil, fmt.Errorf("%w: %s of more than %d bytes", ErrTooBig, what, t.c.maxMsg)
	}
	// libqb's dispatch checks the setup socket before trusting what it read:
	// a graceful server close wakes us with a datagram after hanging up.
	if t.c.setupHungUp() {
		return nil, ErrDisconnected
	}
	return append([]byte(nil), buf[:n]...), nil
}

func (t *sockClient) recvResponse(ctx context.Context) ([]byte, error) {
	return t.recv(ctx, t.req, t.buf, "response")
}

func (t *sockClient) recvEvent(ctx context.Context) ([]byte, error) {
	return t.recv(ctx, t.ev, t.evBuf, "event")
}

func (t *sockClient) close() {
	if t.req != nil {
		t.req.Close()
	}
	if t.ev != nil {
		t.ev.Close()
	}
	if t.ctl != nil {
		t.ctl.Unmap()
		os.Remove(t.ctl.Path) // in socket mode the client cleans up (§5.4)
		os.Remove(t.dir)
	}
}
