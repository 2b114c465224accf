package qbipc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// handshake runs libqb's connection setup on a freshly accepted setup
// socket (spec/ipc-libqb.md §3) and, on success, starts serving it.
func (s *Server) handshake(uc *net.UnixConn) {
	log := s.log
	uc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	req, creds, fd, err := readConnRequest(uc)
	if err != nil {
		// libqb closes without a response; so do we.
		log.Warn("bad connection request, closing", "err", err)
		uc.Close()
		return
	}
	log = log.With("pid", creds.PID, "uid", creds.UID, "gid", creds.GID)
	maxMsg := int(req.maxMsgSize)
	if maxMsg < DefaultMaxMsgSize {
		maxMsg = DefaultMaxMsgSize
	}
	if maxMsg > s.cfg.MaxMsgSize {
		maxMsg = s.cfg.MaxMsgSize
	}
	c := newConn(s, uc, creds, maxMsg, s.newID(), s.cfg.Transport)
	// Nothing more to read here; a paused server's interrupt (register)
	// sets a read deadline that must outlive the handshake.
	uc.SetReadDeadline(time.Time{})
	started := false
	defer func() {
		if !started {
			c.shutdown() // releases what c holds, the event budget's share included
		}
	}()
	if err := s.h.Connect(c); err != nil {
		log.Info("connection refused", "err", err)
		refuse(uc, errnoOf(err, syscall.EACCES))
		return
	}
	t, names, err := s.newTransport(c, fd)
	if err != nil {
		log.Error("cannot create connection resources", "err", err)
		refuse(uc, errnoOf(err, syscall.ENOMEM))
		s.h.Disconnect(c)
		return
	}
	if err := c.attach(t); err != nil {
		log.Error("cannot set up connection", "err", err)
		refuse(uc, syscall.ENOMEM)
		t.close(false)
		s.h.Disconnect(c)
		return
	}
	// Registered before the client learns it is connected, so that
	// Server.Conns and Server.Close always see it.
	if !s.register(c) {
		refuse(uc, syscall.ECONNREFUSED)
		t.close(false)
		s.h.Disconnect(c)
		return
	}
	resp := connResponse{transport: s.cfg.Transport.wire(), maxMsgSize: uint32(maxMsg), connID: c.id,
		request: names[0], response: names[1], event: names[2]}
	b, err := resp.encode()
	if err == nil {
		err = writeAll(uc, b)
	}
	if err != nil {
		log.Warn("sending connection response failed", "err", err)
		s.unregister(c)
		c.shutdown()
		s.h.Disconnect(c)
		return
	}
	uc.SetWriteDeadline(time.Time{})
	log.Debug("client connected", "conn", c.id, "transport", s.cfg.Transport, "max_msg_size", maxMsg)
	started = true
	c.start()
}

// readConnRequest reads the 24-byte connection request and the client's
// credentials: SCM_CREDENTIALS as libqb reads them, else SO_PEERCRED.
func readConnRequest(uc *net.UnixConn) (connRequest, Creds, uintptr, error) {
	var fd uintptr
	rc, err := uc.SyscallConn()
	if err != nil {
		return connRequest{}, Creds{}, 0, err
	}
	var sockErr error
	rc.Control(func(f uintptr) {
		fd = f
		sockErr = unix.SetsockoptInt(int(f), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	})
	if sockErr != nil {
		return connRequest{}, Creds{}, 0, fmt.Errorf("SO_PASSCRED: %w", sockErr)
	}
	buf := make([]byte, connReqSize)
	oob := make([]byte, unix.CmsgSpace(unix.SizeofUcred))
	var creds Creds
	haveCreds := false
	for got := 0; got < len(buf); {
		n, oobn, _, _, err := uc.ReadMsgUnix(buf[got:], oob)
		if n == 0 && err == nil {
			err = io.EOF
		}
		if err != nil {
			return connRequest{}, Creds{}, 0, fmt.Errorf("read connection request (%d of %d bytes): %w", got, len(buf), err)
		}
		if !haveCreds && oobn > 0 {
			creds, haveCreds = credsFromOOB(oob[:oobn])
		}
		got += n
	}
	if !haveCreds {
		if creds, err = peerCreds(fd); err != nil {
			return connRequest{}, Creds{}, 0, err
		}
	}
	req, err := decodeConnRequest(buf)
	return req, creds, fd, err
}

// refuse answers with a full-size response carrying -errno and closes.
func refuse(uc *net.UnixConn, e syscall.Errno) {
	b, _ := connResponse{errno: e}.encode()
	writeAll(uc, b)
	uc.Close()
}

func errnoOf(err error, def syscall.Errno) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) && e != 0 {
		return e
	}
	return def
}

func writeAll(uc *net.UnixConn, b []byte) error {
	_, err := uc.Write(b) // net.Conn.Write loops until all is written or it fails
	return err
}

// newTransport creates the per-connection directory and the channels of
// the configured transport, returning the three names for the response.
func (s *Server) newTransport(c *Conn, fd uintptr) (srvTransport, [3]string, error) {
	var names [3]string
	dir, err := os.MkdirTemp(s.cfg.Dir, fmt.Sprintf("qb-%d-%d-%d-", os.Getpid(), c.creds.PID, fd))
	if err != nil {
		return nil, names, fmt.Errorf("connection directory: %w", err)
	}
	// 0770 and owned by the client: a non-root client must create nothing
	// here, but it must reach its files.
	if err = os.Chmod(dir, 0o770); err == nil {
		err = os.Chown(dir, int(c.creds.UID), int(c.creds.GID))
	}
	if err != nil {
		os.Remove(dir)
		return nil, names, fmt.Errorf("connection directory %s: %w", dir, err)
	}
	base := filepath.Join(dir, "qb")
	var t srvTransport
	if s.cfg.Transport == Socket {
		t, names, err = newSockServer(c, dir, base)
	} else {
		t, names, err = newShmServer(c, dir, base)
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, names, err
	}
	return t, names, nil
}
