package cs

import (
	"syscall"
	"testing"
)

func TestFromErrno(t *testing.T) {
	for _, c := range []struct {
		e    syscall.Errno
		want Error
	}{
		{0, OK}, {syscall.EAGAIN, ErrTryAgain}, {syscall.ETIMEDOUT, ErrTryAgain},
		{syscall.EACCES, ErrAccess}, {syscall.ENOENT, ErrNotExist}, {syscall.EMSGSIZE, ErrTooBig},
		{syscall.EBADE, ErrFailedOperation}, {syscall.EPIPE, ErrLibrary}, {syscall.ENOTCONN, ErrLibrary},
	} {
		if got := FromErrno(c.e); got != c.want {
			t.Errorf("FromErrno(%v) = %v, want %v", c.e, got, c.want)
		}
	}
}
