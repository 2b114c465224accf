// Package client is a Go cpg client: libcpg's operations (model-v1
// initialize, join, leave, multicast with libcpg's fragmentation of
// messages larger than one chunk, membership_get, local_get, iteration,
// finalize) and its dispatch (events decoded, partial deliveries
// reassembled per sender as libcpg does) over libqb IPC, so Go tools and
// tests talk to cpgd and to a real corosync alike.
//
// Every call returns the daemon's cs_error_t as a cs.Error (compare with
// ==, or use Code), or another error when the connection itself failed.
// Mcast returns cs.ErrTryAgain at once when libqb's flow-control flag is
// raised or the request channel is full, exactly when libcpg's
// cpg_mcast_joined does; the caller dispatches events and tries again.
package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/cpgd/wire"
)

// Guarantee is cpg_guarantee_t (ignored by corosync: always agreed order).
type Guarantee uint32

// The guarantees libcpg defines.
const (
	TypeUnordered Guarantee = 0
	TypeFIFO      Guarantee = 1
	TypeAgreed    Guarantee = 2
	TypeSafe      Guarantee = 3
)

// Partial-send retries, as libcpg 3.1.7: a fragment refused with
// TRY_AGAIN is resent up to 100 times, 10 ms apart (addendum-317 §3.6).
const (
	partialRetries = 100
	partialBackoff = 10 * time.Millisecond
)

// Options select the model-v1 behaviour.
type Options struct {
	// Flags are cpg_model_v1_data_t.flags; only
	// wire.FlagInitialTotemConf is allowed (libcpg refuses others with
	// CS_ERR_INVALID_PARAM).
	Flags uint32
	// PID is sent in JOIN and LEAVE; 0 means os.Getpid() as libcpg does.
	// Distinct values let one process act as several members in tests.
	PID uint32
}

// Client is one cpg connection (a libcpg handle). Requests are
// serialized; ReadEvent may run concurrently with them but not with
// itself (it owns the reassembly state).
type Client struct {
	ipc   *qbipc.Client
	opts  Options
	asm   map[sender][]byte // partial messages being reassembled
	maxAt int               // largest single MCAST payload
}

type sender struct{ nodeid, pid uint32 }

// ConnectError is a failed Dial with the cs_error_t a C client sees.
type ConnectError struct {
	Code cs.Error
	Err  error
}

func (e *ConnectError) Error() string { return fmt.Sprintf("cpg connect: %s: %v", e.Code, e.Err) }
func (e *ConnectError) Unwrap() error { return e.Code }

// Dial connects to the local "cpg" service, as cpg_model_initialize does
// (nothing is sent after the libqb handshake).
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Flags&^wire.FlagInitialTotemConf != 0 {
		return nil, fmt.Errorf("cpg model v1 flags %#x: %w", o.Flags, cs.ErrInvalidParam)
	}
	if o.PID == 0 {
		o.PID = uint32(os.Getpid())
	}
	ipc, err := qbipc.Dial(ctx, "cpg", qbipc.DialOptions{})
	if err != nil {
		return nil, &ConnectError{Code: cs.FromErrno(qbipc.Errno(err)), Err: err}
	}
	return &Client{ipc: ipc, opts: o, asm: map[sender][]byte{}, maxAt: wire.MaxAtomic}, nil
}

// Code returns the cs_error_t carried by err: OK for nil, the code of a
// cs.Error or ConnectError, and for a transport failure the code libcpg
// reports for its errno (CS_ERR_TRY_AGAIN for flow control,
// CS_ERR_LIBRARY for a lost connection).
func Code(err error) cs.Error {
	var c cs.Error
	switch {
	case err == nil:
		return cs.OK
	case errors.As(err, &c):
		return c
	}
	if code := cs.FromErrno(qbipc.Errno(err)); code != cs.OK {
		return code
	}
	return cs.ErrLibrary
}

// PID is the pid this handle joins with.
func (c *Client) PID() uint32 { return c.opts.PID }

// Transport reports which libqb transport the server chose.
func (c *Client) Transport() qbipc.Transport { return c.ipc.Transport() }

// Close disconnects without FINALIZE (as a process that exits); the
// daemon then leaves the group with reason PROCDOWN.
func (c *Client) Close() error { return c.ipc.Close() }

func (c *Client) call(ctx context.Context, r wire.Request) ([]byte, error) {
	b, err := c.ipc.Request(ctx, r.Encode())
	if err != nil {
		return nil, fmt.Errorf("cpg request %d: %w", r.ID(), err)
	}
	return b, nil
}

