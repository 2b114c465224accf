package manpage

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"one line", ".PP\none line\n"},
		{"a -b\n.c\n\n'd", ".PP\na \\-b\n\\&.c\n.PP\n\\&'d\n"},
		{"    x = 1\n\ty\\z", ".PP\n.RS 4\n.nf\nx = 1\ny\\ez\n.fi\n.RE\n"},
		{"* 0\nok\n* 1\nbad", ".TP\n.B 0\nok\n.TP\n.B 1\nbad\n"},
	}
	for _, tc := range tests {
		if got := Text(tc.in); got != tc.want {
			t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderFlags(t *testing.T) {
	p := Page{Name: "x", Section: 8, Summary: "does x", Synopsis: []string{"x [-c FILE]"},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "c", Aliases: []string{"config"}, Value: "/etc/x.conf", Usage: "read `FILE`"},
			&cli.BoolFlag{Name: "json", Usage: "print JSON"},
			&cli.BoolFlag{Name: "hidden", Hidden: true},
		},
		SeeAlso: []string{"corosync(8)", "y(5)"}}
	want := `.TH X 8 "" "needle" "needle manual"
.SH NAME
x \- does x
.SH SYNOPSIS
.nf
x [\-c FILE]
.fi
.SH OPTIONS
.TP
\fB\-c\fR \fIFILE\fR, \fB\-\-config\fR \fIFILE\fR
read FILE (default: /etc/x.conf)
.TP
\fB\-\-json\fR
print JSON
.SH SEE ALSO
.BR corosync (8),
.BR y (5)
`
	if got := p.Render(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if err := Lint("x.8", []byte(p.Render())); err != nil && !errors.Is(err, ErrNoGroff) {
		t.Fatal(err)
	}
}

// TestLintCatchesWarnings proves Lint fails on what groff warns about.
func TestLintCatchesWarnings(t *testing.T) {
	err := Lint("bad.8", []byte(".TH BAD 8\n.SH NAME\nbad \\- x\n.XX undefined macro\n"))
	if errors.Is(err, ErrNoGroff) {
		t.Skip(err)
	}
	if err == nil || !strings.Contains(err.Error(), "bad.8") {
		t.Fatalf("Lint passed a page with an undefined macro: %v", err)
	}
}

// wantPages are the pages docs/man must hold: every daemon and tool, the
// configuration file, votequorum and the cmap keys.
var wantPages = []string{
	"totemd.8", "cmapd.8", "quorumd.8", "cpgd.8",
	"cfgtool.8", "cmapctl.8", "quorumtool.8", "cpgtool.8", "keygen.8", "pload.8", "needlectl.8",
	"needle.conf.5", "votequorum.5", "cmap_keys.8",
}

// TestDocsManPages lints every page in docs/man (generated and hand-written)
// and renders it with man -l as an admin would read it: no warnings, and
// the page's NAME section shows.
func TestDocsManPages(t *testing.T) {
	dir := DocDir(t)
	for _, p := range wantPages {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("missing page: %v", err)
		}
	}
	pages, err := filepath.Glob(filepath.Join(dir, "*.[1-8]"))
	if err != nil || len(pages) == 0 {
		t.Fatalf("no pages in %s: %v", dir, err)
	}
	if _, err := exec.LookPath("groff"); err != nil {
		t.Skip(ErrNoGroff)
	}
	man, manErr := exec.LookPath("man")
	if manErr != nil {
		t.Logf("man not installed: pages linted with groff only")
	}
	for _, p := range pages {
		t.Run(filepath.Base(p), func(t *testing.T) {
			t.Parallel()
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := Lint(filepath.Base(p), b); err != nil {
				t.Error(err)
			}
			if manErr != nil {
				return
			}
			cmd := exec.Command(man, "--warnings=w", "-l", p)
			cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_FORMATTING=", "MANPAGER=cat", "PAGER=cat")
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			if err := cmd.Run(); err != nil || errb.Len() > 0 || !strings.Contains(out.String(), "NAME") {
				t.Errorf("man -l %s: %v\n%s", p, err, errb.String())
			}
		})
	}
}
