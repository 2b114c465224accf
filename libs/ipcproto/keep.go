package ipcproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// MaxKept bounds the names (and so the sockets) of one KindKeep or
// KindKept: a daemon serves a handful of libqb names, each with one or two
// listening sockets.
const MaxKept = 16

// Bounds of one handover (doc.go, "Handing a daemon over"): the state of
// all its KindHandover frames, and their descriptors.
const (
	MaxHandoverBytes = 64 << 20
	MaxHandoverFiles = 4096
)

// SendFiles writes one message with files attached to the same write
// (SCM_RIGHTS): the peer receives its own descriptors for them, and the
// caller still owns its files. The connection must be a unix socket.
func (c *Conn) SendFiles(m *Msg, files []*os.File) error {
	uc, ok := c.c.(*net.UnixConn)
	if !ok {
		return fmt.Errorf("ipcproto: send %s with files: not a unix socket", m.Kind)
	}
	if len(files) > MaxKept {
		return fmt.Errorf("ipcproto: send %s with %d files, at most %d", m.Kind, len(files), MaxKept)
	}
	body, err := Encode(m)
	if err != nil {
		return err
	}
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(body)), uint32(len(body)))
	frame = append(frame, body...)
	var oob []byte
	if len(files) > 0 {
		fds := make([]int, len(files))
		for i, f := range files {
			// Not f.Fd(): it puts the descriptor in blocking mode, and a
			// listening socket's mode is shared with the server that
			// accepts on it (its Accept could then never be interrupted).
			rc, err := f.SyscallConn()
			if err != nil {
				return fmt.Errorf("ipcproto: send %s: file %d: %w", m.Kind, i, err)
			}
			if err := rc.Control(func(fd uintptr) { fds[i] = int(fd) }); err != nil {
				return fmt.Errorf("ipcproto: send %s: file %d: %w", m.Kind, i, err)
			}
		}
		oob = syscall.UnixRights(fds...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	n, oobn, err := uc.WriteMsgUnix(frame, oob, nil)
	if err == nil && oobn != len(oob) {
		err = io.ErrShortWrite
	}
	if err == nil && n < len(frame) {
		// A frame larger than the socket's free buffer leaves in parts;
		// the descriptors went with the first.
		_, err = c.c.Write(frame[n:])
	}
	if err != nil {
		return fmt.Errorf("ipcproto: send %s with %d files: %w", m.Kind, len(files), err)
	}
	return nil
}

// RecvFiles reads one message and the files that came with it (at most
// MaxKept; the descriptors arrive close-on-exec). It reads the socket
// directly, so nothing may be buffered by an earlier Recv: a protocol that
// passes files has each side wait for the other's frame before it sends
// (the keeper exchange does), and RecvFiles refuses to run otherwise.
func (c *Conn) RecvFiles() (*Msg, []*os.File, error) {
	uc, ok := c.c.(*net.UnixConn)
	if !ok {
		return nil, nil, errors.New("ipcproto: receive with files: not a unix socket")
	}
	if c.r.Buffered() > 0 {
		return nil, nil, fmt.Errorf("ipcproto: receive with files: %d bytes already buffered", c.r.Buffered())
	}
	var files []*os.File
	fail := func(err error) (*Msg, []*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, nil, err
	}
	oob := make([]byte, syscall.CmsgSpace(4*MaxKept))
	// read fills b from the socket, keeping every descriptor that arrives.
	read := func(b []byte) error {
		for len(b) > 0 {
			n, oobn, flags, _, err := uc.ReadMsgUnix(b, oob)
			if oobn > 0 {
				got, perr := parseRights(oob[:oobn])
				files = append(files, got...)
				if perr != nil {
					return perr
				}
			}
			if flags&syscall.MSG_CTRUNC != 0 {
				return fmt.Errorf("ipcproto: more than %d files in one message", MaxKept)
			}
			if err != nil {
				return err
			}
			if n == 0 {
				return io.ErrUnexpectedEOF
			}
			b = b[n:]
		}
		return nil
	}
	var hdr [4]byte
	if err := read(hdr[:]); err != nil {
		return fail(fmt.Errorf("ipcproto: read frame header: %w", err))
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > MaxFrame {
		return fail(fmt.Errorf("%w: length prefix %d of a message with files", ErrFrameTooLarge, n))
	}
	body := make([]byte, n)
	if err := read(body); err != nil {
		return fail(fmt.Errorf("ipcproto: read %d-byte frame: %w", n, err))
	}
	if len(files) > MaxKept {
		return fail(fmt.Errorf("ipcproto: %d files in one message, at most %d", len(files), MaxKept))
	}
	m, err := Decode(body)
	if err != nil {
		return fail(err)
	}
	return m, files, nil
}

// parseRights returns the descriptors of the SCM_RIGHTS messages in oob as
// files (every one of them, even when it also reports an error, so that
// none leaks).
func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("ipcproto: control message: %w", err)
	}
	var files []*os.File
	var first error
	for _, cm := range msgs {
		fds, err := syscall.ParseUnixRights(&cm)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("ipcproto: control message: %w", err)
			}
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), "kept-socket"))
		}
	}
	return files, first
}
