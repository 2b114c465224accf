// Command cfgtool is needle's corosync-cfgtool: the same options, output
// and exit statuses as corosync 3.1.7's tool (spec/cfg.md §7.1), over the
// libqb "cfg" and "cmap" services, so it works against totemd and against
// a real corosync.
//
// One addition: --json with -s or -n prints one JSON object instead of
// the text (schema: `cfgtool --json` and docs/json.md); every other
// output stays byte-identical to corosync-cfgtool's.
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"
)

func main() {
	// Like C stdio: stdout is line-buffered on a terminal and written at
	// exit otherwise, stderr is unbuffered; merged output then interleaves
	// the way corosync-cfgtool's does.
	var stdout io.Writer = os.Stdout
	var buf *bufio.Writer
	if _, err := unix.IoctlGetTermios(int(os.Stdout.Fd()), unix.TCGETS); err != nil {
		buf = bufio.NewWriterSize(os.Stdout, 64<<10)
		stdout = buf
	}
	code := run(context.Background(), os.Args, stdout, os.Stderr)
	if buf != nil {
		buf.Flush()
	}
	os.Exit(code)
}

// action is what the command line asks for; the last one given wins.
type action int

const (
	actUsage action = iota
	actLinkStatus
	actNodeStatus
	actReload
	actReopen
	actShutdown
	actShowAddr
	actKill
)

// settings collects the options in command-line order.
type settings struct {
	action action
	nodeid uint32
	brief  bool
	force  bool
	json   bool   // needle's --json: -s/-n print one JSON object
	iface  string // accepted and ignored, as in 3.1.7
	// rejected: an option argument was invalid; the message is printed
	// and parsing stopped, as the C tool exits at that option.
	rejected bool
}

// errRejected stops urfave/cli's parsing after an invalid option argument.
var errRejected = errors.New("option argument rejected")

// optionValue is a urfave/cli generic flag value whose Set applies the
// option to the settings the moment the parser reaches it, so options
// act in command-line order like the C tool's getopt loop.
type optionValue struct {
	opt   option
	apply func(arg string) error
}

func (v *optionValue) String() string     { return "" }
func (v *optionValue) Set(s string) error { return v.apply(s) }
func (v *optionValue) IsBoolFlag() bool   { return !v.opt.hasArg }

// optionDef is one option of the tool and what it does to the settings.
type optionDef struct {
	opt   option
	usage string
	apply func(arg string) error
}

// optionDefs lists corosync-cfgtool's options ("i:snbrRLk:a:hH" plus the
// long ones) in its long_options order, which getopt's ambiguity messages
// follow.
func optionDefs(st *settings, stderr io.Writer) []optionDef {
	nodeidArg := func(a action) func(string) error {
		return func(s string) error {
			n, ok := parseNodeID(s)
			if !ok {
				fmt.Fprint(stderr, "The nodeid was not valid, try a positive number\n")
				st.rejected = true
				return errRejected
			}
			st.nodeid, st.action = n, a
			return nil
		}
	}
	set := func(a action) func(string) error { return func(string) error { st.action = a; return nil } }
	noop := func(string) error { return nil }
	return []optionDef{
		{option{'i', "if", true}, "interface IP address or link id (ignored)", func(s string) error { st.iface = s; return nil }},
		{option{'s', "status", false}, "status of the current links on this node", set(actLinkStatus)},
		{option{'n', "nodes", false}, "status of the connected nodes and their links", set(actNodeStatus)},
		{option{'b', "brief", false}, "brief link status with -s", func(string) error { st.brief = true; return nil }},
		{option{'R', "reload", false}, "tell every node to reload corosync.conf", set(actReload)},
		{option{'L', "reopen", false}, "reopen the log files", set(actReopen)},
		{option{'k', "kill", true}, "kill the node with this id", nodeidArg(actKill)},
		{option{'a', "address", true}, "show the addresses of the node with this id", nodeidArg(actShowAddr)},
		{option{'H', "shutdown", false}, "shut this node down cleanly", set(actShutdown)},
		{option{0, "force", false}, "with -H: shut down regardless of vetoes", func(string) error { st.force = true; return nil }},
		{option{0, "json", false}, "with -s or -n: print one JSON object (needle extension; schema in docs/json.md)", func(string) error { st.json = true; return nil }},
		{option{'r', "", false}, "(no effect)", noop},
		{option{'h', "", false}, "print usage", noop},
	}
}

