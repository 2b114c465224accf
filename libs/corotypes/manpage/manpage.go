// Package manpage renders needle's command reference pages (roff, man(7)
// macros) from the commands' urfave/cli definitions, so a page's OPTIONS
// and COMMANDS can never drift from what the binary parses. The prose
// around them (description, exit status, files, examples) is written in
// each command's man test with a tiny markup (see Text).
//
// It lives in corotypes because every needle command's module already
// depends on corotypes; it is used by tests only (each command's
// TestManPage writes or checks docs/man/<name>.<section>), never by a
// binary.
//
// urfave/cli's own App.ToMan was the first choice, but its template puts
// "GLOBAL OPTIONS" and a "Usage:" block into every page, cannot order or
// name sections, and gives getopt-style tools (cfgtool, cmapctl) no way to
// show "-s, --status" from their option tables.
package manpage

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Page is one reference page.
type Page struct {
	Name    string // command name, e.g. "cfgtool"
	Section int    // 5 or 8
	// Summary is the NAME line's text after "name \-".
	Summary string
	// Synopsis lines, shown as typed (no markup).
	Synopsis []string
	// Description is Text.
	Description string
	// Flags are the command's options, in the order to show them.
	Flags []cli.Flag
	// ArgNames names the argument of flags whose usage has no `ARG`
	// (flag name → argument name); VALUE otherwise.
	ArgNames map[string]string
	// Commands are subcommands, each with its usage and flags.
	Commands []*cli.Command
	// Sections follow OPTIONS/COMMANDS, in order (EXIT STATUS, FILES,
	// JSON OUTPUT, ...).
	Sections []Section
	// SeeAlso are page references such as "corosync-cfgtool(8)".
	SeeAlso []string
}

// Section is one extra section; Body is Text.
type Section struct {
	Title string
	Body  string
}

// Source is the .TH footer naming the package.
const Source = "needle"

// Manual is the .TH header naming the manual.
const Manual = "needle manual"

// Render returns the page as roff.
func (p Page) Render() string {
	var b strings.Builder
	fmt.Fprintf(&b, ".TH %s %d \"\" \"%s\" \"%s\"\n", strings.ToUpper(escape(p.Name)), p.Section, Source, Manual)
	fmt.Fprintf(&b, ".SH NAME\n%s \\- %s\n", escape(p.Name), escape(p.Summary))
	if len(p.Synopsis) > 0 {
		b.WriteString(".SH SYNOPSIS\n.nf\n")
		for _, s := range p.Synopsis {
			b.WriteString(literalLine(s) + "\n")
		}
		b.WriteString(".fi\n")
	}
	if p.Description != "" {
		b.WriteString(".SH DESCRIPTION\n")
		b.WriteString(Text(p.Description))
	}
	if len(p.Flags) > 0 {
		b.WriteString(".SH OPTIONS\n")
		writeFlags(&b, p.Flags, p.ArgNames)
	}
	if len(p.Commands) > 0 {
		b.WriteString(".SH COMMANDS\n")
		for _, c := range p.Commands {
			if c.Hidden {
				continue
			}
			names := escape(c.Name)
			for _, a := range c.Aliases {
				names += ", " + escape(a)
			}
			fmt.Fprintf(&b, ".TP\n.B %s\n%s\n", names, escape(strings.ReplaceAll(c.Usage, "`", "")))
			if c.Description != "" {
				b.WriteString(Text(c.Description))
			}
			if len(c.Flags) > 0 {
				b.WriteString(".RS\n")
				writeFlags(&b, c.Flags, p.ArgNames)
				b.WriteString(".RE\n")
			}
		}
	}
	for _, s := range p.Sections {
		fmt.Fprintf(&b, ".SH %s\n", escape(strings.ToUpper(s.Title)))
		b.WriteString(Text(s.Body))
	}
	if len(p.SeeAlso) > 0 {
		b.WriteString(".SH SEE ALSO\n")
		for i, ref := range p.SeeAlso {
			sep := ","
			if i == len(p.SeeAlso)-1 {
				sep = ""
			}
			name, sect, ok := strings.Cut(ref, "(")
			if ok {
				fmt.Fprintf(&b, ".BR %s (%s%s\n", escape(name), escape(sect), sep)
			} else {
				fmt.Fprintf(&b, "%s%s\n", escape(ref), sep)
			}
		}
	}
	return b.String()
}

