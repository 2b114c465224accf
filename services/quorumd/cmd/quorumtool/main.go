// Command quorumtool is needle's corosync-quorumtool: the same options,
// output, messages and exit codes as Debian's corosync-quorumtool 3.1.7,
// byte for byte (the Date line aside, which is the clock), against needle
// (cmapd, totemd's cfg, quorumd) or a real corosync. Options are parsed as
// glibc's getopt(3) parses them for the original.
//
// One addition: --json, with -s or -l, prints one JSON object instead of
// the text (schema: `quorumtool --json -h`, and jsonHelp in help.go).
//
// Quirks kept on purpose, because scripts parse this output: with -o i or
// -o n the Votes and Qdevice columns come from the node at the same row
// before sorting (the original sorts the node list but not the info it
// fetched per row); -s exits 1 after printing everything when GETINFO of
// the local node says CS_ERR_NOT_EXIST; a failed TRACKSTOP prints the
// previous call's status ("success").
package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	cmapclient "github.com/needle-cluster/needle/services/cmapd/client"
	qclient "github.com/needle-cluster/needle/services/quorumd/client"
	"github.com/needle-cluster/needle/services/quorumd/wire"
)

const optstring = "VHaslpmfe:v:hin:o:"

type command int

const (
	cmdShowNodes command = iota
	cmdShowStatus
	cmdSetVotes
	cmdSetExpected
	cmdMonitor
	cmdUnregisterQdevice
)

type sortType int

const (
	sortAddr sortType = iota
	sortNodeID
	sortName
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1
	exitNotQuorate  = 2
	quorumFreeFails = -1
)

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdout, os.Stderr))
}

// tool is one invocation's state: the original's globals.
type tool struct {
	ctx    context.Context
	out    *bufio.Writer
	stderr io.Writer

	hex, ipNames, allAddrs, parsable, json bool
	sort                                   sortType

	cmap  *cmapclient.Client
	q     *qclient.Quorum
	cfg   *cfgConn
	vq    *qclient.Votequorum // nil unless votequorum is the provider
	ourID uint32

	// from the last quorum notification (g_view_list and friends)
	quorate     bool
	ringSeq     uint64
	ringRepNode uint32
	view        []uint32
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	t := &tool{ctx: ctx, out: out, stderr: stderr}
	return t.main(args)
}

// errf writes to stderr, after flushing stdout so a terminal shows both
// in the order the original's line-buffered stdout would.
func (t *tool) errf(format string, a ...any) {
	t.out.Flush()
	fmt.Fprintf(t.stderr, format, a...)
}

