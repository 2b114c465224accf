package vq

import (
	"encoding/binary"
	"fmt"
)

// Service is votequorum's corosync service id; exec ids are Service<<16|fn.
const Service = 5

// Exec message functions (exec/votequorum.c).
const (
	FnNodeInfo           = 0
	FnReconfigure        = 1
	FnQdeviceReg         = 2
	FnQdeviceReconfigure = 3
)

// Sizes of the packed messages including the 16-byte exec header
// (qb_ipc_request_header: id@0, size@8, each 8-aligned).
const (
	headerSize      = 16
	NodeInfoSize    = 32
	ReconfigureSize = 32
	QdeviceNameMax  = 255
	// The packed structs keep the header's 8-byte alignment, so gcc rounds
	// sizeof up: 16+4+255 = 275 -> 280 and 16+510 = 526 -> 528 (the tail
	// bytes are padding).
	QdeviceRegSize         = 280
	QdeviceReconfigureSize = 528
)

// Node flags carried in NODEINFO.
const (
	FlagQuorate           = 1
	FlagLeaving           = 2
	FlagWFAStatus         = 4
	FlagFirst             = 8
	FlagQdeviceRegistered = 16
	FlagQdeviceAlive      = 32
	FlagQdeviceCastVote   = 64
	FlagQdeviceMasterWins = 128
)

// RECONFIGURE parameters.
const (
	ParamExpectedVotes = 1
	ParamNodeVotes     = 2
	ParamCancelWFA     = 3
)

// QDEVICE_REG operations.
const (
	OpUnregister = 0
	OpRegister   = 1
)

// NodeInfo is MESSAGE_REQ_EXEC_VOTEQUORUM_NODEINFO: one node's (or, with
// NodeID 0, the quorum device's) votes, expected votes and flags.
type NodeInfo struct {
	NodeID, Votes, ExpectedVotes, Flags uint32
}

// Reconfigure is MESSAGE_REQ_EXEC_VOTEQUORUM_RECONFIGURE.
type Reconfigure struct {
	NodeID, Value uint32
	Param         uint8
}

// QdeviceReg is MESSAGE_REQ_EXEC_VOTEQUORUM_QDEVICE_REG.
type QdeviceReg struct {
	Operation uint32
	Name      string
}

// QdeviceReconfigure is MESSAGE_REQ_EXEC_VOTEQUORUM_QDEVICE_RECONFIGURE.
type QdeviceReconfigure struct {
	OldName, NewName string
}

// Message is one of the four decoded ring messages.
type Message interface{ vqMessage() }

func (NodeInfo) vqMessage()           {}
func (Reconfigure) vqMessage()        {}
func (QdeviceReg) vqMessage()         {}
func (QdeviceReconfigure) vqMessage() {}

var le = binary.LittleEndian

func header(b []byte, fn, size int) {
	le.PutUint32(b[0:], uint32(Service<<16|fn))
	le.PutUint32(b[8:], uint32(size))
}

// Encode returns the little-endian wire form of m, as a 3.1.7 x86_64 node
// sends it. NODEINFO and RECONFIGURE are fully zeroed/set like corosync's;
// the name arrays are zero after the NUL (corosync leaves stack garbage
// there, addendum §1.9; receivers read up to the NUL).
func Encode(m Message) []byte {
	switch m := m.(type) {
	case NodeInfo:
		b := make([]byte, NodeInfoSize)
		header(b, FnNodeInfo, NodeInfoSize)
		le.PutUint32(b[16:], m.NodeID)
		le.PutUint32(b[20:], m.Votes)
		le.PutUint32(b[24:], m.ExpectedVotes)
		le.PutUint32(b[28:], m.Flags)
		return b
	case Reconfigure:
		b := make([]byte, ReconfigureSize)
		header(b, FnReconfigure, ReconfigureSize)
		le.PutUint32(b[16:], m.NodeID)
		le.PutUint32(b[20:], m.Value)
		b[24] = m.Param
		return b
	case QdeviceReg:
		b := make([]byte, QdeviceRegSize)
		header(b, FnQdeviceReg, QdeviceRegSize)
		le.PutUint32(b[16:], m.Operation)
		putName(b[20:20+QdeviceNameMax], m.Name)
		return b
	case QdeviceReconfigure:
		b := make([]byte, QdeviceReconfigureSize)
		header(b, FnQdeviceReconfigure, QdeviceReconfigureSize)
		putName(b[16:16+QdeviceNameMax], m.OldName)
		putName(b[16+QdeviceNameMax:16+2*QdeviceNameMax], m.NewName)
		return b
	}
	panic(fmt.Sprintf("vq: Encode of %T", m))
}