// boolFlag is a flag value that takes no argument (urfave/cli's generic
// flags report TakesValue true whatever their value is).
type boolFlag interface{ IsBoolFlag() bool }

var argName = regexp.MustCompile("`([^`]+)`")

// writeFlags writes one .TP entry per visible flag: its names, its
// argument (the usage's `ARG`, else VALUE), usage and default.
func writeFlags(b *strings.Builder, flags []cli.Flag, argNames map[string]string) {
	for _, f := range flags {
		if v, ok := f.(cli.VisibleFlag); ok && !v.IsVisible() {
			continue
		}
		d, ok := f.(cli.DocGenerationFlag)
		if !ok {
			continue
		}
		takes := d.TakesValue()
		if g, ok := f.(*cli.GenericFlag); ok {
			if bf, ok := g.Value.(boolFlag); ok && bf.IsBoolFlag() {
				takes = false
			}
		}
		usage := d.GetUsage()
		arg := "VALUE"
		if a, ok := argNames[f.Names()[0]]; ok {
			arg = a
		}
		if m := argName.FindStringSubmatch(usage); m != nil {
			arg = m[1]
			usage = strings.Replace(usage, m[0], m[1], 1)
		}
		var names []string
		for _, n := range f.Names() {
			dash := "\\-\\-"
			if len(n) == 1 {
				dash = "\\-"
			}
			s := "\\fB" + dash + escape(n) + "\\fR"
			if takes {
				s += " \\fI" + escape(arg) + "\\fR"
			}
			names = append(names, s)
		}
		fmt.Fprintf(b, ".TP\n%s\n%s", strings.Join(names, ", "), escape(usage))
		def := d.GetDefaultText()
		if def == "" && takes {
			def = d.GetValue()
		}
		if takes && def != "" && def != `""` {
			fmt.Fprintf(b, " (default: %s)", escape(strings.Trim(def, `"`)))
		}
		if env := d.GetEnvVars(); len(env) > 0 {
			fmt.Fprintf(b, " (environment: %s)", escape(strings.Join(env, ", ")))
		}
		b.WriteString("\n")
	}
}

// Text renders needle's page markup: blocks separated by blank lines; a
// block whose lines all start with four spaces (or a tab) is shown as
// typed (examples, schemas); a block whose first line starts with "* " is
// a tagged list: each "* TERM" line, then its description lines; any
// other block is a paragraph. No inline markup: text is escaped for
// roff, so what is written is what is shown.
func Text(s string) string {
	var b strings.Builder
	for _, block := range splitBlocks(s) {
		switch {
		case isLiteral(block):
			b.WriteString(".PP\n.RS 4\n.nf\n")
			for _, l := range block {
				b.WriteString(literalLine(strings.TrimPrefix(strings.TrimPrefix(l, "\t"), "    ")) + "\n")
			}
			b.WriteString(".fi\n.RE\n")
		case strings.HasPrefix(block[0], "* "):
			for _, l := range block {
				if t, ok := strings.CutPrefix(l, "* "); ok {
					fmt.Fprintf(&b, ".TP\n.B %s\n", escape(t))
					continue
				}
				b.WriteString(escapeLine(strings.TrimSpace(l)) + "\n")
			}
		default:
			b.WriteString(".PP\n")
			for _, l := range block {
				b.WriteString(escapeLine(strings.TrimSpace(l)) + "\n")
			}
		}
	}
	return b.String()
}

func splitBlocks(s string) [][]string {
	var blocks [][]string
	var cur []string
	for _, l := range strings.Split(strings.Trim(s, "\n"), "\n") {
		if strings.TrimSpace(l) == "" {
			if len(cur) > 0 {
				blocks = append(blocks, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, strings.TrimRight(l, " \t"))
	}
	if len(cur) > 0 {
		blocks = append(blocks, cur)
	}
	return blocks
}

func isLiteral(block []string) bool {
	for _, l := range block {
		if !strings.HasPrefix(l, "    ") && !strings.HasPrefix(l, "\t") {
			return false
		}
	}
	return true
}

// escape makes text safe inside a roff line: backslashes and minus signs
// (so options copy and paste as ASCII hyphens).
func escape(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	return strings.ReplaceAll(s, "-", `\-`)
}

// escapeLine is escape for a whole output line: a leading '.' or '\”
// would start a request.
func escapeLine(s string) string {
	s = escape(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// literalLine is escapeLine keeping leading spaces (inside .nf).
func literalLine(s string) string {
	if s == "" {
		return `\&`
	}
	return escapeLine(s)
}
