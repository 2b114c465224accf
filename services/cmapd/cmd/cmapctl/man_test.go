package main

import (
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/urfave/cli/v2"
)

// manOptions documents every option of optstring (the tool parses with
// getopt, not urfave/cli, so the table is written here and checked
// against optstring below).
var manOptions = []cli.Flag{
	&cli.BoolFlag{Name: "g", Usage: "get: print the keys named as arguments"},
	&cli.BoolFlag{Name: "s", Usage: "set: KEY TYPE VALUE (TYPE i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin; for bin VALUE is a file name, - for standard input)"},
	&cli.BoolFlag{Name: "d", Usage: "delete the keys named as arguments"},
	&cli.BoolFlag{Name: "D", Usage: "delete every key under the prefixes given as arguments"},
	&cli.StringFlag{Name: "p", Usage: "load `FILE`: lines \"[^[^]]key [type value]\"; ^key deletes, ^^prefix deletes by prefix, other lines set"},
	&cli.BoolFlag{Name: "t", Usage: "track changes of the keys named as arguments until \"q\" or end of input"},
	&cli.BoolFlag{Name: "T", Usage: "track changes of the keys under the prefixes given as arguments"},
	&cli.StringFlag{Name: "C", Usage: "clear statistics of `WHAT`: knet, totem, ipc, schedmiss or all (implies -m stats)"},
	&cli.StringFlag{Name: "m", Usage: "use `MAP`: icmap (or default), the configuration and runtime keys, or stats"},
	&cli.BoolFlag{Name: "b", Usage: "show binary values (as escaped bytes)"},
	&cli.BoolFlag{Name: "q", Usage: "quiet: with -g print only the values"},
	&cli.BoolFlag{Name: "h", Usage: "print the help text"},
	&cli.BoolFlag{Name: "json", Usage: "needle extension: print a key listing or -g as one JSON object (see JSON OUTPUT)"},
}

// TestManOptionsComplete fails when an option is added to the tool but
// not to its page, or the other way round.
func TestManOptionsComplete(t *testing.T) {
	documented := map[string]bool{}
	for _, f := range manOptions {
		documented[f.Names()[0]] = true
	}
	for _, c := range strings.ReplaceAll(optstring, ":", "") {
		if !documented[string(c)] {
			t.Errorf("option -%c is not on the man page", c)
		}
		delete(documented, string(c))
	}
	delete(documented, "json")
	for n := range documented {
		t.Errorf("the man page documents -%s, which the tool does not take", n)
	}
}

func TestManPage(t *testing.T) {
	manpage.Check(t, manpage.Page{
		Name: "cmapctl", Section: 8,
		Summary: "read, write and track the configuration and statistics map (needle's corosync-cmapctl)",
		Synopsis: []string{
			"cmapctl [-b] [-m MAP] [PREFIX...]",
			"cmapctl [-b] [-q] -g KEY...",
			"cmapctl -s KEY TYPE VALUE",
			"cmapctl -d KEY...  |  -D PREFIX...",
			"cmapctl -p FILE",
			"cmapctl [-b] -t KEY  |  -T PREFIX",
			"cmapctl -C knet|totem|ipc|schedmiss|all",
			"cmapctl --json [-b] [-m MAP] [PREFIX... | -g KEY...]",
		},
		Description: `cmapctl is needle's corosync-cmapctl: the same options, output, messages and exit statuses as Debian's corosync-cmapctl 3.1.7, byte for byte, against cmapd or a real corosync. Options are parsed like glibc's getopt: options may follow arguments and "--" ends them.

Without an action it lists every key (or every key under each PREFIX) as "KEY (TYPE) = VALUE". The keys are described in cmap_keys(8); the "icmap" map holds the configuration file's keys and runtime state, the "stats" map the statistics (totem counters, IPC connections, and needle's stats.needle.* keys).

Writes go to the local cmapd only, as with corosync: cmap is not replicated. A reload (cfgtool -R) makes the logging., totem., nodelist., quorum., uidgid.config. and nozzle. keys match the file again, so a value set there with -s lasts until the next reload; runtime., resources., system., pload. and uidgid.uid./uidgid.gid. keys set with -s are kept.`,
		Flags: manOptions,
		Sections: []manpage.Section{
			{Title: "JSON output", Body: `--json (a needle extension) prints one JSON object instead of the lines of a listing or of -g; -q is ignored. Messages on standard error and exit statuses do not change, and the object lists exactly the keys the text would have listed, also when the exit status is 1. "cmapctl --json -h" prints the help text followed by the schema:

    {"keys": [
      {"key": "totem.version", "type": "u32", "value": 2},
      {"key": "totem.cluster_name", "type": "str", "value": "needle"},
      {"key": "x.bin", "type": "bin", "value": "00ff"}]}

Integer types are exact JSON numbers (u64 included), flt and dbl are numbers ("NaN", "+Inf" and "-Inf" as strings), str is a string, bin is lowercase hex with -b and has no value without it. The schema of every needle tool is in docs/json.md.`},
			{Title: "Exit status", Body: `* 0
success.
* 1
a connection failed, an argument was missing or invalid, a key was not found (-g), a listing found no key under any prefix, or a write failed.`},
		},
		SeeAlso: []string{"corosync-cmapctl(8)", "cmap_keys(8)", "cmapd(8)", "needle.conf(5)"},
	})
}
