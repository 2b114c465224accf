// Package ringid persists the Totem ring sequence the way corosync 3.x does:
// <state_dir>/ringid_<nodeid> holds the current ring seq as 8 bytes in host
// byte order, written on every entry to COMMIT and read (plus one) at start,
// so a restarted node's first ring id is new.
package ringid

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Path is the file for a node.
func Path(stateDir string, nodeID uint32) string {
	return filepath.Join(stateDir, fmt.Sprintf("ringid_%d", nodeID))
}

// Load returns the seq to start from: the stored value plus one, or 1 when
// the file does not exist yet (a new node).
func Load(stateDir string, nodeID uint32) (uint64, error) {
	p := Path(stateDir, nodeID)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ring id: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("ring id: %s has %d bytes, want 8", p, len(b))
	}
	return binary.NativeEndian.Uint64(b) + 1, nil
}

// Store writes seq atomically (temp file, fsync, rename).
func Store(stateDir string, nodeID uint32, seq uint64) error {
	p := Path(stateDir, nodeID)
	var b [8]byte
	binary.NativeEndian.PutUint64(b[:], seq)
	tmp, err := os.CreateTemp(stateDir, ".ringid-*")
	if err != nil {
		return fmt.Errorf("ring id: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b[:]); err != nil {
		tmp.Close()
		return fmt.Errorf("ring id: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("ring id: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ring id: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return fmt.Errorf("ring id: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("ring id: %w", err)
	}
	return nil
}
