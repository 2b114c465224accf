package shmring

import (
	"sync/atomic"
	"unsafe"
)

// ControlSize is the size of the socket transport's control file: three
// {int32 sent; int32 flow_control} pairs (spec/ipc-libqb.md §5.1).
const ControlSize = 24

const offFlowControl = 4 // request.flow_control

// Control is the mapped control file of a socket-transport connection. Only
// the request flow-control flag is used; the "sent" counters are hints
// nobody reads.
type Control struct {
	b    []byte
	id   fileID // the mapped file (File checks it)
	Path string
}

// CreateControl creates the control file (mode 0600, owned by uid/gid).
func CreateControl(path string, uid, gid int) (*Control, error) {
	b, id, err := createMapped(path, ControlSize, uid, gid)
	if err != nil {
		return nil, err
	}
	return &Control{b: b, id: id, Path: path}, nil
}

// OpenControl maps an existing control file.
func OpenControl(path string) (*Control, error) {
	b, err := openMapped(path, ControlSize)
	if err != nil {
		return nil, err
	}
	return &Control{b: b, Path: path}, nil
}

// FlowControl reads the flag the client checks before every send.
func (c *Control) FlowControl() (v int32, err error) {
	err = guard("read flow control", func() error {
		v = atomic.LoadInt32((*int32)(unsafe.Pointer(&c.b[offFlowControl])))
		return nil
	})
	return v, err
}

// SetFlowControl stores the flag.
func (c *Control) SetFlowControl(v int32) error {
	return guard("write flow control", func() error {
		atomic.StoreInt32((*int32)(unsafe.Pointer(&c.b[offFlowControl])), v)
		return nil
	})
}

// Unmap releases the mapping.
func (c *Control) Unmap() {
	if c.b != nil {
		unmap(c.b)
		c.b = nil
	}
}
