package shmring

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Handing a ring to another process (qbipc's Server.Handover): the
// predecessor passes descriptors of the ring's files and the successor
// maps them. Descriptors rather than names, because a name may no longer
// lead to the file by the time the successor looks: the connection's
// directory belongs to the client, which can put other files (or links
// to them) under the names, and a client's libqb, or qbipc.RemoveStale,
// removes the files of a server whose pid is gone, which the predecessor's
// soon is.

// fileID identifies a file for as long as it exists.
type fileID struct{ dev, ino uint64 }

// identify returns the identity and size of an open regular file.
func identify(fd int, path string) (fileID, int64, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fileID{}, 0, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileID{}, 0, fmt.Errorf("%s: not a regular file (mode %#o)", path, st.Mode)
	}
	return fileID{dev: st.Dev, ino: st.Ino}, st.Size, nil
}

// reopen opens path read-write, provided it is still the file identified
// by id. The name is opened with O_PATH first, which does nothing to what
// it leads to (a device, a FIFO the client linked there), and only the
// checked inode is then opened for reading and writing, through its
// /proc/self/fd link.
func reopen(path string, id fileID) (*os.File, error) {
	pfd, err := unix.Open(path, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer unix.Close(pfd)
	got, _, err := identify(pfd, path)
	if err != nil {
		return nil, err
	}
	if got != id {
		return nil, fmt.Errorf("%s is not the file mapped here any more (replaced by the client?): %w", path, ErrCorrupt)
	}
	fd, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", pfd), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// mapFile maps the first size bytes of f, a regular file of at least that
// size (touching pages past its end would fault).
func mapFile(f *os.File, path string, size int) (b []byte, id fileID, err error) {
	if f == nil {
		return nil, fileID{}, fmt.Errorf("%s: no descriptor", path)
	}
	rc, err := f.SyscallConn() // not f.Fd(): see qbipc's handover notes
	if err != nil {
		return nil, fileID{}, fmt.Errorf("%s: %w", path, err)
	}
	cerr := rc.Control(func(fd uintptr) {
		var n int64
		if id, n, err = identify(int(fd), path); err != nil {
			return
		}
		if n < int64(size) {
			err = fmt.Errorf("%s: %d bytes, need %d: %w", path, n, size, ErrCorrupt)
			return
		}
		if b, err = unix.Mmap(int(fd), 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED); err != nil {
			err = fmt.Errorf("mmap %s: %w", path, err)
		}
	})
	if cerr != nil {
		return nil, fileID{}, fmt.Errorf("%s: %w", path, cerr)
	}
	return b, id, err
}

// Files opens the ring's header and data files again, for a successor
// process to map with Reattach. Each is checked to be the file mapped
// here. The caller owns the files.
func (r *Ring) Files() (hdr, data *os.File, err error) {
	if hdr, err = reopen(r.HdrPath, r.hdrID); err != nil {
		return nil, nil, err
	}
	if data, err = reopen(r.DataPath, r.dataID); err != nil {
		hdr.Close()
		return nil, nil, err
	}
	return hdr, data, nil
}

// Reattach maps the ring called name from its header and data files
// (Files, in this process or a predecessor): the successor's side of a
// handover. Unlike Open it leaves ref_count alone, as the client's attach
// and the server's still count, and it reads nothing from the header,
// which the client can write: the data size follows from maxMsg as in
// Create, and the paths from name. The header is mapped up to HeaderSize,
// as libqb clients may truncate it there. The files stay the caller's.
func Reattach(name string, hdr, data *os.File, maxMsg int) (*Ring, error) {
	if maxMsg <= 0 || DataSize(maxMsg)/4 > maxWords {
		return nil, fmt.Errorf("%s: max_msg_size %d out of range", name, maxMsg)
	}
	r := &Ring{Name: name, HdrPath: name + "-header", DataPath: name + "-data"}
	size := DataSize(maxMsg)
	r.words = uint32(size / 4)
	var err error
	if r.hdr, r.hdrID, err = mapFile(hdr, r.HdrPath, HeaderSize); err != nil {
		return nil, err
	}
	if r.data, r.dataID, err = mapFile(data, r.DataPath, size); err != nil {
		r.Unmap()
		return nil, err
	}
	return r, nil
}

// File opens the control file again for a successor process
// (ReattachControl), checked to be the file mapped here.
func (c *Control) File() (*os.File, error) { return reopen(c.Path, c.id) }

// ReattachControl maps a control file from its descriptor (File, in this
// process or a predecessor). The file stays the caller's.
func ReattachControl(path string, f *os.File) (*Control, error) {
	b, id, err := mapFile(f, path, ControlSize)
	if err != nil {
		return nil, err
	}
	return &Control{b: b, id: id, Path: path}, nil
}
