package qbipc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
	"github.com/needle-cluster/needle/libs/qbipc/rawio"
)

// shmServer is the server end of the shared-memory transport (§6): three
// rings, and the setup socket carrying one notification byte per request
// (client → server) and per event (server → client).
type shmServer struct {
	setup *net.UnixConn
	// setupRC is setup's raw side (rawSetup): next reads through it,
	// flushLocked takes setupFD from it.
	setupRC syscall.RawConn
	dir     string
	maxMsg  int

	mu         sync.Mutex // guards the rings against close
	closed     bool
	rq, rs, ev *shmring.Ring

	rbuf    [64]byte
	credits int // notification bytes read whose chunks are not taken yet
	owed    int // event notification bytes not yet written
	zeros   []byte
	setupFD int // setup's descriptor for flushLocked; -1 until looked up
	// owedSince is monoNow when tryEvent made owed 1.
	owedSince int64
}

func newShmServer(c *Conn, dir, base string) (srvTransport, [3]string, error) {
	t := &shmServer{setup: c.setup, dir: dir, maxMsg: c.maxMsg, setupFD: -1}
	uid, gid := int(c.creds.UID), int(c.creds.GID)
	var err error
	for _, r := range []struct {
		p    **shmring.Ring
		kind string
	}{{&t.rq, "request"}, {&t.rs, "response"}, {&t.ev, "event"}} {
		if *r.p, err = shmring.Create(base+"-"+r.kind+"-"+c.srv.cfg.Service, c.maxMsg, uid, gid); err != nil {
			t.close(false)
			return nil, [3]string{}, fmt.Errorf("create %s ring: %w", r.kind, err)
		}
	}
	return t, [3]string{t.rq.Name, t.rs.Name, t.ev.Name}, nil
}

func (t *shmServer) next() ([]byte, error) {
	for {
		for t.credits > 0 {
			t.credits--
			msg, err := t.readRequest()
			if errors.Is(err, shmring.ErrEmpty) {
				continue // a byte without a chunk: libqb tolerates it too
			}
			return msg, err
		}
		rc, err := t.rawSetup()
		if err != nil {
			return nil, fmt.Errorf("read setup socket: %w", err)
		}
		n, err := rawio.Read(rc, t.rbuf[:])
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("client closed the connection: %w", err)
			}
			return nil, fmt.Errorf("read setup socket: %w", err)
		}
		t.credits += n
	}
}

// rawSetup returns the setup socket's raw side, taken at the first call.
func (t *shmServer) rawSetup() (syscall.RawConn, error) {
	if t.setupRC == nil {
		rc, err := t.setup.SyscallConn()
		if err != nil {
			return nil, err
		}
		t.setupRC = rc
	}
	return t.setupRC, nil
}

func (t *shmServer) readRequest() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, ErrClosed
	}
	return t.rq.Read(t.maxMsg)
}

func (t *shmServer) respond(msg []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return ErrClosed
	}
	if err := t.rs.Write(msg); err != nil {
		return fmt.Errorf("response ring: %w", err) // full: the client is not reading its responses
	}
	return nil
}

// event writes the chunk; its notification byte goes out with the next
// flush, which the caller does after a batch.
func (t *shmServer) event(msg []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.eventLocked(msg)
}

func (t *shmServer) eventLocked(msg []byte) error {
	if t.closed {
		return ErrClosed
	}
	err := t.ev.Write(msg)
	if errors.Is(err, shmring.ErrFull) {
		return errFull
	}
	if err != nil {
		return fmt.Errorf("event ring: %w", err)
	}
	t.owed++ // the byte goes after the chunk: a woken client must find it
	return nil
}

// tryEvent writes the chunk, whose notification byte is left owed: the
// event goroutine writes the owed bytes of a burst in one go once the
// service's goroutine lets it run. So that a service sending without a
// pause does not hold them back, tryEvent writes them itself once the
// oldest has waited maxNotifyDelay (now is monoNow). The ring write never
// waits; the event goroutine holds t.mu only for one such write, or one
// notification write, at a time.
func (t *shmServer) tryEvent(msg []byte, now int64) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.eventLocked(msg); err != nil {
		return false, err
	}
	if t.owed == 1 {
		t.owedSince = now
	} else if now-t.owedSince >= int64(maxNotifyDelay) {
		if err := t.flushLocked(); err != nil {
			return false, err
		}
	}
	return t.owed > 0, nil
}

// maxNotifyDelay bounds how long SendEvent leaves notifications owed.
const maxNotifyDelay = 100 * time.Microsecond

// flush writes owed notification bytes if the setup socket has room.
func (t *shmServer) flush() (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false, nil
	}
	err := t.flushLocked()
	return t.owed > 0, err
}

// flushLocked writes the owed notification bytes without waiting: what
// does not fit stays owed (the event goroutine retries it). The setup
// socket's descriptor stays open while t is not closed (Conn.release
// closes it after the transport).
func (t *shmServer) flushLocked() error {
	if t.owed == 0 {
		return nil
	}
	if t.setupFD < 0 {
		rc, err := t.rawSetup()
		if err != nil {
			return fmt.Errorf("event notification: %w", err)
		}
		rc.Control(func(fd uintptr) { t.setupFD = int(fd) })
	}
	if len(t.zeros) < t.owed {
		t.zeros = make([]byte, max(t.owed, 64))
	}
	for t.owed > 0 {
		n, err := rawio.WriteNow(t.setupFD, t.zeros[:t.owed])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			t.owedSince = monoNow() // tryEvent tries again maxNotifyDelay from now
			return nil
		case err != nil:
			return fmt.Errorf("event notification: %w", err)
		}
		t.owed -= n
	}
	return nil
}

func (t *shmServer) setFlowControl(level int32) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	return t.rq.SetUserData(level)
}

// interrupt stops a next() waiting for notification bytes; the credits it
// holds stay.
func (t *shmServer) interrupt() { t.setup.SetReadDeadline(time.Unix(1, 0)) }

func (t *shmServer) close(bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	t.closed = true
	for _, r := range []*shmring.Ring{t.rq, t.rs, t.ev} {
		if r != nil {
			r.Detach() // a client still mapping the ring fails its next send
			r.Unlink()
			r.Unmap()
		}
	}
	os.Remove(t.dir)
}
