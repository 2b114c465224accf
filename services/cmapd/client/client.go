// Package client is a Go cmap client: libcmap's operations (get, set,
// delete, inc/dec, iteration, tracking, map selection) over libqb IPC, so
// Go tools and tests talk to cmapd and to a real corosync alike. Every
// call returns the daemon's cs_error_t as a cs.Error (compare with ==), or
// another error when the connection itself failed.
package client

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/needle-cluster/needle/libs/corotypes/cmapwire"
	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// Map selects cmap's map (cmap_map_t).
type Map int32

// The maps of corosync 3.x.
const (
	MapDefault Map = 0 // icmap
	MapStats   Map = 1
)

// Tracker flags (cmap_track_type).
const (
	TrackDelete int32 = 1
	TrackModify int32 = 2
	TrackAdd    int32 = 4
	TrackPrefix int32 = 8
)

// Client is one cmap connection. Requests are serialized; ReadEvent may
// run concurrently with them.
type Client struct {
	ipc *qbipc.Client
}

// Dial connects to the local "cmap" service and selects m, as
// cmap_initialize_map does (SET_CURRENT_MAP is always the first request).
// Connection failures are reported as the cs.Error libcmap would give
// (CS_ERR_LIBRARY when nothing listens, CS_ERR_ACCESS when refused,
// CS_ERR_TRY_AGAIN when busy) wrapped with the cause.
func Dial(ctx context.Context, m Map) (*Client, error) {
	ipc, err := qbipc.Dial(ctx, "cmap", qbipc.DialOptions{})
	if err != nil {
		return nil, &ConnectError{Code: connectCode(err), Err: err}
	}
	c := &Client{ipc: ipc}
	if err := c.SetCurrentMap(ctx, m); err != nil {
		ipc.Close()
		return nil, err
	}
	return c, nil
}

