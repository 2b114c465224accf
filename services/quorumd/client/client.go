// Package client is a Go client for corosync's quorum and votequorum
// services (libquorum and libvotequorum's operations) over libqb IPC, so
// Go tools and tests talk to quorumd and to a real corosync 3.1.7 alike.
// Every call returns the daemon's cs_error_t as a cs.Error (compare with
// ==, or use Code), or another error when the connection itself failed.
//
// Both clients keep the libraries' behaviour where it is visible: Quorum's
// Dial sends GETTYPE (model V0) or MODEL_GETTYPE (V1) at once and returns
// that reply's status, Votequorum's Dial sends nothing, and the qdevice
// calls refuse an empty or too long name locally with
// CS_ERR_INVALID_PARAM, as libvotequorum does.
package client

import (
	"context"
	"errors"
	"fmt"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

// ConnectError is a failed Dial with the cs_error_t a C client sees.
type ConnectError struct {
	Service string
	Code    cs.Error
	Err     error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("%s connect: %s: %v", e.Service, e.Code, e.Err)
}
func (e *ConnectError) Unwrap() error { return e.Code }

// Code returns the cs_error_t carried by err: OK for nil, the code of a
// cs.Error or ConnectError, and for a transport failure the code the C
// libraries report for its errno (CS_ERR_LIBRARY for a lost connection).
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

func dial(ctx context.Context, service string) (*qbipc.Client, error) {
	ipc, err := qbipc.Dial(ctx, service, qbipc.DialOptions{})
	if err != nil {
		return nil, &ConnectError{Service: service, Code: cs.FromErrno(qbipc.Errno(err)), Err: err}
	}
	return ipc, nil
}

// Quorum is one connection to the quorum service.
type Quorum struct {
	ipc        *qbipc.Client
	model      uint32
	quorumType uint32
}

// DialQuorum connects as quorum_model_initialize does: model V0 sends
// GETTYPE, V1 MODEL_GETTYPE. A non-OK status of that reply is returned as
// the error, with the connection closed.
func DialQuorum(ctx context.Context, model uint32) (*Quorum, error) {
	if model != wire.ModelV0 && model != wire.ModelV1 {
		return nil, cs.ErrInvalidParam
	}
	ipc, err := dial(ctx, wire.QuorumEndpoint)
	if err != nil {
		return nil, err
	}
	q := &Quorum{ipc: ipc, model: model}
	var req wire.QRequest = wire.QGetType{}
	resID := wire.QResGetType
	if model == wire.ModelV1 {
		req, resID = wire.QModelGetType{Model: model}, wire.QResModelGetType
	}
	b, err := q.call(ctx, req)
	if err == nil {
		var st cs.Error
		q.quorumType, st, err = wire.DecodeQValue(b, resID)
		if err == nil {
			err = st.Err()
		}
	}
	if err != nil {
		ipc.Close()
		return nil, err
	}
	return q, nil
}

// Type is the quorum type the daemon reported at connect (wire.QuorumFree
// or wire.QuorumSet).
func (q *Quorum) Type() uint32 { return q.quorumType }

// Model is the event model chosen at connect.
func (q *Quorum) Model() uint32 { return q.model }

// Close disconnects (quorum_finalize).
func (q *Quorum) Close() error { return q.ipc.Close() }

func (q *Quorum) call(ctx context.Context, r wire.QRequest) ([]byte, error) {
	b, err := q.ipc.Request(ctx, r.Encode())
	if err != nil {
		return nil, fmt.Errorf("quorum request %d: %w", r.ID(), err)
	}
	return b, nil
}

// GetQuorate is quorum_getquorate.
func (q *Quorum) GetQuorate(ctx context.Context) (bool, error) {
	b, err := q.call(ctx, wire.QGetQuorate{})
	if err != nil {
		return false, err
	}
	v, st, err := wire.DecodeQValue(b, wire.QResGetQuorate)
	if err != nil {
		return false, err
	}
	return v != 0, st.Err()
}

// TrackStart is quorum_trackstart (flags: wire.TrackCurrent …).
func (q *Quorum) TrackStart(ctx context.Context, flags uint32) error {
	return q.status(ctx, wire.QTrackStart{Flags: flags}, wire.QResTrackStart)
}

// TrackStop is quorum_trackstop.
func (q *Quorum) TrackStop(ctx context.Context) error {
	return q.status(ctx, wire.QTrackStop{}, wire.QResTrackStop)
}

func (q *Quorum) status(ctx context.Context, r wire.QRequest, id int32) error {
	b, err := q.call(ctx, r)
	if err != nil {
		return err
	}
	st, err := wire.DecodeQStatus(b, id)
	if err != nil {
		return err
	}
	return st.Err()
}

// ReadEvent waits for the next event until ctx ends: a wire.QNotification
// (model V0) or a wire.QV1Quorum / wire.QV1Nodelist (V1). An event the
// connection's model does not know is an error wrapping
// cs.ErrLibrary, as libquorum's dispatch reports it.
func (q *Quorum) ReadEvent(ctx context.Context) (any, error) {
	b, err := q.ipc.ReadEvent(ctx)
	if err != nil {
		return nil, fmt.Errorf("quorum event: %w", err)
	}
	ev, err := wire.DecodeQEvent(b)
	if err != nil {
		return nil, err
	}
	_, v0 := ev.(wire.QNotification)
	if v0 != (q.model == wire.ModelV0) {
		return nil, fmt.Errorf("quorum event %T on a model %d connection: %w", ev, q.model, cs.ErrLibrary)
	}
	return ev, nil
}

// Votequorum is one connection to the votequorum service.
type Votequorum struct {
	ipc *qbipc.Client
}

// DialVotequorum connects as votequorum_initialize does (no request).
func DialVotequorum(ctx context.Context) (*Votequorum, error) {
	ipc, err := dial(ctx, wire.VotequorumEndpoint)
	if err != nil {
		return nil, err
	}
	return &Votequorum{ipc: ipc}, nil
}

// Close disconnects (votequorum_finalize).
func (v *Votequorum) Close() error { return v.ipc.Close() }

func (v *Votequorum) call(ctx context.Context, r wire.VQRequest) ([]byte, error) {
	b, err := v.ipc.Request(ctx, r.Encode())
	if err != nil {
		return nil, fmt.Errorf("votequorum request %d: %w", r.ID(), err)
	}
	return b, nil
}

func (v *Votequorum) status(ctx context.Context, r wire.VQRequest) error {
	b, err := v.call(ctx, r)
	if err != nil {
		return err
	}
	st, err := wire.DecodeVQStatus(b)
	if err != nil {
		return err
	}
	return st.Err()
}

// GetInfo is votequorum_getinfo (nodeid 0: the local node). With
// CS_ERR_NOT_EXIST the returned info is the reply's body all the same, as
// corosync-quorumtool prints it.
func (v *Votequorum) GetInfo(ctx context.Context, nodeid uint32) (wire.VQInfo, error) {
	b, err := v.call(ctx, wire.VQGetInfo{NodeID: nodeid})
	if err != nil {
		return wire.VQInfo{}, err
	}
	i, st, err := wire.DecodeVQGetInfo(b)
	if err != nil {
		return wire.VQInfo{}, err
	}
	return i, st.Err()
}

// SetExpected is votequorum_setexpected.
func (v *Votequorum) SetExpected(ctx context.Context, expected uint32) error {
	return v.status(ctx, wire.VQSetExpected{Expected: expected})
}

// SetVotes is votequorum_setvotes (nodeid 0 is the qdevice pseudo-node).
func (v *Votequorum) SetVotes(ctx context.Context, nodeid, votes uint32) error {
	return v.status(ctx, wire.VQSetVotes{Votes: votes, NodeID: nodeid})
}

// TrackStart is votequorum_trackstart; trackContext comes back in every
// event this tracking causes.
func (v *Votequorum) TrackStart(ctx context.Context, trackContext uint64, flags uint32) error {
	return v.status(ctx, wire.VQTrackStart{Context: trackContext, Flags: flags})
}

// TrackStop is votequorum_trackstop.
func (v *Votequorum) TrackStop(ctx context.Context) error { return v.status(ctx, wire.VQTrackStop{}) }

// QdeviceRegister is votequorum_qdevice_register.
func (v *Votequorum) QdeviceRegister(ctx context.Context, name string) error {
	if wire.CheckName(name, "qdevice register") != nil {
		return cs.ErrInvalidParam
	}
	return v.status(ctx, wire.VQQdeviceRegister{Name: name})
}

// QdeviceUnregister is votequorum_qdevice_unregister.
func (v *Votequorum) QdeviceUnregister(ctx context.Context, name string) error {
	if wire.CheckName(name, "qdevice unregister") != nil {
		return cs.ErrInvalidParam
	}
	return v.status(ctx, wire.VQQdeviceUnregister{Name: name})
}

// QdeviceUpdate is votequorum_qdevice_update.
func (v *Votequorum) QdeviceUpdate(ctx context.Context, oldName, newName string) error {
	if wire.CheckName(oldName, "qdevice update") != nil || wire.CheckName(newName, "qdevice update") != nil {
		return cs.ErrInvalidParam
	}
	return v.status(ctx, wire.VQQdeviceUpdate{OldName: oldName, NewName: newName})
}

// QdevicePoll is votequorum_qdevice_poll; ring must be the last ring id
// the device saw in a nodelist event.
func (v *Votequorum) QdevicePoll(ctx context.Context, name string, castVote bool, ring wire.RingID) error {
	if wire.CheckName(name, "qdevice poll") != nil {
		return cs.ErrInvalidParam
	}
	return v.status(ctx, wire.VQQdevicePoll{Name: name, CastVote: b32(castVote), Ring: ring})
}

// QdeviceMasterWins is votequorum_qdevice_master_wins.
func (v *Votequorum) QdeviceMasterWins(ctx context.Context, name string, allow bool) error {
	if wire.CheckName(name, "qdevice master_wins") != nil {
		return cs.ErrInvalidParam
	}
	return v.status(ctx, wire.VQQdeviceMasterWins{Name: name, Allow: b32(allow)})
}

func b32(v bool) uint32 {
	if v {
		return 1
	}
	return 0
}

// ReadEvent waits for the next event until ctx ends: a wire.VQQuorum,
// wire.VQExpectedVotes or wire.VQNodelist.
func (v *Votequorum) ReadEvent(ctx context.Context) (any, error) {
	b, err := v.ipc.ReadEvent(ctx)
	if err != nil {
		return nil, fmt.Errorf("votequorum event: %w", err)
	}
	return wire.DecodeVQEvent(b)
}
