package shmring

import (
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sem is a glibc x86_64 process-shared sem_t living in a shared mapping:
// a 64-bit word whose low half is the value and high half the number of
// waiters, followed by an int32 that glibc XORs into its futex op (128 =
// shared). Compatible with sem_post/sem_timedwait of the C peer
// (spec/ipc-libqb.md §6.2).
type sem struct {
	data *uint64
}

const (
	semPrivateOff = 8   // offset of glibc's "private" field inside sem_t
	semShared     = 128 // value glibc stores there for pshared semaphores
	waiterUnit    = uint64(1) << 32
	semValueMax   = 0x7fffffff

	futexWait = 0 // FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the word is shared
	futexWake = 1
)

// initShared writes a pshared semaphore with value 0.
func initShared(b []byte) {
	atomic.StoreUint64((*uint64)(unsafe.Pointer(&b[0])), 0)
	atomic.StoreInt32((*int32)(unsafe.Pointer(&b[semPrivateOff])), semShared)
}

// value is the number of posted, untaken units.
func (s sem) value() uint32 { return uint32(atomic.LoadUint64(s.data)) }

// post adds one unit and wakes a registered waiter. It returns false when the
// value is at its maximum (the peer is not consuming; glibc: EOVERFLOW).
func (s sem) post() bool {
	for {
		d := atomic.LoadUint64(s.data)
		if uint32(d) >= semValueMax {
			return false
		}
		if atomic.CompareAndSwapUint64(s.data, d, d+1) {
			if d>>32 != 0 {
				// Raw: a wake never waits, so the Go scheduler need not
				// be told (package rawio says what telling it costs).
				unix.RawSyscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(s.data)), futexWake, 1, 0, 0, 0)
			}
			return true
		}
	}
}

// tryTake takes one unit if there is one.
func (s sem) tryTake() bool {
	for {
		d := atomic.LoadUint64(s.data)
		if uint32(d) == 0 {
			return false
		}
		if atomic.CompareAndSwapUint64(s.data, d, d-1) {
			return true
		}
	}
}

// take waits up to timeout for a unit, registering as a waiter so that the
// peer's post issues FUTEX_WAKE (as glibc's sem_timedwait does).
func (s sem) take(timeout time.Duration) bool {
	if s.tryTake() {
		return true
	}
	atomic.AddUint64(s.data, waiterUnit)
	deadline := time.Now().Add(timeout)
	for {
		d := atomic.LoadUint64(s.data)
		if uint32(d) > 0 {
			if atomic.CompareAndSwapUint64(s.data, d, d-1-waiterUnit) {
				return true
			}
			continue
		}
		left := time.Until(deadline)
		if left <= 0 {
			atomic.AddUint64(s.data, ^(waiterUnit - 1)) // subtract one waiter
			return false
		}
		ts := unix.NsecToTimespec(int64(left))
		// Sleeps only while the value word is still 0; EAGAIN/EINTR/ETIMEDOUT
		// all lead back to the loop, which rechecks value and deadline.
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(s.data)), futexWait, 0, uintptr(unsafe.Pointer(&ts)), 0, 0)
	}
}