// ConnectError is a failed Dial with the cs_error_t a C client sees.
type ConnectError struct {
	Code cs.Error
	Err  error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("cmap connect: %s: %v", e.Code, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Code }

// connectCode is the code of a failed connect.
func connectCode(err error) cs.Error { return errnoCode(qbipc.Errno(err)) }

// errnoCode maps a libqb errno to the cs_error_t corosync's libraries
// return for it.
func errnoCode(e syscall.Errno) cs.Error { return cs.FromErrno(e) }

// Code returns the cs_error_t carried by err: OK for nil, the code of a
// cs.Error or ConnectError, and for a transport failure the code libcmap
// reports for its errno (CS_ERR_LIBRARY for a lost connection).
func Code(err error) cs.Error {
	var c cs.Error
	switch {
	case err == nil:
		return cs.OK
	case errors.As(err, &c):
		return c
	}
	if code := errnoCode(qbipc.Errno(err)); code != cs.OK {
		return code
	}
	return cs.ErrLibrary
}

// Close disconnects.
func (c *Client) Close() error { return c.ipc.Close() }

// Transport reports which libqb transport the server chose.
func (c *Client) Transport() qbipc.Transport { return c.ipc.Transport() }

func (c *Client) call(ctx context.Context, r cmapwire.Request) ([]byte, error) {
	b, err := c.ipc.Request(ctx, r.Encode())
	if err != nil {
		return nil, fmt.Errorf("cmap request %d: %w", r.ID(), err)
	}
	return b, nil
}

func (c *Client) status(ctx context.Context, r cmapwire.Request, resID int32) error {
	b, err := c.call(ctx, r)
	if err != nil {
		return err
	}
	st, err := cmapwire.DecodeStatus(b, resID)
	if err != nil {
		return err
	}
	return st.Err()
}

// SetCurrentMap selects the map for the following requests.
func (c *Client) SetCurrentMap(ctx context.Context, m Map) error {
	return c.status(ctx, cmapwire.SetCurrentMap{Map: int32(m)}, cmapwire.ResSetCurrentMap)
}

// Set stores v under key.
func (c *Client) Set(ctx context.Context, key string, v value.Value) error {
	return c.status(ctx, cmapwire.Set{Key: key, Type: v.Type, Value: v.Data}, cmapwire.ResSet)
}

// SetString stores a string as libcmap's cmap_set_string does: without
// its terminating NUL (the daemon adds it).
func (c *Client) SetString(ctx context.Context, key, s string) error {
	return c.status(ctx, cmapwire.Set{Key: key, Type: value.String, Value: []byte(s)}, cmapwire.ResSet)
}

// Delete removes key.
func (c *Client) Delete(ctx context.Context, key string) error {
	return c.status(ctx, cmapwire.Delete{Key: key}, cmapwire.ResDelete)
}

// Adjust adds step to an integer key (cmap_inc is +1, cmap_dec -1).
func (c *Client) Adjust(ctx context.Context, key string, step int32) error {
	return c.status(ctx, cmapwire.AdjustInt{Key: key, Step: step}, cmapwire.ResAdjustInt)
}

// Inc is cmap_inc.
func (c *Client) Inc(ctx context.Context, key string) error { return c.Adjust(ctx, key, 1) }

// Dec is cmap_dec.
func (c *Client) Dec(ctx context.Context, key string) error { return c.Adjust(ctx, key, -1) }

// GetBuf is one GET with a buffer of bufLen bytes: 0 asks only for type
// and length (the reply's Value is then nil).
func (c *Client) GetBuf(ctx context.Context, key string, bufLen uint64) (cmapwire.GetReply, error) {
	b, err := c.call(ctx, cmapwire.Get{Key: key, BufLen: bufLen})
	if err != nil {
		return cmapwire.GetReply{}, err
	}
	r, st, err := cmapwire.DecodeGet(b, bufLen)
	if err != nil {
		return cmapwire.GetReply{}, err
	}
	return r, st.Err()
}

// Get reads a value: a probe for its length, then the value, as
// cmap_get_string does for every type.
func (c *Client) Get(ctx context.Context, key string) (value.Value, error) {
	p, err := c.GetBuf(ctx, key, 0)
	if err != nil {
		return value.Value{}, err
	}
	if p.Len == 0 {
		return value.Value{Type: p.Type, Data: []byte{}}, nil
	}
	r, err := c.GetBuf(ctx, key, p.Len)
	if err != nil {
		return value.Value{}, err
	}
	return value.Value{Type: r.Type, Data: r.Value}, nil
}

// Entry is one key of an iteration: its name, stored length and type.
type Entry = cmapwire.IterEntry

// IterInit starts an iteration over keys with prefix ("" = all).
func (c *Client) IterInit(ctx context.Context, prefix string) (uint64, error) {
	b, err := c.call(ctx, cmapwire.IterInit{Prefix: prefix})
	if err != nil {
		return 0, err
	}
	h, st, err := cmapwire.DecodeHandle(b, cmapwire.ResIterInit)
	if err != nil {
		return 0, err
	}
	return h, st.Err()
}

// IterNext returns the next key; cs.ErrNoSections at the end.
func (c *Client) IterNext(ctx context.Context, iter uint64) (Entry, error) {
	b, err := c.call(ctx, cmapwire.IterNext{Iter: iter})
	if err != nil {
		return Entry{}, err
	}
	e, st, err := cmapwire.DecodeIterNext(b)
	if err != nil {
		return Entry{}, err
	}
	return e, st.Err()
}

// IterFinalize frees an iterator.
func (c *Client) IterFinalize(ctx context.Context, iter uint64) error {
	return c.status(ctx, cmapwire.IterFinalize{Iter: iter}, cmapwire.ResIterFinalize)
}

// Keys lists every key under prefix with its length and type.
func (c *Client) Keys(ctx context.Context, prefix string) ([]Entry, error) {
	h, err := c.IterInit(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var es []Entry
	for {
		e, err := c.IterNext(ctx, h)
		if err == cs.ErrNoSections {
			break
		}
		if err != nil {
			return es, err
		}
		es = append(es, e)
	}
	return es, c.IterFinalize(ctx, h)
}

// TrackAdd registers a tracker; cookie comes back in every event.
func (c *Client) TrackAdd(ctx context.Context, key string, flags int32, cookie uint64) (uint64, error) {
	b, err := c.call(ctx, cmapwire.TrackAdd{Key: key, Flags: flags, Cookie: cookie})
	if err != nil {
		return 0, err
	}
	h, st, err := cmapwire.DecodeHandle(b, cmapwire.ResTrackAdd)
	if err != nil {
		return 0, err
	}
	return h, st.Err()
}

// TrackDelete removes a tracker and returns its cookie.
func (c *Client) TrackDelete(ctx context.Context, track uint64) (uint64, error) {
	b, err := c.call(ctx, cmapwire.TrackDelete{Track: track})
	if err != nil {
		return 0, err
	}
	h, st, err := cmapwire.DecodeHandle(b, cmapwire.ResTrackDelete)
	if err != nil {
		return 0, err
	}
	return h, st.Err()
}

// ReadEvent waits for the next tracker event until ctx ends.
func (c *Client) ReadEvent(ctx context.Context) (cmapwire.Notify, error) {
	b, err := c.ipc.ReadEvent(ctx)
	if err != nil {
		return cmapwire.Notify{}, fmt.Errorf("cmap event: %w", err)
	}
	return cmapwire.DecodeNotify(b)
}
