package qbipc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/needle-cluster/needle/libs/qbipc/internal/shmring"
)

// validate checks the fields a successor relies on.
func (p *Parked) validate() error {
	switch {
	case p.ID == 0:
		return errors.New("connection id 0")
	case p.Transport != SHM && p.Transport != Socket:
		return fmt.Errorf("unknown transport %d", p.Transport)
	case p.MaxMsg < DefaultMaxMsgSize || p.MaxMsg > maxServerMsgSize:
		return fmt.Errorf("max_msg_size %d not in %d..%d", p.MaxMsg, DefaultMaxMsgSize, maxServerMsgSize)
	case p.Stats.FlowControl < 0 || p.Stats.FlowControl > 2:
		return fmt.Errorf("flow-control level %d not in 0..2", p.Stats.FlowControl)
	}
	if err := checkName(p.service, "service"); err != nil {
		return err
	}
	if err := checkDir(p.tr.dir); err != nil {
		return err
	}
	// A ring holds fewer chunks than words: more credits or owed bytes
	// than that are not a ring's.
	if words := shmring.DataSize(p.MaxMsg) / 4; p.tr.credits < 0 || p.tr.credits > words || p.tr.owed < 0 || p.tr.owed > words {
		return fmt.Errorf("notification counts %d and %d beyond a ring of %d words", p.tr.credits, p.tr.owed, words)
	}
	// The longest name made from dir and service must fit an abstract address.
	if n := len(sockName(p.tr.dir, p.service) + "-event-tx"); n > sunPathLen-1 {
		return fmt.Errorf("directory %q and service %q make %d-byte names, over %d", p.tr.dir, p.service, n, sunPathLen-1)
	}
	return nil
}

func checkName(s, what string) error {
	if s == "" || len(s) > sunPathLen-1 || strings.ContainsAny(s, "/\x00") {
		return fmt.Errorf("%s %q: empty, over %d bytes, or with '/' or NUL", what, s, sunPathLen-1)
	}
	return nil
}

// checkDir accepts what newTransport makes: an absolute, clean path whose
// last element starts with "qb-". Files are removed in it by name.
func checkDir(dir string) error {
	if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir || strings.ContainsRune(dir, 0) ||
		!strings.HasPrefix(filepath.Base(dir), "qb-") || len(dir) > pathMax {
		return fmt.Errorf("connection directory %q: not an absolute clean path to a qb-* directory", dir)
	}
	return nil
}

// checkFiles checks the number and kinds of a Parked's files.
func checkFiles(tr Transport, files []*os.File) error {
	want := []string{"setup socket"}
	if tr == SHM {
		for _, k := range ringKinds {
			want = append(want, k+" ring header", k+" ring data")
		}
	} else {
		want = append(want, "control file", "request socket", "event socket")
	}
	if len(files) != len(want) {
		return fmt.Errorf("%d files, want %d for the %v transport", len(files), len(want), tr)
	}
	for i, f := range files {
		kind := unix.S_IFREG
		sotype := 0
		switch {
		case i == 0:
			kind, sotype = unix.S_IFSOCK, unix.SOCK_STREAM
		case tr == Socket && i >= 2:
			kind, sotype = unix.S_IFSOCK, unix.SOCK_DGRAM
		}
		if err := checkFile(f, uint32(kind), sotype); err != nil {
			return fmt.Errorf("file %d (%s): %w", i, want[i], err)
		}
	}
	return nil
}

// checkFile checks one file's kind, and a socket's family and type.
func checkFile(f *os.File, kind uint32, sotype int) error {
	if f == nil {
		return errors.New("nil")
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var cerr error
	err = rc.Control(func(fd uintptr) {
		var st unix.Stat_t
		if cerr = unix.Fstat(int(fd), &st); cerr != nil {
			return
		}
		if st.Mode&unix.S_IFMT != kind {
			cerr = fmt.Errorf("mode %#o, want type %#o", st.Mode, kind)
			return
		}
		if kind != unix.S_IFSOCK {
			return
		}
		dom, err1 := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN)
		typ, err2 := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TYPE)
		if cerr = errors.Join(err1, err2); cerr == nil && (dom != unix.AF_UNIX || typ != sotype) {
			cerr = fmt.Errorf("socket of family %d type %d, want unix (%d) type %d", dom, typ, unix.AF_UNIX, sotype)
		}
	})
	return errors.Join(err, cerr)
}
