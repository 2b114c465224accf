// Package cmapread is the read-only corner of libcmap that
// corosync-cfgtool uses: typed gets and key iteration over the "cmap"
// libqb service (spec/client-api.md §5), byte-compatible with libcmap
// 3.1.7 so that cfgtool reads a real corosync's map as well as cmapd's.
package cmapread

import (
	"context"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

// Client is a connection to the cmap service.
type Client struct{ c *qbipc.Client }

// Dial connects (cmap_initialize: nothing is sent after the handshake).
func Dial(ctx context.Context) (*Client, error) {
	c, err := qbipc.Dial(ctx, "cmap", qbipc.DialOptions{})
	if err != nil {
		return nil, fmt.Errorf("connect to cmap: %w", err)
	}
	return &Client{c: c}, nil
}

// Close disconnects (cmap_finalize).
func (c *Client) Close() error { return c.c.Close() }

// get is cmap_get with a value buffer of bufLen bytes (0: only probe).
func (c *Client) get(ctx context.Context, key string, bufLen int) (getResult, error) {
	msg, err := encodeGet(key, bufLen)
	if err != nil {
		return getResult{}, err
	}
	resp, err := c.c.Request(ctx, msg)
	if err != nil {
		return getResult{}, err
	}
	return decodeGet(resp)
}

// GetUint32 is cmap_get_uint32: CS_ERR_INVALID_PARAM if the key has
// another type.
func (c *Client) GetUint32(ctx context.Context, key string) (uint32, error) {
	r, err := c.get(ctx, key, typedBuf)
	if err != nil {
		return 0, err
	}
	if r.typ != typeUint32 || len(r.value) < 4 {
		return 0, cs.ErrInvalidParam
	}
	return le.Uint32(r.value), nil
}

// GetString is cmap_get_string: a length probe, then the sized read.
func (c *Client) GetString(ctx context.Context, key string) (string, error) {
	probe, err := c.get(ctx, key, 0)
	if err != nil {
		return "", err
	}
	if probe.typ != typeString || probe.stored > 1<<20 {
		return "", cs.ErrInvalidParam
	}
	r, err := c.get(ctx, key, int(probe.stored))
	if err != nil {
		return "", err
	}
	return cString(r.value), nil
}

// Keys lists the keys under prefix in the daemon's (sorted) order. Only
// a failing ITER_INIT is an error: like libcmap's callers, the listing
// simply ends at the first ITER_NEXT that does not succeed.
func (c *Client) Keys(ctx context.Context, prefix string) ([]string, error) {
	msg, err := encodeIterInit(prefix)
	if err != nil {
		return nil, err
	}
	resp, err := c.c.Request(ctx, msg)
	if err != nil {
		return nil, err
	}
	handle, err := decodeIterInit(resp)
	if err != nil {
		return nil, err
	}
	var keys []string
	for {
		resp, err := c.c.Request(ctx, encodeIterHandle(reqIterNext, handle))
		if err != nil {
			break
		}
		key, err := decodeIterNext(resp)
		if err != nil {
			break
		}
		keys = append(keys, key)
	}
	c.c.Request(ctx, encodeIterHandle(reqIterFinalize, handle)) // nothing to do about a failure
	return keys, nil
}
