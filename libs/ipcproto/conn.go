package ipcproto

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/needle-cluster/needle/libs/qbipc/rawio"
)

// MaxFrame bounds one frame: a 1 MiB service message plus headroom. A
// larger length prefix means a broken or hostile peer.
const MaxFrame = 4 << 20

// ErrFrameTooLarge is returned for frames over MaxFrame.
var ErrFrameTooLarge = errors.New("ipcproto: frame too large")

// Conn is one bus connection. Send and SendBatch may be called from many
// goroutines; Recv from one.
type Conn struct {
	c   net.Conn
	r   *bufio.Reader
	w   io.Writer // c, or its raw stream (package rawio)
	wmu sync.Mutex
	wb  []byte // frames being written, reused under wmu
	hdr [4]byte
}

// keepWriteBuf is the write buffer capacity kept between writes; a larger
// one (after a big batch) is released.
const keepWriteBuf = 256 << 10

// NewConn wraps an established stream connection.
func NewConn(c net.Conn) *Conn {
	if rs := rawio.NewStream(c); rs != nil {
		return &Conn{c: c, r: bufio.NewReaderSize(rs, 64<<10), w: rs}
	}
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10), w: c}
}

// Dial connects to the bus socket at path.
func Dial(ctx context.Context, path string) (*Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("ipcproto: dial %s: %w", path, err)
	}
	return NewConn(c), nil
}

// Send writes one message.
func (c *Conn) Send(m *Msg) error {
	return c.SendBatch([]*Msg{m})
}

// SendBatch writes several messages, each its own frame, in order and with
// one write: the frames are what Send would write one by one, so the peer
// cannot tell the difference, but the bus costs one system call per batch
// instead of one per message. Nothing is written if any message is
// invalid or too large.
func (c *Conn) SendBatch(ms []*Msg) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	b := c.wb[:0]
	for _, m := range ms {
		at := len(b)
		b = append(b, 0, 0, 0, 0)
		var err error
		if b, err = appendEncode(b, m); err != nil {
			return err
		}
		n := len(b) - at - 4
		if n > MaxFrame {
			return fmt.Errorf("%w: %d bytes (%s)", ErrFrameTooLarge, n, m.Kind)
		}
		binary.BigEndian.PutUint32(b[at:], uint32(n))
	}
	_, err := c.w.Write(b)
	if cap(b) <= keepWriteBuf {
		c.wb = b[:0]
	} else {
		c.wb = nil
	}
	if err != nil {
		if len(ms) == 1 {
			return fmt.Errorf("ipcproto: send %s: %w", ms[0].Kind, err)
		}
		return fmt.Errorf("ipcproto: send %d frames: %w", len(ms), err)
	}
	return nil
}

// Recv reads one message. io.EOF means the peer closed cleanly between
// frames.
func (c *Conn) Recv() (*Msg, error) {
	if _, err := io.ReadFull(c.r, c.hdr[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("ipcproto: read frame header: %w", err)
	}
	n := binary.BigEndian.Uint32(c.hdr[:])
	if n > MaxFrame {
		return nil, fmt.Errorf("%w: length prefix %d", ErrFrameTooLarge, n)
	}
	body, err := readFrame(c.r, n)
	if err != nil {
		return nil, err
	}
	return Decode(body)
}

// Close closes the connection.
func (c *Conn) Close() error { return c.c.Close() }

// SetReadDeadline bounds the Recv calls that follow (a zero time removes
// the bound): a reader that must not wait forever, such as a test, sets it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.c.SetReadDeadline(t) }

// FrameBuffered reports whether a whole frame has already been read from
// the socket, so that Recv returns it without blocking: a reader can take
// every frame that arrived together and handle them as one batch.
func (c *Conn) FrameBuffered() bool {
	if c.r.Buffered() < 4 {
		return false
	}
	hdr, err := c.r.Peek(4)
	if err != nil {
		return false
	}
	n := binary.BigEndian.Uint32(hdr)
	return n <= MaxFrame && uint64(c.r.Buffered()) >= 4+uint64(n)
}