func (c *Client) status(ctx context.Context, r wire.Request, resID int32) (cs.Error, error) {
	b, err := c.call(ctx, r)
	if err != nil {
		return 0, err
	}
	return wire.DecodeStatus(b, resID)
}

func checkName(g string) error {
	if len(g) > wire.NameMax {
		return fmt.Errorf("cpg group name of %d bytes: %w", len(g), cs.ErrNameTooLong)
	}
	return nil
}

// Join joins group, retrying while the daemon answers CS_ERR_BUSY (as
// libcpg does). The join is complete when its confchg arrives.
func (c *Client) Join(ctx context.Context, group string) error {
	if err := checkName(group); err != nil {
		return err
	}
	for {
		st, err := c.status(ctx, wire.Join{Group: group, PID: c.opts.PID, Flags: c.opts.Flags}, wire.ResJoin)
		if err != nil {
			return err
		}
		if st != cs.ErrBusy {
			return st.Err()
		}
	}
}

// Leave leaves group, retrying while CS_ERR_BUSY.
func (c *Client) Leave(ctx context.Context, group string) error {
	if err := checkName(group); err != nil {
		return err
	}
	for {
		st, err := c.status(ctx, wire.Leave{Group: group, PID: c.opts.PID}, wire.ResLeave)
		if err != nil {
			return err
		}
		if st != cs.ErrBusy {
			return st.Err()
		}
	}
}

// Mcast multicasts msg to the joined group (cpg_mcast_joined). Up to
// wire.MaxAtomic bytes go as one MCAST, which the daemon never answers:
// cs.ErrTryAgain comes back at once when the flow-control flag is raised
// or the request ring is full, and nothing was sent. Larger messages are
// sent as PARTIAL_MCAST fragments, each answered (see sendFragments).
func (c *Client) Mcast(ctx context.Context, g Guarantee, msg []byte) error {
	if len(msg) > c.maxAt {
		return c.sendFragments(ctx, g, msg)
	}
	_, err := c.ipc.Call(ctx, wire.Mcast{Guarantee: uint32(g), Msg: msg}.Encode(), qbipc.CallOptions{NoResponse: true, FlowControlMax: 2})
	if errors.Is(err, qbipc.ErrTryAgain) {
		return cs.ErrTryAgain
	}
	if err != nil {
		return fmt.Errorf("cpg mcast of %d bytes: %w", len(msg), err)
	}
	return nil
}

// sendFragments is libcpg's send_fragments: fragments of at most
// MaxAtomic bytes, FIRST / CONTINUED / LAST, each waiting for its reply;
// a transport TRY_AGAIN is retried up to 100 times 10 ms apart, a reply
// error (CS_ERR_INTERRUPT after a confchg, CS_ERR_NOT_EXIST when not
// joined) ends the message there.
func (c *Client) sendFragments(ctx context.Context, g Guarantee, msg []byte) error {
	for sent := 0; sent < len(msg); {
		n := min(len(msg)-sent, c.maxAt)
		typ := wire.PartialContinued
		switch {
		case sent == 0:
			typ = wire.PartialFirst
		case sent+n == len(msg):
			typ = wire.PartialLast
		}
		req := wire.PartialMcast{Guarantee: uint32(g), MsgLen: uint32(len(msg)), Type: typ, Frag: msg[sent : sent+n]}
		var resp []byte
		for retry := 0; ; retry++ {
			var err error
			resp, err = c.ipc.Call(ctx, req.Encode(), qbipc.CallOptions{FlowControlMax: 2})
			if err == nil {
				break
			}
			if !errors.Is(err, qbipc.ErrTryAgain) {
				return fmt.Errorf("cpg partial mcast at byte %d of %d: %w", sent, len(msg), err)
			}
			if retry >= partialRetries {
				return cs.ErrTryAgain
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(partialBackoff):
			}
		}
		st, err := wire.DecodeStatus(resp, wire.ResPartialSend)
		if err != nil {
			return err
		}
		if st != cs.OK {
			return st
		}
		sent += n
	}
	return nil
}

// Membership returns group's members (cpg_membership_get); an unknown
// group has none.
func (c *Client) Membership(ctx context.Context, group string) ([]wire.Address, error) {
	if err := checkName(group); err != nil {
		return nil, err
	}
	b, err := c.call(ctx, wire.Membership{Group: group})
	if err != nil {
		return nil, err
	}
	m, st, err := wire.DecodeMembership(b)
	if err != nil {
		return nil, err
	}
	return m, st.Err()
}

// LocalGet returns the local node id (cpg_local_get).
func (c *Client) LocalGet(ctx context.Context) (uint32, error) {
	b, err := c.call(ctx, wire.LocalGet{})
	if err != nil {
		return 0, err
	}
	n, st, err := wire.DecodeLocalGet(b)
	if err != nil {
		return 0, err
	}
	return n, st.Err()
}

