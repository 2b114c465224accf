package nsscrypto

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NextEpoch returns the epoch for a node starting now and records it in
// the file at path: max(now in Unix nanoseconds, the recorded epoch + 1).
// Receivers accept a sender's higher epoch as a restart and refuse lower
// ones for good, so a node's epochs must only ever grow: the wall clock
// makes them grow across a lost state directory, the file across a clock
// that went back; only both at once can produce a lower epoch (receivers
// that remember the old one then drop the node until they restart, and
// log why).
//
// The file holds the epoch in decimal. A missing file counts as 0; an
// unreadable or corrupt one, or one that cannot be written, is an error —
// the returned epoch is then still the best available (the clock, or one
// above the recorded value) and may be used, but the next start is only
// protected by the clock.
func NextEpoch(path string, now time.Time) (uint64, error) {
	epoch := uint64(max(now.UnixNano(), 1))
	prev, rerr := readEpoch(path)
	if prev >= epoch {
		epoch = prev + 1
	}
	if err := writeEpoch(path, epoch); err != nil {
		return epoch, errors.Join(rerr, err)
	}
	return epoch, rerr
}

func readEpoch(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("crypto epoch: %w", err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("crypto epoch: %s: %w", path, err)
	}
	return v, nil
}

// writeEpoch replaces the file atomically (temp file, fsync, rename).
func writeEpoch(path string, epoch uint64) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".epoch-*")
	if err != nil {
		return fmt.Errorf("crypto epoch: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(strconv.FormatUint(epoch, 10) + "\n"); err != nil {
		tmp.Close()
		return fmt.Errorf("crypto epoch: write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("crypto epoch: sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("crypto epoch: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("crypto epoch: %w", err)
	}
	return nil
}
