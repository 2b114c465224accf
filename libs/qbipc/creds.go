package qbipc

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Creds identifies the process at the other end of a connection.
type Creds struct {
	PID int32
	UID uint32
	GID uint32
}

func (c Creds) String() string { return fmt.Sprintf("pid %d uid %d gid %d", c.PID, c.UID, c.GID) }

// Authorize applies corosync's accept rule: uid 0 or gid 0 is always let in;
// anyone else only if allowed(uid, gid) says so (corosync: the uidgid.* cmap
// keys). A refusal wraps EACCES, which the client sees as CS_ERR_ACCESS.
func Authorize(c Creds, allowed func(uid, gid uint32) bool) error {
	if c.UID == 0 || c.GID == 0 {
		return nil
	}
	if allowed != nil && allowed(c.UID, c.GID) {
		return nil
	}
	return fmt.Errorf("denied connection attempt from %d:%d: %w", c.UID, c.GID, syscall.EACCES)
}

// peerCreds reads SO_PEERCRED of a connected unix socket.
func peerCreds(fd uintptr) (Creds, error) {
	u, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return Creds{}, fmt.Errorf("SO_PEERCRED: %w", err)
	}
	return Creds{PID: u.Pid, UID: u.Uid, GID: u.Gid}, nil
}

// credsFromOOB extracts SCM_CREDENTIALS from received control data.
func credsFromOOB(oob []byte) (Creds, bool) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return Creds{}, false
	}
	for i := range msgs {
		if u, err := unix.ParseUnixCredentials(&msgs[i]); err == nil {
			return Creds{PID: u.Pid, UID: u.Uid, GID: u.Gid}, true
		}
	}
	return Creds{}, false
}
