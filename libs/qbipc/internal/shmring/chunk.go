package shmring

import (
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"
)

func (r *Ring) word(i uint32) *uint32 {
	return (*uint32)(unsafe.Pointer(&r.data[(i%r.words)*4]))
}

// next is the word index after a chunk of n payload bytes starting at w.
func (r *Ring) next(w, n uint32) uint32 {
	w += 2 + (n+3)/4
	if w > r.words-1 {
		w %= r.words
	}
	return w
}

// pointers loads write_pt and read_pt, rejecting values the peer could only
// have written by corrupting the header.
func (r *Ring) pointers() (w, rd uint32, err error) {
	w, rd = atomic.LoadUint32(r.u32(offWritePt)), atomic.LoadUint32(r.u32(offReadPt))
	if w >= r.words || rd >= r.words {
		return 0, 0, fmt.Errorf("%s: write_pt %d read_pt %d beyond %d words: %w", r.Name, w, rd, r.words, ErrCorrupt)
	}
	return w, rd, nil
}

// freeBytes is the producer's view of the space left (libqb's formula).
func (r *Ring) freeBytes(w, rd uint32) uint32 {
	var free uint32
	switch {
	case w > rd:
		free = rd - w + r.words - 1
	case w < rd:
		free = rd - w - 1
	case r.sem().value() > 0:
		free = 0
	default:
		free = r.words
	}
	return free * 4
}

func (r *Ring) copyIn(start uint32, b []byte) {
	off := (start % r.words) * 4
	n := copy(r.data[off:], b)
	copy(r.data, b[n:])
}

func (r *Ring) copyOut(start uint32, b []byte) {
	off := (start % r.words) * 4
	n := copy(b, r.data[off:])
	copy(b[n:], r.data)
}

// Write appends one chunk and posts the semaphore. It returns ErrFull when
// the consumer has not made room; nothing is written then.
func (r *Ring) Write(msg []byte) error {
	if uint64(len(msg))+chunkMargin > uint64(r.words)*4 {
		return fmt.Errorf("%s: %d bytes: %w", r.Name, len(msg), ErrTooBig)
	}
	return guard("ring write", func() error {
		w, rd, err := r.pointers()
		if err != nil {
			return err
		}
		n := uint32(len(msg))
		if r.freeBytes(w, rd) < n+chunkMargin {
			return ErrFull
		}
		atomic.StoreUint32(r.word(w), 0)
		atomic.StoreUint32(r.word(w+1), magicAlloc)
		r.copyIn(w+2, msg)
		atomic.StoreUint32(r.word(w), n)
		atomic.StoreUint32(r.u32(offWritePt), r.next(w, n))
		atomic.StoreUint32(r.word(w+1), magicCommit)
		if !r.sem().post() {
			return fmt.Errorf("%s: semaphore overflow: %w", r.Name, ErrCorrupt)
		}
		return nil
	})
}

// Read takes one chunk if one is committed, else returns ErrEmpty. A chunk
// longer than maxLen, or with a bad magic, is an error and stays in place.
func (r *Ring) Read(maxLen int) (msg []byte, err error) {
	err = guard("ring read", func() error {
		if !r.sem().tryTake() {
			return ErrEmpty
		}
		msg, err = r.readTaken(maxLen)
		return err
	})
	return msg, err
}

// WaitRead is Read that waits up to timeout for a chunk (futex wait on the
// shared semaphore).
func (r *Ring) WaitRead(maxLen int, timeout time.Duration) (msg []byte, err error) {
	err = guard("ring wait", func() error {
		if !r.sem().take(timeout) {
			return ErrEmpty
		}
		msg, err = r.readTaken(maxLen)
		return err
	})
	return msg, err
}

// readTaken copies out the chunk at read_pt after its semaphore unit was taken.
func (r *Ring) readTaken(maxLen int) ([]byte, error) {
	_, rd, err := r.pointers()
	if err != nil {
		r.sem().post()
		return nil, err
	}
	if m := atomic.LoadUint32(r.word(rd + 1)); m != magicCommit {
		r.sem().post()
		return nil, fmt.Errorf("%s: chunk at word %d has magic %#x: %w", r.Name, rd, m, ErrCorrupt)
	}
	n := atomic.LoadUint32(r.word(rd))
	if uint64(n)+chunkMargin > uint64(r.words)*4 || int64(n) > int64(maxLen) {
		r.sem().post()
		return nil, fmt.Errorf("%s: chunk of %d bytes (limit %d): %w", r.Name, n, maxLen, ErrTooBig)
	}
	msg := make([]byte, n)
	r.copyOut(rd+2, msg)
	atomic.StoreUint32(r.word(rd), 0)
	atomic.StoreUint32(r.word(rd+1), magicReclaim)
	atomic.StoreUint32(r.u32(offReadPt), r.next(rd, n))
	return msg, nil
}
