package qbipc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

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
	nbuf       [64]byte
	credits    int // notification bytes taken whose events are not read yet
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
		// The request sits in the ring without its byte: whenever the
		// server takes it, requests and responses would be out of step.
		t.c.broken.Store(true)
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
		if t.credits == 0 {
			if err := t.readNotifications(ctx); err != nil {
				return nil, err
			}
		}
		// Each byte was sent after its event was committed, so there is a
		// chunk for every credit (libqb reads one byte per event; taking
		// several at once saves system calls and means the same).
		t.credits--
		msg, err := t.ev.Read(t.c.maxMsg)
		if errors.Is(err, shmring.ErrEmpty) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: event ring: %v", ErrDisconnected, err)
		}
		return msg, nil
	}
}

// readNotifications blocks until notification bytes arrive on the setup
// socket and takes them all, or reports the server's hang-up.
func (t *shmClient) readNotifications(ctx context.Context) error {
	stop := deadlineFromContext(ctx, t.c.setup, forRead)
	defer stop()
	n, err := t.c.setup.Read(t.nbuf[:])
	if err != nil {
		if cerr := ctxErr(ctx, err); cerr != err {
			return cerr
		}
		return fmt.Errorf("%w: %v", ErrDisconnected, err)
	}
	t.credits += n
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
