package qbipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"syscall"
)

// Sizes and ids of libqb's wire structs (x86_64, spec/ipc-libqb.md §1).
const (
	// ReqHeaderSize is the size of the header in front of every request.
	ReqHeaderSize = 16
	// RespHeaderSize is the size of the header in front of every response and event.
	RespHeaderSize = 24
	// DefaultMaxMsgSize is what every corosync client library asks for.
	DefaultMaxMsgSize = 1 << 20

	connReqSize  = 24
	connRespSize = 12328
	pathMax      = 4096

	msgAuthenticate = -1 // id of the connection request and response
	msgDisconnect   = -3 // a client asking to close (libqb 2.0.6 never sends it)

	wireSocket = 0 // connection_type values
	wireSHM    = 1

	// offsets of the three path fields in the connection response
	offRespRequest  = 40
	offRespResponse = offRespRequest + pathMax
	offRespEvent    = offRespResponse + pathMax
)

var le = binary.LittleEndian

// Transport selects how messages travel after the handshake.
type Transport uint8

const (
	// SHM is shared-memory rings in /dev/shm: corosync's default, and the only
	// transport Pacemaker accepts (spec/ipc-libqb.md §0).
	SHM Transport = iota
	// Socket is unix datagram sockets: simpler, visible in strace.
	Socket
)

func (t Transport) String() string {
	switch t {
	case SHM:
		return "shm"
	case Socket:
		return "socket"
	}
	return fmt.Sprintf("transport(%d)", uint8(t))
}

// ParseTransport maps corosync's system.qb_ipc_type values to a Transport.
func ParseTransport(s string) (Transport, error) {
	switch s {
	case "native", "shm", "":
		return SHM, nil
	case "socket":
		return Socket, nil
	}
	return 0, fmt.Errorf("qb_ipc_type %q: want native, shm or socket", s)
}

func (t Transport) wire() int32 {
	if t == Socket {
		return wireSocket
	}
	return wireSHM
}

// ReqHeader is the 16-byte header of a request (id@0, size@8).
type ReqHeader struct {
	ID   int32
	Size int32
}

// RespHeader is the 24-byte header of a response or event (id@0, size@8, error@16).
type RespHeader struct {
	ID    int32
	Size  int32
	Error int32
}

// ErrShortMessage reports a message shorter than its fixed header.
var ErrShortMessage = errors.New("message shorter than its header")

// DecodeReqHeader reads the request header at the start of b.
func DecodeReqHeader(b []byte) (ReqHeader, error) {
	if len(b) < ReqHeaderSize {
		return ReqHeader{}, fmt.Errorf("request header: %d bytes: %w", len(b), ErrShortMessage)
	}
	return ReqHeader{ID: int32(le.Uint32(b[0:])), Size: int32(le.Uint32(b[8:]))}, nil
}

// DecodeRespHeader reads the response header at the start of b.
func DecodeRespHeader(b []byte) (RespHeader, error) {
	if len(b) < RespHeaderSize {
		return RespHeader{}, fmt.Errorf("response header: %d bytes: %w", len(b), ErrShortMessage)
	}
	return RespHeader{ID: int32(le.Uint32(b[0:])), Size: int32(le.Uint32(b[8:])), Error: int32(le.Uint32(b[16:]))}, nil
}

// NewRequest allocates a request of total length ReqHeaderSize+bodyLen with
// its header filled in; the caller writes the body at offset 16.
func NewRequest(id int32, bodyLen int) []byte {
	b := make([]byte, ReqHeaderSize+bodyLen)
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(len(b)))
	return b
}

// NewResponse allocates a response or event of total length
// RespHeaderSize+bodyLen with id, size and error (a cs_error_t) filled in.
func NewResponse(id, csError int32, bodyLen int) []byte {
	b := make([]byte, RespHeaderSize+bodyLen)
	le.PutUint32(b[0:], uint32(id))
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[16:], uint32(csError))
	return b
}

// validateRequest checks a request received from a client: its header must
// describe exactly the bytes that arrived, within the negotiated maximum.
func validateRequest(b []byte, maxMsg int) (ReqHeader, error) {
	h, err := DecodeReqHeader(b)
	if err != nil {
		return h, err
	}
	switch {
	case len(b) > maxMsg:
		return h, fmt.Errorf("request of %d bytes exceeds max_msg_size %d", len(b), maxMsg)
	case int(h.Size) != len(b):
		return h, fmt.Errorf("request id %d: header size %d but %d bytes arrived", h.ID, h.Size, len(b))
	case h.ID < 0:
		return h, fmt.Errorf("request with reserved id %d", h.ID)
	}
	return h, nil
}

