package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/needle-cluster/needle/libs/nsscrypto"
	"github.com/urfave/cli/v2"
)

const (
	defaultKeyLen = 256
	defaultRandom = "/dev/urandom"
)

// usageText is corosync-keygen 3.1.7's usage text with our program name
// (its synopsis still says -m, a leftover; the option is -r).
func usageText(prog string) string {
	return "Usage: " + prog + ` [-k <keyfile>] [-s size] [-m <randomfile>] [-l] [-h]
     -k / --key-file=<filename> -  Write to the specified keyfile
            instead of the default ` + nsscrypto.DefaultKeyFile + `.
     -r / --random-file -  Random number source file. Default is 
            /dev/urandom. As an example /dev/random may be requested
            (that may require user input for entropy).
     -l / --less-secure - Not used, option is kept only
            for compatibility.
     -s / --size -  Length of key.
     -h / --help -  Print basic usage.
`
}

// exitError carries corosync-keygen's exit status; an empty msg means the
// message is already printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// fail builds corosync-keygen's err()/errx() style failure: "prog: msg[: cause]".
func fail(code int, cause error, format string, a ...any) *exitError {
	msg := fmt.Sprintf(format, a...)
	if cause != nil {
		msg += ": " + strerror(cause)
	}
	return &exitError{code, msg}
}

// flags are corosync-keygen's options (the man page is generated from
// them; the help text stays the C tool's usageText).
func flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "key-file", Aliases: []string{"k"}, Value: nsscrypto.DefaultKeyFile, Usage: "write the key to `FILE`"},
		&cli.StringFlag{Name: "random-file", Aliases: []string{"r"}, Value: defaultRandom, Usage: "read the key's bytes from `FILE`"},
		&cli.StringFlag{Name: "size", Aliases: []string{"s"}, Usage: fmt.Sprintf("key length in `BYTES`, %d to %d (default: %d)", nsscrypto.MinKeyLen, nsscrypto.MaxKeyLen, defaultKeyLen)},
		&cli.BoolFlag{Name: "less-secure", Aliases: []string{"l"}, Usage: "accepted and ignored, for compatibility"},
		&cli.BoolFlag{Name: "help", Aliases: []string{"h"}, Usage: "print the usage"},
	}
}

// run is the whole command; it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	prog := filepath.Base(args[0]) // err()/errx() print the short name
	argv0 := args[0]               // getopt prints argv[0] as given
	app := &cli.App{
		Name:            prog,
		HideHelp:        true,
		HideHelpCommand: true,
		HideVersion:     true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags:           flags(),
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			fmt.Fprintf(stderr, "%s: %s\n", argv0, getoptWording(err))
			fmt.Fprintln(stdout, "Error parsing command line options.")
			return &exitError{1, ""}
		},
		// urfave/cli prints this for -h/--help instead of running Action.
		CustomAppHelpTemplate: usageText(prog) + "\n",
		ExitErrHandler:        func(*cli.Context, error) {},
		Action: func(c *cli.Context) error {
			return generate(c, prog, stdout)
		},
	}
	err := app.Run(splitShortOptions(args))
	if err == nil {
		return 0
	}
	var ee *exitError
	if !errors.As(err, &ee) {
		ee = &exitError{1, err.Error()}
	}
	if ee.msg != "" {
		fmt.Fprintf(stderr, "%s: %s\n", prog, ee.msg)
	}
	return ee.code
}

// splitShortOptions rewrites getopt short-option clusters that Go's flag
// parsing does not know ("-kFILE", "-lk FILE", "-ls256") into one option per
// argument, so every spelling corosync-keygen accepts works here too.
func splitShortOptions(args []string) []string {
	out := []string{args[0]}
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		switch a {
		case "-k", "-r", "-s", "--key-file", "--random-file", "--size":
			// The next argument is the value, even if it starts with '-'.
			out = append(out, a)
			if i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			continue
		}
		if len(a) <= 2 || a[0] != '-' || a[1] == '-' {
			out = append(out, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			if c != 'k' && c != 'r' && c != 's' {
				out = append(out, "-"+string(c))
				continue
			}
			out = append(out, "-"+string(c))
			if j+1 < len(a) {
				out = append(out, a[j+1:])
			} else if i+1 < len(args) {
				i++
				out = append(out, args[i])
			}
			break
		}
	}
	return out
}

// getoptWording rephrases Go flag errors as glibc getopt prints them.
func getoptWording(err error) string {
	s := err.Error()
	if name, ok := strings.CutPrefix(s, "flag provided but not defined: "); ok {
		if len(name) == 2 && name[0] == '-' {
			return fmt.Sprintf("invalid option -- '%c'", name[1])
		}
		return fmt.Sprintf("unrecognized option '-%s'", name)
	}
	if name, ok := strings.CutPrefix(s, "flag needs an argument: "); ok {
		if len(name) == 2 && name[0] == '-' {
			return fmt.Sprintf("option requires an argument -- '%c'", name[1])
		}
		return fmt.Sprintf("option '-%s' requires an argument", name)
	}
	return s
}

