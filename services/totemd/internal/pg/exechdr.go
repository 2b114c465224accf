package pg

import (
	"fmt"
	"math/bits"

	"github.com/needle-cluster/needle/libs/corotypes/svcid"
)

// ExecHeaderSize is the libqb request header at the start of every service
// message in group "a": id@0, size@8, each padded to 8 bytes.
const ExecHeaderSize = 16

// Service ids of the exec messages (spec/totem.md §8.1), as the exec
// header's uint16; the one definition is libs/corotypes/svcid.
const (
	ServiceCmap       uint16 = svcid.Cmap
	ServiceCfg        uint16 = svcid.Cfg
	ServiceCpg        uint16 = svcid.Cpg
	ServiceQuorum     uint16 = svcid.Quorum
	ServicePload      uint16 = svcid.Pload
	ServiceVotequorum uint16 = svcid.Votequorum
	ServiceMon        uint16 = svcid.Mon
	ServiceWd         uint16 = svcid.Wd
)

// ExecHeader is the decoded header of a service message.
type ExecHeader struct {
	Service uint16 // id >> 16
	Fn      uint16 // id & 0xffff
	Size    uint32 // total message size, header included
}

// ID is the header's id field: service<<16 | fn.
func (h ExecHeader) ID() uint32 { return uint32(h.Service)<<16 | uint32(h.Fn) }

// AppendExecHeader appends h in our byte order, padding included.
func AppendExecHeader(dst []byte, h ExecHeader) []byte {
	dst = le.AppendUint32(dst, h.ID())
	dst = le.AppendUint32(dst, 0)
	dst = le.AppendUint32(dst, h.Size)
	return le.AppendUint32(dst, 0)
}

// DecodeExecHeader reads the header at the start of a service message
// (group header already stripped). swapped is the delivery's byte-order
// flag. Size is returned as sent; CheckSize compares it with the message.
func DecodeExecHeader(msg []byte, swapped bool) (ExecHeader, error) {
	if len(msg) < ExecHeaderSize {
		return ExecHeader{}, fmt.Errorf("exec header: message of %d bytes, need %d", len(msg), ExecHeaderSize)
	}
	id, size := le.Uint32(msg), le.Uint32(msg[8:])
	if swapped {
		id, size = bits.ReverseBytes32(id), bits.ReverseBytes32(size)
	}
	return ExecHeader{Service: uint16(id >> 16), Fn: uint16(id), Size: size}, nil
}

// CheckSize reports whether the header's size matches a message of msgLen
// bytes (corosync services trust it; needle's check before reading fields).
func (h ExecHeader) CheckSize(msgLen int) error {
	if int64(h.Size) != int64(msgLen) {
		return fmt.Errorf("exec header: service %d fn %d says %d bytes, message has %d", h.Service, h.Fn, h.Size, msgLen)
	}
	return nil
}