// run is the whole tool; it returns the exit status.
func run(ctx context.Context, argv []string, stdout, stderr io.Writer) int {
	st := &settings{}
	var opts []option
	var flags []cli.Flag
	for _, d := range optionDefs(st, stderr) {
		opts = append(opts, d.opt)
		flags = append(flags, &cli.GenericFlag{Name: d.opt.name(), Usage: d.usage, Value: &optionValue{opt: d.opt, apply: d.apply}})
	}
	prog := "cfgtool"
	if len(argv) > 0 {
		prog = argv[0]
	}
	found, getoptErr := getopt(prog, argv[min(1, len(argv)):], opts)
	canon := []string{prog}
	for _, oc := range found {
		if oc.opt.hasArg {
			canon = append(canon, "-"+oc.opt.name()+"="+oc.arg)
		} else {
			canon = append(canon, "-"+oc.opt.name())
		}
	}
	code := 0
	app := &cli.App{
		Name:            "cfgtool",
		Usage:           "display and configure active parameters within corosync",
		HideHelp:        true,
		HideHelpCommand: true,
		HideVersion:     true,
		Writer:          stdout,
		ErrWriter:       stderr,
		Flags:           flags,
		OnUsageError:    func(_ *cli.Context, err error, _ bool) error { return err },
		Action: func(c *cli.Context) error {
			if getoptErr != "" {
				fmt.Fprint(stderr, getoptErr)
				code = 1
				return nil
			}
			code = dispatch(c.Context, st, stdout, stderr)
			return nil
		},
	}
	if err := app.RunContext(ctx, canon); err != nil {
		if st.rejected {
			return 1
		}
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	return code
}

// parseNodeID accepts what corosync's util_strtonum(…, 1, UINT_MAX)
// does: strtoll base 10 (leading space, sign) consuming the whole text.
func parseNodeID(s string) (uint32, bool) {
	n, err := strconv.ParseInt(strings.TrimLeft(s, " \t\n\v\f\r"), 10, 64)
	if err != nil || n < 1 || n > 0xffffffff {
		return 0, false
	}
	return uint32(n), true
}

func dispatch(ctx context.Context, st *settings, stdout, stderr io.Writer) int {
	switch st.action {
	case actLinkStatus, actNodeStatus:
		return statusDo(ctx, st.action, st.brief, st.json, stdout, stderr)
	case actReload:
		return reloadDo(ctx, stdout, stderr)
	case actReopen:
		return reopenDo(ctx, stderr)
	case actKill:
		return killDo(ctx, st.nodeid, stdout, stderr)
	case actShutdown:
		return shutdownDo(ctx, st.force, stdout, stderr)
	case actShowAddr:
		return showAddrDo(ctx, st.nodeid, stdout, stderr)
	}
	fmt.Fprint(stdout, usage)
	if st.json {
		fmt.Fprint(stdout, jsonHelp)
	}
	return 0
}

// usage is corosync-cfgtool 3.1.7's text, byte for byte.
const usage = "corosync-cfgtool [[-i <interface ip>] [-b] -s] [-R] [-L] [-k nodeid] [-a nodeid] [-h] [-H]\n\n" +
	"A tool for displaying and configuring active parameters within corosync.\n" +
	"options:\n" +
	"\t-i\tFinds only information about the specified interface IP address or link id when used with -s..\n" +
	"\t-s\tDisplays the status of the current links on this node.\n" +
	"\t-n\tDisplays the status of the connected nodes and their links.\n" +
	"\t-b\tDisplays the brief status of the current links on this node when used with -s.\n" +
	"\t-R\tTell all instances of corosync in this cluster to reload corosync.conf.\n" +
	"\t-L\tTell corosync to reopen all logging files.\n" +
	"\t-k\tKill a node identified by node id.\n" +
	"\t-a\tDisplay the IP address(es) of a node\n" +
	"\t-h\tPrint basic usage.\n" +
	"\t-H\tShutdown corosync cleanly on this node.\n" +
	"\t\t--force will shut down corosync regardless of daemon vetos\n"
