package logsys

import (
	"bytes"
	"net"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestSyslogConn sends through log/syslog to a datagram socket standing in
// for /dev/log and checks the wire lines: facility*8+severity, tag, body.
func TestSyslogConn(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()

	c, err := Parse(map[string]string{"logging.to_stderr": "no", "logging.syslog_facility": "local3", "logging.debug": "trace"})
	if err != nil {
		t.Fatal(err)
	}
	sys, err := Open(c, Options{Stderr: &bytes.Buffer{}, Syslog: &SyslogConn{Network: "unixgram", Addr: sock, Tag: "corosync"}, Program: "corosync"})
	if err != nil {
		t.Fatal(err)
	}
	defer sys.Close()
	l := sys.Logger("MAIN")
	Notice(l, "Corosync Cluster Engine exiting normally")
	l.Trace("deep")

	wants := []string{
		`^<157>\w{3} [ \d]\d \d\d:\d\d:\d\d corosync\[\d+\]:   \[MAIN  \] Corosync Cluster Engine exiting normally\n$`,
		`^<159>\w{3} [ \d]\d \d\d:\d\d:\d\d corosync\[\d+\]:   \[MAIN  \] deep\n$`,
	}
	buf := make([]byte, 4096)
	for _, want := range wants {
		// The datagrams are already queued; the deadline only guards a bug.
		pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := pc.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(buf[:n]); !regexp.MustCompile(want).MatchString(got) {
			t.Errorf("got %q, want match of %s", got, want)
		}
	}
}
