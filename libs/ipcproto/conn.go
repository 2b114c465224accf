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
)

// MaxFrame bounds one frame: a 1 MiB service message plus headroom. A
// larger length prefix means a broken or hostile peer.
const MaxFrame = 4 << 20

// ErrFrameTooLarge is returned for frames over MaxFrame.
var ErrFrameTooLarge = errors.New("ipcproto: frame too large")

// Conn is one bus connection. Send may be called from many goroutines;
// Recv from one.
type Conn struct {
	c   net.Conn
	r   *bufio.Reader
	wmu sync.Mutex
	hdr [4]byte
}

// NewConn wraps an established stream connection.
func NewConn(c net.Conn) *Conn {
	return &Conn{c: c, r: bufio.NewReaderSize(c, 64<<10)}
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
	body, err := Encode(m)
	if err != nil {
		return err
	}
	if len(body) > MaxFrame {
		return fmt.Errorf("%w: %d bytes (%s)", ErrFrameTooLarge, len(body), m.Kind)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(body)))
	if _, err := c.c.Write(append(hdr[:], body...)); err != nil {
		return fmt.Errorf("ipcproto: send %s: %w", m.Kind, err)
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
