package cs

import "syscall"

// FromErrno maps an errno from libqb to the cs_error_t corosync's client
// libraries return for it (their qb_to_cs_error table), so Go clients
// report the same codes as the C ones.
func FromErrno(e syscall.Errno) Error {
	switch e {
	case 0:
		return OK
	case syscall.EBADF:
		return ErrBadHandle
	case syscall.ENOMEM:
		return ErrNoMemory
	case syscall.ENOMSG, syscall.ENOBUFS, syscall.ETIMEDOUT, syscall.EAGAIN:
		return ErrTryAgain
	case syscall.EBADE:
		return ErrFailedOperation
	case syscall.ETIME:
		return ErrTimeout
	case syscall.EINVAL:
		return ErrInvalidParam
	case syscall.EBUSY:
		return ErrBusy
	case syscall.EACCES:
		return ErrAccess
	case syscall.EOVERFLOW:
		return ErrNameTooLong
	case syscall.EEXIST:
		return ErrExist
	case syscall.ENOSPC:
		return ErrNoSpace
	case syscall.EINTR:
		return ErrInterrupt
	case syscall.ENOENT, syscall.ENODEV:
		return ErrNotExist
	case syscall.ENOSYS, syscall.ENOTSUP:
		return ErrNotSupported
	case syscall.EBADMSG:
		return ErrMessageError
	case syscall.EMSGSIZE, syscall.E2BIG:
		return ErrTooBig
	}
	return ErrLibrary
}
