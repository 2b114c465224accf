package client

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
)

func TestCode(t *testing.T) {
	cases := []struct {
		err  error
		want cs.Error
	}{
		{nil, cs.OK},
		{cs.ErrNotExist, cs.ErrNotExist},
		{fmt.Errorf("get x: %w", cs.ErrAccess), cs.ErrAccess},
		{&ConnectError{Code: cs.ErrAccess, Err: syscall.EACCES}, cs.ErrAccess},
		{fmt.Errorf("call: %w", qbipc.ErrTryAgain), cs.ErrTryAgain},
		{errors.New("broken pipe"), cs.ErrLibrary},
	}
	for _, c := range cases {
		if got := Code(c.err); got != c.want {
			t.Errorf("Code(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

func TestConnectCode(t *testing.T) {
	if got := connectCode(syscall.ECONNREFUSED); got != cs.ErrLibrary {
		t.Errorf("ECONNREFUSED: %v", got)
	}
}
