// Package client is a Go libcfg: it talks to the "cfg" service over
// libqb IPC (libs/qbipc) with the same bytes as corosync 3.1.7's libcfg,
// so it works against totemd and against a real corosync alike.
package client

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/totemd/internal/cfg"
)

// Client is one connection to the cfg service. Requests are serialized;
// NextEvent may run concurrently with them (events use another channel).
type Client struct {
	c *qbipc.Client
}

// Dial connects to the local cfg service. Failures carry a cs.Error
// as libcfg's corosync_cfg_initialize would report it (errors.As).
func Dial(ctx context.Context) (*Client, error) {
	c, err := qbipc.Dial(ctx, cfg.IPCName, qbipc.DialOptions{})
	if err != nil {
		return nil, &Error{Op: "connect", Code: CSErrorOf(err), Err: err}
	}
	return &Client{c: c}, nil
}

// Close disconnects (corosync_cfg_finalize).
func (c *Client) Close() error { return c.c.Close() }

// Error is a failed cfg call: Code is the cs_error_t libcfg would have
// returned, Err the underlying cause (transport error or Code itself).
type Error struct {
	Op   string
	Code cs.Error
	Err  error
}

func (e *Error) Error() string {
	if errors.Is(e.Err, e.Code) {
		return fmt.Sprintf("cfg %s: %s", e.Op, e.Code.Strerror())
	}
	return fmt.Sprintf("cfg %s: %s: %v", e.Op, e.Code.Strerror(), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Code returns the cs_error_t of err: CS_OK for nil, the code of an
// *Error or cs.Error, CS_ERR_LIBRARY otherwise.
func Code(err error) cs.Error {
	if err == nil {
		return cs.OK
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var code cs.Error
	if errors.As(err, &code) {
		return code
	}
	return cs.ErrLibrary
}

// CSErrorOf maps a transport error to the cs_error_t libcfg reports for
// it (qb_to_cs_error: the errno behind it decides).
func CSErrorOf(err error) cs.Error {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		if errors.Is(err, qbipc.ErrTryAgain) || errors.Is(err, context.DeadlineExceeded) {
			return cs.ErrTryAgain
		}
		return cs.ErrLibrary
	}
	return cs.FromErrno(errno)
}

// call sends r and returns the raw response, or an *Error for transport
// failures.
func (c *Client) call(ctx context.Context, op string, r cfg.Request) ([]byte, error) {
	resp, err := c.c.Request(ctx, r.Encode())
	if err != nil {
		return nil, &Error{Op: op, Code: CSErrorOf(err), Err: err}
	}
	return resp, nil
}

// result turns a decoded status into the call's error.
func result(op string, code cs.Error, decodeErr error) error {
	if decodeErr != nil {
		return &Error{Op: op, Code: cs.ErrLibrary, Err: decodeErr}
	}
	if code != cs.OK {
		return &Error{Op: op, Code: code, Err: code}
	}
	return nil
}

// bare runs a request whose response is a bare header.
func (c *Client) bare(ctx context.Context, op string, r cfg.Request, want cfg.RespID) error {
	b, err := c.call(ctx, op, r)
	if err != nil {
		return err
	}
	resp, err := cfg.DecodeBareResponse(b, want)
	return result(op, resp.Error, err)
}
