// Command cmapctl is needle's corosync-cmapctl: the same flags, output,
// messages and exit codes as Debian's corosync-cmapctl 3.1.7, byte for
// byte, against cmapd or a real corosync. Options are parsed like glibc's
// getopt (not a flag library) so every command line behaves the same.
//
// One addition: --json with a key listing (no option, or -g) prints one
// JSON object instead of the text (schema: `cmapctl --json -h` and
// docs/json.md); without it every output is the C tool's.
package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"time"

	"github.com/needle-cluster/needle/libs/corotypes/cs"
	"github.com/needle-cluster/needle/libs/corotypes/value"
	"github.com/needle-cluster/needle/services/cmapd/client"
	"github.com/needle-cluster/needle/services/cmapd/ctlfmt"
)

// optstring is corosync-cmapctl's getopt string.
const optstring = "m:hqgsdDtTbp:C:"

// maxTryAgain is how often CS_ERR_TRY_AGAIN is retried, 1 s apart.
const maxTryAgain = 10

type action int

const (
	actPrintPrefix action = iota
	actGet
	actSet
	actDelete
	actDeletePrefix
	actLoad
	actTrack
	actClearStats
)

func main() {
	code := run(os.Args, os.Stdin, os.Stdout, os.Stderr)
	os.Exit(code)
}

// tool is one invocation's state.
type tool struct {
	c      *client.Client
	out    *bufio.Writer
	stderr io.Writer
	stdin  io.Reader
	fmt    ctlfmt.Options
	ctx    context.Context
	// json collects the listed keys for --json instead of printing lines.
	json *listJSON
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	t := &tool{out: out, stderr: stderr, stdin: stdin, ctx: context.Background()}
	return t.main(args)
}

func (t *tool) main(args []string) int {
	opts, params, ok := getopt(args[0], args[1:], optstring, t.stderr)
	act := actPrintPrefix
	m := client.MapDefault
	mapSet := false
	trackPrefix := true
	var clearOpt, settings string
	for _, o := range opts {
		switch o.c {
		case 'h':
			t.out.WriteString(helpText)
			if t.json != nil {
				t.out.WriteString(jsonHelp)
			}
			return 0
		case 'J':
			t.json = &listJSON{Keys: []keyJSON{}}
		case 'b':
			t.fmt.Binary = true
		case 'q':
			t.fmt.Quiet = true
		case 'g':
			act = actGet
		case 's':
			act = actSet
		case 'd':
			act = actDelete
		case 'D':
			act = actDeletePrefix
		case 'p':
			settings, act = o.arg, actLoad
		case 'C':
			switch o.arg {
			case "knet", "totem", "ipc", "schedmiss", "all":
				act, clearOpt, m = actClearStats, o.arg, client.MapStats
			default:
				io.WriteString(t.stderr, "argument to -C should be 'knet', 'totem', 'ipc', 'schedmiss' or 'all'\n")
				return 1
			}
		case 't':
			act, trackPrefix = actTrack, false
		case 'T':
			act = actTrack
		case 'm':
			switch o.arg {
			case "icmap", "default":
				m, mapSet = client.MapDefault, true
			case "stats":
				m, mapSet = client.MapStats, true
			}
			if !mapSet {
				io.WriteString(t.stderr, "invalid map name, must be 'default', 'icmap' or 'stats'\n")
				return 1
			}
		}
	}
	if !ok {
		return 1
	}
	if len(params) == 0 && act != actLoad && act != actClearStats && act != actPrintPrefix {
		io.WriteString(t.stderr, "Expected key after options\n")
		return 1
	}
	if err := t.connect(m); err != cs.OK {
		io.WriteString(t.stderr, ctlfmt.InitError(err))
		return 1
	}
	defer t.c.Close()
	if t.json != nil && (act == actPrintPrefix || act == actGet) {
		// Printed last, whatever the exit status: it holds exactly the
		// keys the text would have listed.
		defer t.json.write(t.out)
	}
	code := 0
	switch act {
	case actPrintPrefix:
		noResult := 0
		if len(params) == 0 {
			noResult = t.printIter("")
		}
		for _, p := range params {
			noResult += t.printIter(p)
		}
		if noResult > 0 && noResult >= len(params) {
			return 1
		}
	case actGet:
		for _, k := range params {
			r, err := t.c.GetBuf(t.ctx, k, 0)
			if err != nil {
				t.out.Flush()
				io.WriteString(t.stderr, ctlfmt.GetKeyError(k, client.Code(err)))
				return 1
			}
			t.printKey(k, r.Len, r.Type)
		}
	case actDelete:
		for _, k := range params {
			if err := t.c.Delete(t.ctx, k); err != nil {
				io.WriteString(t.stderr, ctlfmt.DeleteError(k, client.Code(err)))
				return 1
			}
		}
	case actDeletePrefix:
		for _, p := range params {
			if c := t.deletePrefix(p); c != 0 {
				return c
			}
		}
	case actLoad:
		code = t.load(settings)
	case actTrack:
		for _, k := range params {
			flags := client.TrackAdd | client.TrackDelete | client.TrackModify
			if trackPrefix {
				flags |= client.TrackPrefix
			}
			if _, err := t.c.TrackAdd(t.ctx, k, flags, 0); err != nil {
				io.WriteString(t.stderr, ctlfmt.TrackError(client.Code(err)))
				return 1
			}
		}
		t.track()
	case actSet:
		if len(params) < 3 {
			io.WriteString(t.stderr, "At least 3 parameters are expected for set\n")
			return 1
		}
		code = t.set(params[0], params[1], params[2])
	case actClearStats:
		_ = t.c.Set(t.ctx, "stats.clear."+clearOpt, value.U32(1))
	}
	return code
}

// connect is cmap_initialize_map with the tool's retries.
func (t *tool) connect(m client.Map) cs.Error {
	for tries := 0; ; tries++ {
		c, err := client.Dial(t.ctx, m)
		if err == nil {
			t.c = c
			return cs.OK
		}
		code := client.Code(err)
		if code != cs.ErrTryAgain || tries >= maxTryAgain {
			return code
		}
		time.Sleep(time.Second)
	}
}
