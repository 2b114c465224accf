// Package shmring is libqb's shared-memory ring buffer (libqb 2.0.6,
// spec/ipc-libqb.md §6): a header file and a data file in /dev/shm, holding
// length-prefixed chunks guarded by magic words and a process-shared
// semaphore. One side produces, the other consumes; either side may be a C
// libqb program.
//
// Every access to the shared mappings is fault-guarded and every index read
// from them is range-checked: the files are writable by the peer, which may
// be buggy or hostile.
package shmring

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Header layout (x86_64 glibc).
const (
	offWritePt  = 0
	offReadPt   = 4
	offWordSize = 8
	offHdrPath  = 12
	offDataPath = 4108
	offRefCount = 8204
	offSem      = 8208
	offUserData = 8240

	pathMax = 4096
	// HeaderSize is the header struct without user data; libqb clients
	// truncate response and event ring headers to this size.
	HeaderSize = 8248
	// HeaderSizeWithUserData is what libqb allocates for a ring with 4
	// bytes of user data (the request ring); the word itself sits at
	// offset 8240, inside HeaderSize, because the struct is 8-aligned.
	HeaderSizeWithUserData = HeaderSize + 4

	chunkMargin = 12 // two header words plus one alignment word

	magicAlloc   = 0xA110CED0
	magicCommit  = 0xA1A1A1A1
	magicReclaim = 0xD0D0D0D0

	// maxWords bounds the data size we accept from a peer's header (1 GiB).
	maxWords = 1 << 28
)

// Errors returned by ring operations.
var (
	ErrFull    = errors.New("ring full")
	ErrEmpty   = errors.New("ring empty")
	ErrCorrupt = errors.New("ring corrupt")
	ErrTooBig  = errors.New("chunk larger than allowed")
)

// Ring is one mapped ring. Methods are not safe for concurrent use by several
// producers or several consumers (libqb rings are single-producer,
// single-consumer); one producer and one consumer may be different processes.
type Ring struct {
	hdr, data []byte
	words     uint32 // our own copy: never re-read from the shared header
	// hdrID and dataID identify the mapped files (Files checks them).
	hdrID, dataID fileID
	// HdrPath and DataPath are the two files; Name is the path without "-header".
	Name, HdrPath, DataPath string
}

// DataSize is libqb's data file size for a negotiated max_msg_size:
// roundup(max + 12 + 1, page size).
func DataSize(maxMsg int) int {
	page := os.Getpagesize()
	return (maxMsg + chunkMargin + 1 + page - 1) / page * page
}

// Create makes the two files of a new ring called name (the header is
// name+"-header"), sized for maxMsg, owned by uid/gid, mode 0600, and fills
// the header as a libqb server does (ref_count 1 = "server attached").
func Create(name string, maxMsg int, uid, gid int) (r *Ring, err error) {
	r = &Ring{Name: name, HdrPath: name + "-header", DataPath: name + "-data"}
	size := DataSize(maxMsg)
	r.words = uint32(size / 4)
	defer func() {
		if err != nil {
			r.Unlink()
			r.Unmap()
		}
	}()
	if r.hdr, r.hdrID, err = createMapped(r.HdrPath, HeaderSizeWithUserData, uid, gid); err != nil {
		return r, err
	}
	if r.data, r.dataID, err = createMapped(r.DataPath, size, uid, gid); err != nil {
		return r, err
	}
	err = guard("init ring header", func() error {
		atomic.StoreUint32(r.u32(offWritePt), 0)
		atomic.StoreUint32(r.u32(offReadPt), 0)
		atomic.StoreUint32(r.u32(offWordSize), r.words)
		copy(r.hdr[offHdrPath:offHdrPath+pathMax-1], r.HdrPath)
		copy(r.hdr[offDataPath:offDataPath+pathMax-1], r.DataPath)
		initShared(r.hdr[offSem:])
		atomic.StoreInt32(r.i32(offUserData), 0)
		atomic.StoreInt32(r.i32(offRefCount), 1)
		return nil
	})
	return r, err
}

