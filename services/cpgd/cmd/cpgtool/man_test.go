package main

import (
	"strings"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/urfave/cli/v2"
)

// manOptstring is what run passes to getopt.
const manOptstring = "hd:ne"

// manOptions documents every option of manOptstring (the tool parses
// with getopt, so the table is written here and checked below).
var manOptions = []cli.Flag{
	&cli.StringFlag{Name: "d", Usage: "machine-readable output: fields separated by the first character of `DELIMITER`"},
	&cli.BoolFlag{Name: "e", Usage: "do not escape unprintable characters in group names"},
	&cli.BoolFlag{Name: "n", Usage: "list only the names of the existing groups"},
	&cli.BoolFlag{Name: "h", Usage: "print the usage"},
	&cli.BoolFlag{Name: "json", Usage: "needle extension: print one JSON object (see JSON OUTPUT)"},
}

func TestManOptionsComplete(t *testing.T) {
	documented := map[string]bool{}
	for _, f := range manOptions {
		documented[f.Names()[0]] = true
	}
	for _, c := range strings.ReplaceAll(manOptstring, ":", "") {
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

// TestManPage checks docs/man/cpgtool.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	manpage.Check(t, manpage.Page{
		Name: "cpgtool", Section: 8,
		Summary:  "list the closed process groups and their members (needle's corosync-cpgtool)",
		Synopsis: []string{"cpgtool [-d DELIMITER] [-e] [-n] [--json] [-h]"},
		Description: `cpgtool is needle's corosync-cpgtool: the same options, output, messages and exit statuses as Debian's corosync-cpgtool 3.1.7, byte for byte, against cpgd or a real corosync.

It lists every CPG group known to the local node with its members: process id, node id and the node's addresses (from the cfg service). Group names are escaped (\xNN) unless -e is given.`,
		Flags: manOptions,
		Sections: []manpage.Section{
			{Title: "JSON output", Body: `--json (a needle extension) prints one JSON object instead of the text; -d, -e and -n still select what is listed, and errors are reported as in the text mode:

    {"groups": [{"name": "pacemakerd", "name_hex": "706163656d616b657264",
                 "members": [{"pid": 1234, "nodeid": 1,
                              "addrs": ["10.0.0.1"]}]}]}

With -n each group has only name and name_hex. The member's node id is "nodeid" here (other needle tools write "node_id"); docs/json.md lists every tool's schema.`},
			{Title: "Exit status", Body: `* 0
success.
* 1
a connection failed or the groups could not be iterated.`},
		},
		SeeAlso: []string{"corosync-cpgtool(8)", "cpgd(8)", "needlectl(8)"},
	})
}