// IterInit starts an iteration (cpg_iteration_initialize); group is used
// only with wire.IterOneGroup. Like libcpg it refuses a type/group
// combination that makes no sense before sending.
func (c *Client) IterInit(ctx context.Context, typ uint32, group string) (uint64, error) {
	if typ < wire.IterNameOnly || typ > wire.IterAll || (typ != wire.IterOneGroup && group != "") {
		return 0, fmt.Errorf("cpg iteration type %d with group %q: %w", typ, group, cs.ErrInvalidParam)
	}
	if err := checkName(group); err != nil {
		return 0, err
	}
	b, err := c.call(ctx, wire.IterInit{Type: typ, Group: group})
	if err != nil {
		return 0, err
	}
	h, st, err := wire.DecodeIterInit(b)
	if err != nil {
		return 0, err
	}
	return h, st.Err()
}

// IterNext returns the next entry; cs.ErrNoSections at the end.
func (c *Client) IterNext(ctx context.Context, h uint64) (wire.IterEntry, error) {
	b, err := c.call(ctx, wire.IterNext{Handle: h})
	if err != nil {
		return wire.IterEntry{}, err
	}
	e, st, err := wire.DecodeIterNext(b)
	if err != nil {
		return wire.IterEntry{}, err
	}
	return e, st.Err()
}

// IterFinalize frees an iteration.
func (c *Client) IterFinalize(ctx context.Context, h uint64) error {
	st, err := c.status(ctx, wire.IterFinalize{Handle: h}, wire.ResIterFinalize)
	if err != nil {
		return err
	}
	return st.Err()
}

// Iterate runs a whole iteration and returns its entries.
func (c *Client) Iterate(ctx context.Context, typ uint32, group string) ([]wire.IterEntry, error) {
	h, err := c.IterInit(ctx, typ, group)
	if err != nil {
		return nil, err
	}
	var out []wire.IterEntry
	for {
		e, err := c.IterNext(ctx, h)
		if err == cs.ErrNoSections {
			break
		}
		if err != nil {
			return out, err
		}
		out = append(out, e)
	}
	return out, c.IterFinalize(ctx, h)
}

// Finalize sends FINALIZE (the daemon stops delivering to this handle)
// and disconnects, as cpg_finalize does.
func (c *Client) Finalize(ctx context.Context) error {
	st, err := c.status(ctx, wire.Finalize{}, wire.ResFinalize)
	c.ipc.Close()
	if err != nil {
		return err
	}
	return st.Err()
}

// ReadEvent waits for the next event a libcpg callback would see:
// wire.ConfChg, wire.Deliver or wire.TotemConfChg. Partial deliveries are
// reassembled per (nodeid, pid) as libcpg does: a new FIRST drops an
// unfinished message of that sender, a confchg listing the sender as
// left drops it too, and the whole message comes back as one Deliver
// after its LAST fragment. A CONTINUED or LAST fragment with no FIRST
// seen is dropped (libcpg ignores it as well).
func (c *Client) ReadEvent(ctx context.Context) (wire.Event, error) {
	for {
		b, err := c.ipc.ReadEvent(ctx)
		if err != nil {
			return nil, fmt.Errorf("cpg event: %w", err)
		}
		ev, err := wire.DecodeEvent(b)
		if err != nil {
			return nil, err
		}
		switch e := ev.(type) {
		case wire.PartialDeliver:
			if d, ok := c.reassemble(e); ok {
				return d, nil
			}
			continue
		case wire.ConfChg:
			for _, l := range e.Left {
				delete(c.asm, sender{l.NodeID, l.PID})
			}
		}
		return ev, nil
	}
}

func (c *Client) reassemble(e wire.PartialDeliver) (wire.Deliver, bool) {
	k := sender{e.NodeID, e.PID}
	if e.Type == wire.PartialFirst {
		c.asm[k] = make([]byte, 0, e.MsgLen)
	}
	buf, ok := c.asm[k]
	if !ok {
		return wire.Deliver{}, false
	}
	if len(buf)+len(e.Frag) > cap(buf) {
		delete(c.asm, k) // a sender lying about msglen: drop, never overrun
		return wire.Deliver{}, false
	}
	buf = append(buf, e.Frag...)
	c.asm[k] = buf
	if e.Type != wire.PartialLast {
		return wire.Deliver{}, false
	}
	delete(c.asm, k)
	return wire.Deliver{Group: e.Group, NodeID: e.NodeID, PID: e.PID, Msg: buf}, true
}
