// Package evtrack keeps votequorum's expected_votes_tracking barrier on
// disk: <state_dir>/ev_tracking, exactly 4 bytes, the barrier as a native
// u32, the same file corosync 3.1.7 uses, so a node can switch between
// corosync and needle and keep its barrier.
//
// Real 3.1.7 writes the file only when it creates it (value 0): its
// loader closes the descriptor and later writes go to a stale one
// (addendum-317.md §1.4), so its barrier survives only in memory. needle
// persists every raise: the value is written to a temporary file in the
// same directory, synced, renamed over ev_tracking and the directory
// synced, so a crash leaves either the old or the new barrier, never a
// torn one.
package evtrack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// FileName is the barrier file's name under the state directory.
const FileName = "ev_tracking"

// File is the barrier file of one state directory.
type File struct {
	path string
}

// Open loads the barrier from dir/ev_tracking. A missing or short file is
// (re)created holding 0, as corosync does (mode 0700, its choice); a file
// that can be neither read nor created is an error (corosync refuses to
// start with "Unable to load ev_tracking file!").
func Open(dir string) (*File, uint32, error) {
	f := &File{path: filepath.Join(dir, FileName)}
	b, err := os.ReadFile(f.path)
	if err == nil && len(b) >= 4 {
		return f, binary.NativeEndian.Uint32(b), nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("read %s: %w", f.path, err)
	}
	if err := f.write(0, 0o700); err != nil {
		return nil, 0, err
	}
	return f, 0, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Store persists v durably.
func (f *File) Store(v uint32) error { return f.write(v, 0o700) }

func (f *File) write(v uint32, mode os.FileMode) error {
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, FileName+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], v)
	_, err = tmp.Write(b[:])
	if err == nil {
		err = tmp.Chmod(mode)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write %s: %w", f.path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