// connRequest is the client's 24-byte connection request (§3.1).
type connRequest struct {
	maxMsgSize uint32
}

func (r connRequest) encode() []byte {
	b := make([]byte, connReqSize)
	le.PutUint32(b[0:], uint32(0xffffffff)) // msgAuthenticate
	le.PutUint32(b[8:], connReqSize)
	le.PutUint32(b[16:], r.maxMsgSize)
	return b
}

func decodeConnRequest(b []byte) (connRequest, error) {
	if len(b) != connReqSize {
		return connRequest{}, fmt.Errorf("connection request: %d bytes, want %d", len(b), connReqSize)
	}
	id, size := int32(le.Uint32(b[0:])), int32(le.Uint32(b[8:]))
	if id != msgAuthenticate {
		return connRequest{}, fmt.Errorf("connection request: id %d, want %d", id, msgAuthenticate)
	}
	if size != connReqSize {
		return connRequest{}, fmt.Errorf("connection request: size field %d, want %d", size, connReqSize)
	}
	return connRequest{maxMsgSize: le.Uint32(b[16:])}, nil
}

// connResponse is the server's 12328-byte connection response (§3.2).
type connResponse struct {
	errno      syscall.Errno // 0 = accepted
	transport  int32         // wireSocket or wireSHM
	maxMsgSize uint32
	connID     uint64
	request    string
	response   string
	event      string
}

func (r connResponse) encode() ([]byte, error) {
	b := make([]byte, connRespSize)
	le.PutUint32(b[0:], uint32(0xffffffff))
	le.PutUint32(b[8:], connRespSize)
	le.PutUint32(b[16:], uint32(-int32(r.errno)))
	if r.errno != 0 {
		return b, nil
	}
	le.PutUint32(b[24:], uint32(r.transport))
	le.PutUint32(b[28:], r.maxMsgSize)
	le.PutUint64(b[32:], r.connID)
	for _, f := range []struct {
		off int
		s   string
	}{{offRespRequest, r.request}, {offRespResponse, r.response}, {offRespEvent, r.event}} {
		if len(f.s) >= pathMax {
			return nil, fmt.Errorf("connection response: path of %d bytes does not fit %d", len(f.s), pathMax)
		}
		copy(b[f.off:], f.s)
	}
	return b, nil
}

// RefusedError is a connection refused by the server with a negative errno.
type RefusedError struct {
	Errno syscall.Errno
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("connection refused by server: %v", e.Errno)
}

// Unwrap lets errors.Is(err, syscall.EACCES) and friends work.
func (e *RefusedError) Unwrap() error { return e.Errno }

func decodeConnResponse(b []byte) (connResponse, error) {
	if len(b) != connRespSize {
		return connResponse{}, fmt.Errorf("connection response: %d bytes, want %d", len(b), connRespSize)
	}
	id, size, e := int32(le.Uint32(b[0:])), int32(le.Uint32(b[8:])), int32(le.Uint32(b[16:]))
	if id != msgAuthenticate || size != connRespSize {
		return connResponse{}, fmt.Errorf("connection response: id %d size %d, want %d and %d", id, size, msgAuthenticate, connRespSize)
	}
	if e > 0 || e < -4095 {
		return connResponse{}, fmt.Errorf("connection response: error field %d is not a negative errno", e)
	}
	if e != 0 {
		return connResponse{errno: syscall.Errno(-e)}, &RefusedError{Errno: syscall.Errno(-e)}
	}
	r := connResponse{
		transport:  int32(le.Uint32(b[24:])),
		maxMsgSize: le.Uint32(b[28:]),
		connID:     le.Uint64(b[32:]),
	}
	var err error
	if r.request, err = cString(b[offRespRequest:offRespResponse], "request path"); err != nil {
		return r, err
	}
	if r.response, err = cString(b[offRespResponse:offRespEvent], "response path"); err != nil {
		return r, err
	}
	if r.event, err = cString(b[offRespEvent:], "event path"); err != nil {
		return r, err
	}
	switch r.transport {
	case wireSocket, wireSHM:
	case 2, 3:
		return r, fmt.Errorf("connection response: transport %d (message queues): %w", r.transport, syscall.ENOTSUP)
	default:
		return r, fmt.Errorf("connection response: unknown transport %d: %w", r.transport, syscall.EINVAL)
	}
	if r.maxMsgSize < RespHeaderSize {
		return r, fmt.Errorf("connection response: max_msg_size %d is below the header size", r.maxMsgSize)
	}
	return r, nil
}

// cString returns the NUL-terminated string at the start of b.
func cString(b []byte, what string) (string, error) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), nil
		}
	}
	return "", fmt.Errorf("%s: no NUL terminator within %d bytes", what, len(b))
}
