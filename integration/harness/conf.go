package harness

import (
	"fmt"
	"os/exec"
	"strings"
)

// ConfOptions shape the corosync.conf written for a cluster.
type ConfOptions struct {
	ClusterName string // default "needle-it"
	Transport   string // default "udpu"
	Token       int    // ms; 0 leaves corosync's default
	Extra       string // appended verbatim inside totem { }
	Quorum      string // body of quorum { }; default votequorum provider
	Logging     string // body of logging { }; default stderr only, no syslog
	System      string // body of system { }; empty: no system section
	IPv6        bool   // ring0_addr = the nodes' IPv6 addresses
	// Authkey, when set, is written to every node's etc/authkey (for a
	// crypto_cipher / crypto_hash in Extra).
	Authkey []byte
}

// CorosyncConf renders one corosync.conf for every node of the cluster; the
// same file works for needle and for real corosync, as both read it.
func (c *Cluster) CorosyncConf(o ConfOptions) []byte {
	if o.ClusterName == "" {
		o.ClusterName = "needle-it"
	}
	if o.Transport == "" {
		o.Transport = "udpu"
	}
	if o.Quorum == "" {
		o.Quorum = "provider: corosync_votequorum"
	}
	if o.Logging == "" {
		o.Logging = "to_stderr: yes\n\tto_syslog: no\n\ttimestamp: hires"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "totem {\n\tversion: 2\n\tcluster_name: %s\n\ttransport: %s\n", o.ClusterName, o.Transport)
	b.WriteString("\tcrypto_cipher: none\n\tcrypto_hash: none\n")
	if o.Token > 0 {
		fmt.Fprintf(&b, "\ttoken: %d\n", o.Token)
	}
	if o.Extra != "" {
		b.WriteString("\t" + o.Extra + "\n")
	}
	b.WriteString("}\n\nnodelist {\n")
	for _, nd := range c.Nodes {
		addr := nd.Addr
		if o.IPv6 {
			addr = nd.Addr6
		}
		fmt.Fprintf(&b, "\tnode {\n\t\tring0_addr: %s\n\t\tname: node%d\n\t\tnodeid: %d\n\t}\n", addr, nd.Index+1, nd.Index+1)
	}
	fmt.Fprintf(&b, "}\n\nquorum {\n\t%s\n}\n\nlogging {\n\t%s\n}\n", o.Quorum, o.Logging)
	if o.System != "" {
		fmt.Fprintf(&b, "\nsystem {\n\t%s\n}\n", o.System)
	}
	return []byte(b.String())
}

// WriteConf writes the same corosync.conf to every node's /etc/corosync.
func (c *Cluster) WriteConf(o ConfOptions) error {
	conf := c.CorosyncConf(o)
	for _, nd := range c.Nodes {
		if err := nd.WriteFile("etc/corosync.conf", conf, 0o644); err != nil {
			return err
		}
		if o.Authkey != nil {
			if err := nd.WriteFile("etc/authkey", o.Authkey, 0o400); err != nil {
				return err
			}
		}
	}
	return nil
}

// HaveCorosync reports whether Debian's corosync and its tools are installed.
func HaveCorosync() bool {
	for _, bin := range []string{"corosync", "corosync-quorumtool", "corosync-cmapctl"} {
		if _, err := exec.LookPath(bin); err != nil {
			return false
		}
	}
	return true
}
