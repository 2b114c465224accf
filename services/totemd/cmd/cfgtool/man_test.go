package main

import (
	"io"
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/urfave/cli/v2"
)

// manFlags are the options as the page shows them: both spellings of
// each, from the same table the tool parses with.
func manFlags() []cli.Flag {
	var flags []cli.Flag
	for _, d := range optionDefs(&settings{}, io.Discard) {
		var names []string
		if d.opt.short != 0 {
			names = append(names, string(d.opt.short))
		}
		if d.opt.long != "" {
			names = append(names, d.opt.long)
		}
		if d.opt.hasArg {
			flags = append(flags, &cli.StringFlag{Name: names[0], Aliases: names[1:], Usage: d.usage})
			continue
		}
		flags = append(flags, &cli.BoolFlag{Name: names[0], Aliases: names[1:], Usage: d.usage})
	}
	return flags
}

// TestManPage checks docs/man/cfgtool.8 against the option table (make
// man regenerates it).
func TestManPage(t *testing.T) {
	manpage.Check(t, manpage.Page{
		Name: "cfgtool", Section: 8,
		Summary:  "display and configure the cluster engine's active parameters (needle's corosync-cfgtool)",
		Synopsis: []string{"cfgtool [[-i ADDRESS] [-b] -s] [-n] [-R] [-L] [-k NODEID] [-a NODEID] [-h] [-H [--force]]", "cfgtool --json -s | -n"},
		Description: `cfgtool is needle's corosync-cfgtool: the same options, output, messages and exit statuses as corosync 3.1.7's tool, byte for byte, so scripts written for corosync keep working. It talks to the libqb "cfg" service (served by totemd) and reads the nodelist and transport from the "cmap" service (cmapd); it works against a real corosync 3.1.7 as well.

Options are parsed as glibc's getopt_long parses them for the original: short options may be clustered, long options may be abbreviated to a unique prefix, and when several actions are given the last one wins. -b, -i and --force modify -s and -H.

With no action, or with -h, the usage text is printed and the exit status is 0.`,
		Flags:    manFlags(),
		ArgNames: map[string]string{"i": "ADDRESS", "k": "NODEID", "a": "NODEID"},
		Sections: []manpage.Section{
			{Title: "Link status", Body: `-s prints "Local node ID N, transport T", then for each enabled link an address and the state of every configured node on it: localhost, connected or disconnected. With -b each link shows one character per node instead: n for the local node, 3 for a connected and 1 for an enabled but disconnected link.

-n lists every reachable remote node with its links (source and destination address, connected, mtu).

needle runs udp and udpu transports only (no knet): links are the totem interfaces and "connected" means the node is reachable. The address shown is, as with corosync 3.1.7 on udp/udpu, the address of the last other node in the node list, not the local one (corosync's udpu driver reports the member's address as the link's source).`},
			{Title: "JSON output", Body: `--json (a needle extension) with -s or -n prints one JSON object instead of the text; -b is then ignored. Messages on standard error and exit statuses do not change; on failure nothing is printed on standard output. "cfgtool --json" alone prints the usage followed by the schema:

    {"local_node_id": 1, "transport": "udpu",
     "links": [{"link_id": 0, "addr": "10.0.0.1",
                "nodes": [{"node_id": 1, "state": "localhost"},
                          {"node_id": 2, "state": "connected"}]}],
     "nodes": [{"node_id": 2, "reachable": true, "remote": false,
                "external": false,
                "links": [{"link_id": 0, "src_addr": "10.0.0.1",
                           "connected": true, "dynconnected": false,
                           "mtu": 1500}]}]}

"links" appears with -s, "nodes" with -n. The full schema of every needle tool is in docs/json.md.`},
			{Title: "Exit status", Body: `* 0
success; also -H whatever the answer (as corosync-cfgtool does), and usage.
* 1
a connection to cfg or cmap failed, a node id was invalid, the node list was empty, or a request failed (-k, -a).
* N
-R and -L exit with the cs_error_t code of a failed request (e.g. 6 CS_ERR_TRY_AGAIN).`},
			{Title: "Reload", Body: `-R asks every node of the ring to re-read corosync.conf; cmapd re-reads the file and applies what may change at run time (see needle.conf(5)). A node whose file does not parse keeps its old configuration and the tool reports the error.`},
		},
		SeeAlso: []string{"corosync-cfgtool(8)", "needlectl(8)", "totemd(8)", "cmapd(8)", "needle.conf(5)"},
	})
}