func createMapped(path string, size int, uid, gid int) ([]byte, fileID, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("create %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		return nil, fileID{}, fmt.Errorf("size %s to %d: %w", path, size, err)
	}
	// Reserve the pages now so that a full /dev/shm fails here, not with SIGBUS later.
	if err := unix.Fallocate(fd, 0, 0, int64(size)); err != nil && !errors.Is(err, unix.EOPNOTSUPP) {
		return nil, fileID{}, fmt.Errorf("allocate %s: %w", path, err)
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return nil, fileID{}, fmt.Errorf("chown %s to %d:%d: %w", path, uid, gid, err)
	}
	if err := unix.Fchmod(fd, 0o600); err != nil {
		return nil, fileID{}, fmt.Errorf("chmod %s: %w", path, err)
	}
	id, _, err := identify(fd, path)
	if err != nil {
		return nil, fileID{}, err
	}
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("mmap %s: %w", path, err)
	}
	return b, id, nil
}

// Open attaches to an existing ring created by a peer (a libqb server):
// it maps the sizes the files have, checks them against the header, and
// increments ref_count.
func Open(name string) (r *Ring, err error) {
	r = &Ring{Name: name, HdrPath: name + "-header"}
	defer func() {
		if err != nil {
			r.Unmap()
		}
	}()
	if r.hdr, err = openMapped(r.HdrPath, HeaderSize); err != nil {
		return r, err
	}
	err = guard("read ring header", func() error {
		r.words = atomic.LoadUint32(r.u32(offWordSize))
		p := r.hdr[offDataPath : offDataPath+pathMax]
		n := 0
		for n < len(p) && p[n] != 0 {
			n++
		}
		if n == len(p) {
			return fmt.Errorf("%s: data path not NUL-terminated", r.HdrPath)
		}
		r.DataPath = string(p[:n])
		return nil
	})
	if err != nil {
		return r, err
	}
	if r.words < 16 || r.words > maxWords {
		return r, fmt.Errorf("%s: word_size %d out of range: %w", r.HdrPath, r.words, ErrCorrupt)
	}
	if r.data, err = openMapped(r.DataPath, int(r.words)*4); err != nil {
		return r, err
	}
	err = guard("attach", func() error {
		atomic.AddInt32(r.i32(offRefCount), 1)
		return nil
	})
	return r, err
}

// openMapped maps the first size bytes of an existing file, refusing files
// shorter than that (touching pages past EOF would fault).
func openMapped(path string, size int) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Size < int64(size) {
		return nil, fmt.Errorf("%s: %d bytes, need %d: %w", path, st.Size, size, ErrCorrupt)
	}
	b, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap %s: %w", path, err)
	}
	return b, nil
}

func (r *Ring) u32(off int) *uint32 { return (*uint32)(unsafe.Pointer(&r.hdr[off])) }
func (r *Ring) i32(off int) *int32  { return (*int32)(unsafe.Pointer(&r.hdr[off])) }
func (r *Ring) sem() sem            { return sem{data: (*uint64)(unsafe.Pointer(&r.hdr[offSem]))} }

// RefCount reads the attach count: 2 while both sides are attached.
func (r *Ring) RefCount() (n int32, err error) {
	err = guard("read ref_count", func() error {
		n = atomic.LoadInt32(r.i32(offRefCount))
		return nil
	})
	return n, err
}

// Detach marks the ring as abandoned (ref_count 0), so a peer still mapping
// it fails its next send at once instead of waiting for an answer.
func (r *Ring) Detach() error {
	if r.hdr == nil {
		return nil
	}
	return guard("detach", func() error {
		atomic.StoreInt32(r.i32(offRefCount), 0)
		return nil
	})
}

// UserData reads the int32 user data word at the end of the header struct
// (the flow-control flag on a request ring).
func (r *Ring) UserData() (v int32, err error) {
	err = guard("read user data", func() error {
		v = atomic.LoadInt32(r.i32(offUserData))
		return nil
	})
	return v, err
}

// SetUserData stores the int32 user data word.
func (r *Ring) SetUserData(v int32) error {
	return guard("write user data", func() error {
		atomic.StoreInt32(r.i32(offUserData), v)
		return nil
	})
}

// Unmap releases the mappings. The Ring must not be used afterwards.
func unmap(b []byte) { unix.Munmap(b) }

func (r *Ring) Unmap() {
	if r.data != nil {
		unix.Munmap(r.data)
		r.data = nil
	}
	if r.hdr != nil {
		unix.Munmap(r.hdr)
		r.hdr = nil
	}
}

// Unlink removes both files (the creator's job; missing files are fine).
func (r *Ring) Unlink() {
	if r.DataPath != "" {
		os.Remove(r.DataPath)
	}
	os.Remove(r.HdrPath)
}