// putName copies at most 254 bytes, keeping a NUL (corosync asserts the
// name fits; the lib layer already bounds it).
func putName(dst []byte, s string) {
	if len(s) > len(dst)-1 {
		s = s[:len(dst)-1]
	}
	copy(dst, s)
}

func getName(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	// corosync would read past the array; we stop at its end.
	return string(b)
}

// Decode parses one delivered message of service 5. swapped says the
// sender's byte order differs from ours: the header and the numeric fields
// are then byte-swapped, as corosync's deliver path and the
// exec_votequorum_*_endian_convert functions do (RECONFIGURE's param is a
// byte; QDEVICE_RECONFIGURE has nothing to swap).
//
// corosync trusts the delivered length; needle requires the header's size
// to equal the delivered length and to cover the message's struct, and
// names what was wrong otherwise.
func Decode(b []byte, swapped bool) (Message, error) {
	var order binary.ByteOrder = binary.LittleEndian
	if swapped {
		order = binary.BigEndian
	}
	if len(b) < headerSize {
		return nil, fmt.Errorf("votequorum message: %d bytes, shorter than the %d-byte exec header", len(b), headerSize)
	}
	id := order.Uint32(b[0:])
	size := order.Uint32(b[8:])
	if id>>16 != Service {
		return nil, fmt.Errorf("votequorum message: exec id %#x is not of service %d", id, Service)
	}
	if int64(size) != int64(len(b)) {
		return nil, fmt.Errorf("votequorum message %#x: header size %d but %d bytes delivered", id, size, len(b))
	}
	need := func(name string, n int) error {
		if len(b) < n {
			return fmt.Errorf("votequorum %s: %d bytes, want %d", name, len(b), n)
		}
		return nil
	}
	switch id & 0xffff {
	case FnNodeInfo:
		if err := need("NODEINFO", NodeInfoSize); err != nil {
			return nil, err
		}
		return NodeInfo{NodeID: order.Uint32(b[16:]), Votes: order.Uint32(b[20:]),
			ExpectedVotes: order.Uint32(b[24:]), Flags: order.Uint32(b[28:])}, nil
	case FnReconfigure:
		if err := need("RECONFIGURE", ReconfigureSize); err != nil {
			return nil, err
		}
		return Reconfigure{NodeID: order.Uint32(b[16:]), Value: order.Uint32(b[20:]), Param: b[24]}, nil
	case FnQdeviceReg:
		if err := need("QDEVICE_REG", QdeviceRegSize); err != nil {
			return nil, err
		}
		return QdeviceReg{Operation: order.Uint32(b[16:]), Name: getName(b[20 : 20+QdeviceNameMax])}, nil
	case FnQdeviceReconfigure:
		if err := need("QDEVICE_RECONFIGURE", QdeviceReconfigureSize); err != nil {
			return nil, err
		}
		return QdeviceReconfigure{OldName: getName(b[16 : 16+QdeviceNameMax]),
			NewName: getName(b[16+QdeviceNameMax : 16+2*QdeviceNameMax])}, nil
	}
	return nil, fmt.Errorf("votequorum message: unknown exec function %d (id %#x)", id&0xffff, id)
}
