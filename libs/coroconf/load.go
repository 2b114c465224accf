package coroconf

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// LoadOptions are the parts of the system the parser consults.
type LoadOptions struct {
	IDs IDResolver
}

// Parse maps one corosync.conf text into cmap keys; name is used in error
// messages exactly as given (Corosync prints the -c argument). The
// uidgid.d directory is not read; Load does that.
func Parse(name string, data []byte, opts LoadOptions) (Map, error) {
	m := make(Map)
	h := &mainHandler{m: m, ids: opts.IDs}
	if err := parseFile(name, data, h); err != nil {
		return nil, err
	}
	return m, nil
}

// Load reads the configuration file at path and then every regular file in
// the uidgid.d directory next to it (in name order), as Corosync's start-up
// does. Errors are *Error values with Corosync's text and exit code.
func Load(path string, opts LoadOptions) (Map, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, configError("Can't read file " + path + ": " + Strerror(err))
	}
	// A read error ends the input like fgets returning NULL: a directory
	// given as the config file parses as an empty file [verified].
	data, _ := io.ReadAll(f)
	f.Close()
	m, err := Parse(path, data, opts)
	if err != nil {
		return nil, err
	}
	if err := loadUIDGIDDir(m, filepath.Dir(path)+"/uidgid.d", opts); err != nil {
		return nil, err
	}
	return m, nil
}

// loadUIDGIDDir parses the uidgid.d files into m. A missing directory and
// unreadable files are skipped, as in Corosync.
func loadUIDGIDDir(m Map, dir string, opts LoadOptions) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		file := dir + "/" + n
		st, err := os.Stat(file)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		if err := parseFile(file, data, &uidgidHandler{m: m, ids: opts.IDs}); err != nil {
			return err
		}
	}
	return nil
}

// Strerror renders an OS error as glibc's strerror text ("No such file or
// directory"), which Corosync embeds in its messages.
func Strerror(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		s := errno.Error()
		if s != "" && s[0] >= 'a' && s[0] <= 'z' {
			s = string(s[0]-'a'+'A') + s[1:]
		}
		return s
	}
	return err.Error()
}
