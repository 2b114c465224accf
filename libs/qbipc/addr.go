package qbipc

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
)

const (
	// sunPathLen is sizeof(sun_path) on Linux.
	sunPathLen = 108
	// ForceFilesystemFlag is the file whose existence makes libqb use
	// filesystem sockets under SocketDir instead of abstract names (§2.2).
	ForceFilesystemFlag = "/etc/libqb/force-filesystem-sockets"
	// SocketDir is where Debian's libqb puts filesystem setup sockets.
	SocketDir = "/tmp"
)

// abstractAddr is libqb's abstract address for name: a leading NUL, the
// name, then NULs up to the whole sun_path, so the kernel sees a 110-byte
// address. Linux compares abstract names with their length: "\x00cmap"
// alone is a different name that no libqb client will ever reach.
func abstractAddr(name, network string) (*net.UnixAddr, error) {
	if len(name) == 0 || len(name) > sunPathLen-1 {
		return nil, fmt.Errorf("abstract socket name %q: length %d not in 1..%d", name, len(name), sunPathLen-1)
	}
	b := make([]byte, sunPathLen)
	b[0] = '@' // Go maps a leading '@' to NUL and keeps the full length
	copy(b[1:], name)
	return &net.UnixAddr{Name: string(b), Net: network}, nil
}

// filesystemSockets reports whether libqb on this host uses filesystem
// setup sockets (the flag file exists).
func filesystemSockets(flagFile string) bool {
	_, err := os.Stat(flagFile)
	return err == nil
}

// setupAddr is the address a libqb client connects to for service.
func setupAddr(service, flagFile, socketDir string) (*net.UnixAddr, error) {
	if filesystemSockets(flagFile) {
		return &net.UnixAddr{Name: filepath.Join(socketDir, service), Net: "unix"}, nil
	}
	return abstractAddr(service, "unix")
}
