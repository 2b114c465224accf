package qbipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// waitSlice is how long one futex wait for a response lasts before the
// client checks for a dead server or a cancelled context. libqb uses 2 s;
// a response wakes the wait at once, so a short slice costs nothing.
const waitSlice = 100 * time.Millisecond

// shmClient is the client end of the shared-memory transport.
type shmClient struct {
	c          *Client
	rq, rs, ev *shmring.Ring
}

func openShmClient(c *Client, resp connResponse) (cliTransport, error) {
	t := &shmClient{c: c}
	var err error
	for _, r := range []struct {
		p    **shmring.Ring
		name string
	}{{&t.rq, resp.request}, {&t.rs, resp.response}, {&t.ev, resp.event}} {
		if *r.p, err = shmring.Open(r.name); err != nil {
			t.close()
			return nil, err
		}
	}
	return t, nil
}

func (t *shmClient) send(ctx context.Context, msg []byte, fcMax int32) error {
	fc, err := t.rq.UserData()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	if fc > 0 && fc <= fcMax {
		return ErrTryAgain
	}
	if ref, err := t.rq.RefCount(); err != nil || ref != 2 {
		return fmt.Errorf("%w: request ring detached (ref_count %d, %v)", ErrDisconnected, ref, err)
	}
	if err := t.rq.Write(msg); err != nil {
		if errors.Is(err, shmring.ErrFull) {
			return ErrTryAgain
		}
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	// One byte per chunk wakes the server's poll; its value does not matter.
	stop := deadlineFromContext(ctx, t.c.setup, forWrite)
	defer stop()
	if _, err := t.c.setup.Write(msg[:1]); err != nil {
		return fmt.Errorf("%w: notify server: %v", ErrDisconnected, ctxErr(ctx, err))
	}
	return nil
}

func (t *shmClient) recvResponse(ctx context.Context) ([]byte, error) {
	for {
		slice := waitSlice
		if d, ok := ctx.Deadline(); ok {
			slice = max(min(slice, time.Until(d)), 0)
		}
		msg, err := t.rs.WaitRead(t.c.maxMsg, slice)
		if err == nil {
			return msg, nil
		}
		if !errors.Is(err, shmring.ErrEmpty) {
			return nil, fmt.Errorf("%w: response ring: %v", ErrDisconnected, err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if ref, err := t.rs.RefCount(); err != nil || ref != 2 || t.c.setupHungUp() {
			return nil, fmt.Errorf("%w while waiting for a response", ErrDisconnected)
		}
	}
}

func (t *shmClient) recvEvent(ctx context.Context) ([]byte, error) {
	for {
		if err := t.waitNotification(ctx); err != nil {
			return nil, err
		}
		msg, err := t.ev.Read(t.c.maxMsg)
		if err != nil && !errors.Is(err, shmring.ErrEmpty) {
			return nil, fmt.Errorf("%w: event ring: %v", ErrDisconnected, err)
		}
		// Exactly one byte per event, after the chunk (libqb's order).
		var b [1]byte
		if _, rerr := t.c.setup.Read(b[:]); rerr != nil {
			return nil, fmt.Errorf("%w: %v", ErrDisconnected, rerr)
		}
		if err == nil {
			return msg, nil
		}
	}
}

// waitNotification blocks until a notification byte is queued on the setup
// socket (without consuming it) or the server hung up.
func (t *shmClient) waitNotification(ctx context.Context) error {
	rc, err := t.c.setup.SyscallConn()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	stop := deadlineFromContext(ctx, t.c.setup, forRead)
	defer stop()
	var n int
	var perr error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, perr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return perr != unix.EAGAIN
	})
	if err != nil {
		if cerr := ctxErr(ctx, err); cerr != err {
			return cerr
		}
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	if perr != nil {
		return fmt.Errorf("%w: %v", ErrDisconnected, perr)
	}
	if n == 0 {
		return ErrDisconnected
	}
	return nil
}

func (t *shmClient) close() {
	dead := t.c.serverDead()
	for _, r := range []*shmring.Ring{t.rq, t.rs, t.ev} {
		if r == nil {
			continue
		}
		r.Detach()
		r.Unmap()
		if dead { // nobody else will remove them (libqb does the same)
			r.Unlink()
		}
	}
	if dead && t.rq != nil {
		os.Remove(dirOf(t.rq.HdrPath))
	}
}

func dirOf(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return p
}