func generate(c *cli.Context, prog string, stdout io.Writer) error {
	if c.NArg() > 0 {
		// corosync-keygen ignores operands; Go's flag parsing stops at the
		// first one, so a later -k would be lost and the default file
		// overwritten. Refuse instead.
		fmt.Fprintln(stdout, "Error parsing command line options.")
		return &exitError{1, fmt.Sprintf("unexpected argument '%s'", c.Args().First())}
	}
	keyLen := defaultKeyLen
	if c.IsSet("size") {
		n, ok := parseSize(c.String("size"))
		if !ok {
			// errx() with a message that already ends in a newline.
			return &exitError{1, fmt.Sprintf("Unsupported key size (supported <%d,%d>)\n", nsscrypto.MinKeyLen, nsscrypto.MaxKeyLen)}
		}
		keyLen = n
	}
	keyFile, randomDev := c.String("key-file"), c.String("random-file")

	fmt.Fprintln(stdout, "Corosync Cluster Engine Authentication key generator.")
	fmt.Fprintf(stdout, "Gathering %d bits for key from %s.\n", keyLen*8, randomDev)
	key, err := gather(randomDev, keyLen, stdout)
	if err != nil {
		return err
	}
	return writeKey(keyFile, key, stdout)
}

// parseSize reads -s like strtoll(…, 10) with corosync-keygen's range check.
func parseSize(s string) (int, bool) {
	n, err := strconv.ParseInt(strings.TrimLeft(s, " \t\n\v\f\r"), 10, 64)
	if err != nil || n < nsscrypto.MinKeyLen || n > nsscrypto.MaxKeyLen {
		return 0, false
	}
	return int(n), true
}

// gather reads keyLen bytes from the random source, telling the user how
// much is missing while it blocks, as corosync-keygen does.
func gather(dev string, keyLen int, stdout io.Writer) ([]byte, error) {
	f, err := os.Open(dev)
	if err != nil {
		return nil, fail(1, err, "Failed to open random source")
	}
	defer f.Close()
	if dev == "/dev/random" {
		fmt.Fprintln(stdout, "Press keys on your keyboard to generate entropy.")
	}
	key := make([]byte, keyLen)
	got := 0
	for {
		n, err := f.Read(key[got:])
		got += n
		if got == keyLen {
			return key, nil
		}
		if err == io.EOF {
			// corosync-keygen would loop for ever on a source that ends.
			return nil, fail(1, nil, "Could not read %s: only %d of %d bytes available", dev, got, keyLen)
		}
		if err != nil {
			return nil, fail(1, err, "Could not read %s", dev)
		}
		fmt.Fprintf(stdout, "Press keys on your keyboard to generate entropy (%d bits still needed).\n", (keyLen-got)*8)
	}
}

// writeKey replaces path with key, mode 0400, through a temporary file in the
// same directory and a rename, so a crash never leaves a short key behind.
// Like corosync-keygen it overwrites an existing key without asking (root
// may; others get "Permission denied" for a 0400 key, as with the real one),
// and writes through a symbolic link to its target.
func writeKey(path string, key []byte, stdout io.Writer) error {
	target := followLinks(path)
	if fi, err := os.Stat(target); err == nil {
		// corosync-keygen opens an existing key for writing: refuse where
		// that open would fail (a directory; a 0400 key when not root).
		if fi.IsDir() {
			return fail(2, syscall.EISDIR, "Could not create %s", path)
		}
		if err := syscall.Access(target, 2 /* W_OK */); err != nil {
			return fail(2, err, "Could not create %s", path)
		}
	}
	dir := filepath.Dir(target)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(target)+".tmp*")
	if err != nil {
		return fail(2, err, "Could not create %s", path)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o400); err != nil {
		return fail(3, err, "Failed to set key file permissions to 0400")
	}
	fmt.Fprintf(stdout, "Writing corosync key to %s.\n", path)
	if _, err := tmp.Write(key); err != nil {
		return fail(4, err, "Could not write %s", path)
	}
	if err := tmp.Sync(); err != nil {
		return fail(4, err, "Could not write %s", path)
	}
	if err := tmp.Close(); err != nil {
		return fail(5, err, "Could not close %s", path)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fail(2, err, "Could not create %s", path)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		err = d.Sync()
		d.Close()
		if err != nil {
			return fail(5, err, "Could not sync directory %s", dir)
		}
	}
	return nil
}

// followLinks returns the file path names after symbolic links, including a
// dangling last link, whose target open(O_CREAT) would create. It gives up
// after 40 links, as the kernel does, and leaves the rest to the write.
func followLinks(path string) string {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			return path
		}
		dest, err := os.Readlink(path)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(dest) {
			dest = filepath.Join(filepath.Dir(path), dest)
		}
		path = dest
	}
	return path
}

// strerror gives glibc's text for err's errno ("No such file or directory").
func strerror(err error) string {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return err.Error()
	}
	s := errno.Error()
	if s != "" && s[0] >= 'a' && s[0] <= 'z' {
		s = strings.ToUpper(s[:1]) + s[1:]
	}
	return s
}