func (t *tool) main(args []string) int {
	prog := args[0]
	opts, errMsg := getopt(prog, args[1:], optstring)
	cmd := cmdShowStatus
	var votes int64
	var nodeid uint32
	nodeidSet := false
	for _, o := range opts {
		switch o.c {
		case 'f':
			cmd = cmdUnregisterQdevice
		case 's':
			cmd = cmdShowStatus
		case 'a':
			t.allAddrs = true
		case 'm':
			cmd = cmdMonitor
		case 'i':
			t.ipNames = true
		case 'H':
			t.hex = true
		case 'l':
			cmd = cmdShowNodes
		case 'p':
			t.parsable = true
		case jsonOpt:
			t.json = true
		case 'e':
			v, ok := strtonum(o.arg, 1, math.MaxInt32)
			if !ok {
				t.errf("New expected votes value was not valid, try a positive number\n")
				return exitFailure
			}
			votes, cmd = v, cmdSetExpected
		case 'n':
			v, ok := strtonum(o.arg, 1, math.MaxUint32)
			if !ok {
				t.errf("The nodeid was not valid, try a positive number\n")
				return exitFailure
			}
			nodeid, nodeidSet = uint32(v), true
		case 'v':
			v, ok := strtonum(o.arg, 0, math.MaxInt32)
			if !ok {
				t.errf("New votes value was not valid, try a positive number or zero\n")
				return exitFailure
			}
			votes, cmd = v, cmdSetVotes
		case 'o':
			switch o.arg {
			case "a":
				t.sort = sortAddr
			case "i":
				t.sort = sortNodeID
			case "n":
				t.sort = sortName
			default:
				t.errf("Invalid ordering option. valid orders are a(address), i(node ID) or n(name)\n")
				return exitFailure
			}
		case 'V':
			fmt.Fprintf(t.out, "corosync-quorumtool version: %s\n", version)
			return exitOK
		case 'h':
			usage(t.out, prog)
			if t.json {
				io.WriteString(t.out, jsonHelp)
			}
			return exitOK
		}
	}
	if errMsg != "" {
		t.errf("%s", errMsg)
		usage(t.out, prog)
		return exitFailure
	}

	if !t.initAll() {
		t.closeAll()
		return exitFailure
	}
	defer t.closeAll()

	switch cmd {
	case cmdShowNodes:
		return t.showNodes()
	case cmdShowStatus:
		return t.showStatus()
	case cmdSetVotes:
		if t.usingVotequorum() <= 0 {
			t.errf("You cannot change node votes, corosync is not using votequorum\n")
			return exitFailure
		}
		if !nodeidSet {
			nodeid = t.ourID
		}
		if err := t.vq.SetVotes(t.ctx, nodeid, uint32(votes)); err != nil {
			t.errf("Unable to set votes %d for nodeid: %d: %s\n", votes, nodeid, qclient.Code(err).Strerror())
			return exitFailure
		}
		return exitOK
	case cmdSetExpected:
		if t.usingVotequorum() <= 0 {
			t.errf("You cannot change expected votes, corosync is not using votequorum\n")
			return exitFailure
		}
		if err := t.vq.SetExpected(t.ctx, uint32(votes)); err != nil {
			t.errf("Unable to set expected votes: %s\n", qclient.Code(err).Strerror())
			return exitFailure
		}
		return exitOK
	case cmdMonitor:
		return t.monitor()
	default: // cmdUnregisterQdevice
		if t.usingVotequorum() <= 0 {
			t.errf("You cannot unregister quorum device, corosync is not using votequorum\n")
			return exitFailure
		}
		return t.unregisterQdevice()
	}
}

// initAll is the original's init_all: cmap, quorum (model V0), cfg, and
// votequorum when it is the provider, then our node id.
func (t *tool) initAll() bool {
	var err error
	if t.cmap, err = cmapclient.Dial(t.ctx, cmapclient.MapDefault); err != nil {
		t.cmap = nil
		t.errf("Cannot initialize CMAP service\n")
		return false
	}
	if t.q, err = qclient.DialQuorum(t.ctx, wire.ModelV0); err != nil {
		t.q = nil
		t.errf("Cannot initialize QUORUM service\n")
		return false
	}
	if t.cfg, err = dialCfg(t.ctx); err != nil {
		t.cfg = nil
		t.errf("Cannot initialise CFG service\n")
		return false
	}
	if t.usingVotequorum() <= 0 {
		return true
	}
	if t.vq, err = qclient.DialVotequorum(t.ctx); err != nil {
		t.vq = nil
		t.errf("Cannot initialise VOTEQUORUM service\n")
		return false
	}
	id, st := t.getU32("runtime.votequorum.this_node_id")
	if st != cs.OK {
		t.errf("Unable to retrieve this_node_id\n")
		return false
	}
	t.ourID = id
	return true
}

func (t *tool) closeAll() {
	if t.cmap != nil {
		t.cmap.Close()
	}
	if t.q != nil {
		t.q.Close()
	}
	if t.cfg != nil {
		t.cfg.Close()
	}
	if t.vq != nil {
		t.vq.Close()
	}
}

// quorumType is get_quorum_type: the provider name, or ok false when the
// daemon reports QUORUM_FREE or quorum.provider cannot be read.
func (t *tool) quorumType() (string, bool) {
	if t.q.Type() == wire.QuorumFree {
		return "", false
	}
	s, st := t.getString("quorum.provider")
	if st != cs.OK {
		return "", false
	}
	if len(s) > 255 {
		s = s[:255]
	}
	return s, true
}

// usingVotequorum is using_votequorum: 1 votequorum, 0 another provider,
// -1 none.
func (t *tool) usingVotequorum() int {
	s, ok := t.quorumType()
	if !ok {
		return quorumFreeFails
	}
	if s == "corosync_votequorum" {
		return 1
	}
	return 0
}
