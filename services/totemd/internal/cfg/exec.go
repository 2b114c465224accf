package cfg

import (
	"fmt"
	"math/bits"
)

// Exec is one cfg ring message (spec/cfg.md §6). Encode gives the bytes
// corosync 3.1.7 multicasts (16-byte header with id ServiceID<<16|fn).
type Exec interface {
	Fn() ExecFn
	Encode() []byte
}

// Sizes of the 3.1.7 ring message structs.
const (
	killNodeExecSize = 288 // nodeid@16, mar_name_t reason@24 (length u16, value[256]@32)
	shutdownExecSize = 16
	sourceExecSize   = 32 // mar_message_source_t @16: nodeid@16, conn@24
	cryptoExecSize   = 24 // phase@16
)

func newExec(fn ExecFn, n int) []byte {
	b := make([]byte, n)
	le.PutUint32(b[0:], uint32(ExecID(fn)))
	le.PutUint32(b[8:], uint32(n))
	return b
}

// Source names the requesting client of a ring message: its node and an
// opaque per-connection cookie that means something only on that node.
type Source struct {
	NodeID uint32
	Conn   uint64
}

// RingReenableExec is sent only by 2.x; 3.x delivers it as a no-op.
type RingReenableExec struct{ Source Source }

// Fn implements Exec.
func (RingReenableExec) Fn() ExecFn { return ExecRingReenable }

// Encode implements Exec.
func (m RingReenableExec) Encode() []byte { return encodeSource(ExecRingReenable, m.Source) }

// ReloadConfigExec tells every node to reload its corosync.conf; the
// node named by Source answers the requesting client.
type ReloadConfigExec struct{ Source Source }

// Fn implements Exec.
func (ReloadConfigExec) Fn() ExecFn { return ExecReloadConfig }

// Encode implements Exec.
func (m ReloadConfigExec) Encode() []byte { return encodeSource(ExecReloadConfig, m.Source) }

func encodeSource(fn ExecFn, s Source) []byte {
	b := newExec(fn, sourceExecSize)
	le.PutUint32(b[16:], s.NodeID)
	le.PutUint64(b[24:], s.Conn)
	return b
}

// KillNodeExec tells NodeID to exit at once.
type KillNodeExec struct {
	NodeID uint32
	// ReasonLen is mar_name_t.length, copied from the client's cs_name_t
	// (strlen+1); receivers use Reason as a C string and ignore it.
	ReasonLen uint16
	Reason    string
}

// Fn implements Exec.
func (KillNodeExec) Fn() ExecFn { return ExecKillNode }

// Encode implements Exec; Reason is cut to 255 bytes.
func (m KillNodeExec) Encode() []byte {
	b := newExec(ExecKillNode, killNodeExecSize)
	le.PutUint32(b[16:], m.NodeID)
	le.PutUint16(b[24:], m.ReasonLen)
	putCString(b[32:32+MaxNameLen], m.Reason)
	return b
}

// ShutdownExec announces that its sender shuts down.
type ShutdownExec struct{}

// Fn implements Exec.
func (ShutdownExec) Fn() ExecFn { return ExecShutdown }

// Encode implements Exec.
func (ShutdownExec) Encode() []byte { return newExec(ExecShutdown, shutdownExecSize) }

// CryptoReconfigExec moves its sender through a crypto key change.
type CryptoReconfigExec struct{ Phase uint32 }

// Fn implements Exec.
func (CryptoReconfigExec) Fn() ExecFn { return ExecCryptoReconfig }

// Encode implements Exec.
func (m CryptoReconfigExec) Encode() []byte {
	b := newExec(ExecCryptoReconfig, cryptoExecSize)
	le.PutUint32(b[16:], m.Phase)
	return b
}

var execSize = [...]int{
	ExecRingReenable:   sourceExecSize,
	ExecKillNode:       killNodeExecSize,
	ExecShutdown:       shutdownExecSize,
	ExecReloadConfig:   sourceExecSize,
	ExecCryptoReconfig: cryptoExecSize,
}

// DecodeExec decodes a delivered cfg ring message (exec header first).
// swapped says the sender's byte order differs from ours; like corosync
// 3.1.7 only the header and KILLNODE's reason length are converted
// (nodeid, source and phase are read as they are).
func DecodeExec(msg []byte, swapped bool) (Exec, error) {
	if len(msg) < ReqHeaderSize {
		return nil, fmt.Errorf("cfg ring message: %d bytes, shorter than the %d-byte header", len(msg), ReqHeaderSize)
	}
	id, size := le.Uint32(msg[0:]), le.Uint32(msg[8:])
	if swapped {
		id, size = bits.ReverseBytes32(id), bits.ReverseBytes32(size)
	}
	if id>>16 != ServiceID {
		return nil, fmt.Errorf("cfg ring message: id %#x belongs to service %d", id, id>>16)
	}
	fn := ExecFn(id & 0xffff)
	if int(fn) >= len(execSize) {
		return nil, fmt.Errorf("cfg ring message: unknown function %d", fn)
	}
	if int64(size) != int64(len(msg)) {
		return nil, fmt.Errorf("cfg ring message fn %d: header size %d but %d bytes delivered", fn, size, len(msg))
	}
	if want := execSize[fn]; len(msg) < want {
		return nil, fmt.Errorf("cfg ring message fn %d: %d bytes, the struct needs %d", fn, len(msg), want)
	}
	switch fn {
	case ExecRingReenable:
		return RingReenableExec{Source: decodeSource(msg)}, nil
	case ExecKillNode:
		n := le.Uint16(msg[24:])
		if swapped {
			n = bits.ReverseBytes16(n)
		}
		return KillNodeExec{NodeID: le.Uint32(msg[16:]), ReasonLen: n, Reason: cString(msg[32 : 32+MaxNameLen])}, nil
	case ExecShutdown:
		return ShutdownExec{}, nil
	case ExecReloadConfig:
		return ReloadConfigExec{Source: decodeSource(msg)}, nil
	default:
		return CryptoReconfigExec{Phase: le.Uint32(msg[16:])}, nil
	}
}

func decodeSource(msg []byte) Source {
	return Source{NodeID: le.Uint32(msg[16:]), Conn: le.Uint64(msg[24:])}
}
