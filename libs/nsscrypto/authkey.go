package nsscrypto

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// Authkey size limits of Corosync 3.1.7 (libknet's KNET_MIN_KEY_LEN and
// KNET_MAX_KEY_LEN), in bytes.
const (
	MinKeyLen = 128
	MaxKeyLen = 4096
)

// DefaultKeyFile is read when neither totem.keyfile nor totem.key is set.
const DefaultKeyFile = "/etc/corosync/authkey"

// KeyError is an authkey failure. Its text is exactly Corosync 3.1.7's log
// message, so totemd can log it as corosync would; Unwrap gives the cause.
type KeyError struct {
	Msg string
	Err error
}

func (e *KeyError) Error() string { return e.Msg }
func (e *KeyError) Unwrap() error { return e.Err }

// KeySource says where the authkey comes from: the totem.keyfile and totem.key
// values and whether each is set. Corosync's order is keyfile, then key, then
// DefaultFile.
type KeySource struct {
	KeyFile    string
	KeyFileSet bool
	Key        string
	KeySet     bool
	// DefaultFile replaces DefaultKeyFile when not empty.
	DefaultFile string
}

// LoadKey returns the authkey that src points to, with a warning (empty if
// none) for the caller to log when the key file is open to group or others.
// Only call it when the suite is Enabled: corosync reads no key otherwise.
func LoadKey(src KeySource) (key []byte, warning string, err error) {
	switch {
	case src.KeyFileSet:
		return ReadKeyFile(src.KeyFile)
	case src.KeySet:
		key, err := KeyFromValue(src.Key)
		return key, "", err
	case src.DefaultFile != "":
		return ReadKeyFile(src.DefaultFile)
	default:
		return ReadKeyFile(DefaultKeyFile)
	}
}

// ReadKeyFile reads an authkey file as corosync 3.1.7 does: at most MaxKeyLen
// bytes are used (the rest of a longer file is ignored, silently, as corosync
// does), fewer than MinKeyLen is an error. The warning is non-empty when the
// file can be read or written by group or others.
func ReadKeyFile(path string) (key []byte, warning string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", &KeyError{fmt.Sprintf("Could not open %s: %s", path, strerror(err)), err}
	}
	defer f.Close()
	buf := make([]byte, MaxKeyLen)
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, "", &KeyError{fmt.Sprintf("Could not read %s: %s", path, strerror(err)), err}
	}
	if n < MinKeyLen {
		return nil, "", &KeyError{fmt.Sprintf("Could only read %d bits of minimum %d bits from %s.", n*8, MinKeyLen*8, path), nil}
	}
	if fi, err := f.Stat(); err == nil && fi.Mode().Perm()&0o066 != 0 {
		warning = fmt.Sprintf("authkey %s has mode %04o: group or others can read or change it; it should be 0400 (chmod 0400 %s)", path, fi.Mode().Perm(), path)
	}
	return buf[:n:n], warning, nil
}

// KeyFromValue turns a totem.key value into key bytes as corosync 3.1.7 does:
// cmap stores the string with its terminating NUL and that length is checked,
// so the key is the value plus one zero byte and 127 characters is the
// shortest value accepted.
func KeyFromValue(v string) ([]byte, error) {
	key := append([]byte(v), 0)
	if len(key) > MaxKeyLen {
		return nil, &KeyError{"key is too long", nil}
	}
	if len(key) < MinKeyLen {
		return nil, &KeyError{"key is too short", nil}
	}
	return key, nil
}

// strerror renders err's errno the way glibc's strerror does (Go's texts are
// glibc's with a lower-case first letter), falling back to err itself.
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = string(s[0]-'a'+'A') + s[1:]
	}
	return s
}
