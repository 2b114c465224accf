// Command cpgtool is needle's corosync-cpgtool: the same options (-d -e -n
// -h), output, messages and exit codes as Debian's corosync-cpgtool 3.1.7,
// byte for byte, against cpgd or a real corosync. Options are parsed like
// glibc's getopt so every command line behaves the same.
//
// Extension: --json prints one JSON document instead (schema: see
// jsonOutput); -d, -e and -n still select what is listed, and
// errors are reported as in the text mode.
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/qbipc"
	"github.com/needle-cluster/needle/services/cpgd/client"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

const helpFmt = `%s [-d delimiter] [-e] [-n] [-h]

A tool for displaying cpg groups and members.
options:
	-d	Delimiter between fields.
	-e	Don't escape unprintable characters in group name.
	-n	Display only all existing group names.
	-h	Display this help.
`

// tool is one invocation's state.
type tool struct {
	ctx    context.Context
	cpg    *client.Client
	cfg    *qbipc.Client
	out    *bufio.Writer
	stderr io.Writer
	delim  byte
	escape bool
}

func run(args []string, stdout, stderr io.Writer) int {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	t := &tool{ctx: context.Background(), out: out, stderr: stderr, escape: true}
	prog := filepath.Base(args[0]) // usage names the basename, glibc's getopt argv[0]
	opts, _, ok := getopt(args[0], args[1:], "hd:ne", stderr)
	namesOnly, asJSON := false, false
	for _, o := range opts {
		switch o.c {
		case 'd':
			if len(o.arg) > 0 {
				t.delim = o.arg[0]
			}
		case 'n':
			namesOnly = true
		case 'e':
			t.escape = false
		case 'J':
			asJSON = true
		case 'h':
			fmt.Fprintf(out, helpFmt, prog)
			return 0
		}
	}
	if !ok {
		return 1
	}
	c, err := client.Dial(t.ctx, client.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "Could not initialize corosync cpg API error %d\n", client.Code(err))
		return 1
	}
	t.cpg = c
	cfg, err := qbipc.Dial(t.ctx, "cfg", qbipc.DialOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "Could not initialize corosync configuration API error %d\n", cs.FromErrno(qbipc.Errno(err)))
		return 1
	}
	t.cfg = cfg
	var good bool
	switch {
	case asJSON:
		good = t.json(namesOnly)
	case namesOnly:
		good = t.groups()
	default:
		good = t.groupsWithMembers()
	}
	t.cpg.Finalize(t.ctx)
	t.cfg.Close()
	if !good {
		return 1
	}
	return 0
}
