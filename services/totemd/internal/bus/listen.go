package bus

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hashicorp/go-hclog"
	"github.com/needle-cluster/needle/libs/ipcproto"
)

// Who may reach the bus. A daemon attached to the bus multicasts through
// the ring and answers for a whole Corosync service, so only root's
// daemons may attach, and the bus must never be reachable by anyone else,
// not even for a moment. Two guards, each sufficient alone:
//
//   - The socket is born unreachable. bind(2) creates the socket file with
//     the process umask (under umask 000: mode 0777), and a chmod after it
//     leaves a window in which any local user can connect and attach. So
//     listenPrivate binds inside a fresh 0700 directory (only root can
//     traverse it), sets the socket's mode to 0600 there, and only then
//     renames it into place; rename(2) is atomic, so at the final path
//     there is never a socket with other permissions, and a stale socket
//     of a previous totemd is replaced in the same step.
//   - Every connection's SO_PEERCRED is checked before its first frame is
//     read (admit): a peer whose uid is not 0 gets a KindError and is
//     disconnected, and the refusal is logged with its pid, uid and gid.
//     This holds even if an administrator loosens the socket's mode.

// privateListener removes its socket file on Close, unless another totemd
// has put its own socket at the same path since.
type privateListener struct {
	*net.UnixListener
	path string
	fi   os.FileInfo
	once sync.Once
}

func (l *privateListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if fi, serr := os.Lstat(l.path); serr == nil && os.SameFile(fi, l.fi) {
			os.Remove(l.path)
		}
	})
	return err
}

// listenPrivate creates a listening unix socket at path, mode 0600, that
// is unreachable to non-root users at every instant (see above).
func listenPrivate(path string) (net.Listener, error) {
	if err := checkParent(filepath.Dir(path)); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(filepath.Dir(path), ".bus-")
	if err != nil {
		return nil, fmt.Errorf("bus: private directory beside %s: %w", path, err)
	}
	defer os.RemoveAll(dir)
	// MkdirTemp asks for 0700 and the umask can only take bits away; make
	// sure anyway, since the whole guard rests on it.
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("bus: private directory %s is not private (%v, %v)", dir, fi.Mode(), err)
	}
	tmp := filepath.Join(dir, "bus.sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("bus: listen %s: %w", path, err)
	}
	ln.SetUnlinkOnClose(false) // the socket moves; privateListener removes it
	fail := func(err error) (net.Listener, error) {
		ln.Close()
		return nil, err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fail(fmt.Errorf("bus: chmod %s: %w", tmp, err))
	}
	fi, err := os.Lstat(tmp)
	if err != nil {
		return fail(fmt.Errorf("bus: stat %s: %w", tmp, err))
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(fmt.Errorf("bus: move socket into place at %s: %w", path, err))
	}
	return &privateListener{UnixListener: ln, path: path, fi: fi}, nil
}

// checkParent refuses a directory in which another user could replace the
// socket after it is in place (and so impersonate totemd to the service
// daemons): it must belong to this process's user, and be writable by
// nobody else unless sticky (as /tmp, where only a file's owner may
// rename or remove it).
func checkParent(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("bus: socket directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("bus: socket directory %s: no owner information", dir)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("bus: socket directory %s belongs to uid %d, not to totemd's uid %d", dir, st.Uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&os.ModeSticky == 0 {
		return fmt.Errorf("bus: socket directory %s (mode %v) is writable by other users", dir, fi.Mode())
	}
	return nil
}

// admit checks the peer of a freshly accepted bus connection: root is let
// in (its pid is returned); anyone else gets a KindError, a log line, and
// the hang-up.
func admit(c net.Conn, log hclog.Logger) (int32, bool) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		log.Error("refused bus connection: not a unix socket", "remote", c.RemoteAddr())
		c.Close()
		return 0, false
	}
	cred, err := peerCred(uc)
	if err == nil && cred.Uid == 0 {
		return cred.Pid, true
	}
	why := fmt.Sprintf("bus: only root may attach; peer pid %d has uid %d", cred.Pid, cred.Uid)
	if err != nil {
		why = fmt.Sprintf("bus: cannot read the peer's credentials: %v", err)
	}
	log.Warn("refused bus connection from a non-root process", "pid", cred.Pid, "uid", cred.Uid, "gid", cred.Gid, "error", err)
	conn := ipcproto.NewConn(c)
	_ = conn.Send(&ipcproto.Msg{Kind: ipcproto.KindError, Text: why})
	conn.Close()
	return 0, false
}

// peerCred reads SO_PEERCRED: the credentials of the process that
// connected, fixed at connect(2) time.
func peerCred(uc *net.UnixConn) (syscall.Ucred, error) {
	rc, err := uc.SyscallConn()
	if err != nil {
		return syscall.Ucred{}, err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := rc.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return syscall.Ucred{}, err
	}
	if cerr != nil {
		return syscall.Ucred{}, fmt.Errorf("SO_PEERCRED: %w", cerr)
	}
	if cred == nil {
		return syscall.Ucred{}, errors.New("SO_PEERCRED: no credentials")
	}
	return *cred, nil
}
