package main

import (
	"fmt"
	"os"
	"strings"
)

// option is one command-line option as glibc's getopt_long sees it.
type option struct {
	short  byte   // 0: long only
	long   string // "": short only
	hasArg bool
}

// name is how the option is spelled in the canonical argument list
// handed to urfave/cli: one spelling per option, so that cli never sees
// two forms of the same flag.
func (o option) name() string {
	if o.short != 0 {
		return string(o.short)
	}
	return o.long
}

// occurrence is one option found on the command line, in order.
type occurrence struct {
	opt option
	arg string
}

// getopt parses args (without the program name) exactly as glibc 2.36's
// getopt_long with permutation does for corosync-cfgtool: short option
// clusters, attached or separate arguments, unique-prefix long options,
// "--name=value", "--" and non-option arguments anywhere (ignored). It
// returns the options up to the first error and getopt's message for
// that error (prog is argv[0], as getopt prints it), or "".
func getopt(prog string, args []string, opts []option) ([]occurrence, string) {
	var out []occurrence
	posix := os.Getenv("POSIXLY_CORRECT") != ""
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return out, ""
		case strings.HasPrefix(a, "--"):
			o, arg, msg := longOption(prog, a[2:], opts)
			if msg != "" {
				return out, msg
			}
			if o.hasArg && arg == nil {
				if i+1 >= len(args) {
					return out, fmt.Sprintf("%s: option '--%s' requires an argument\n", prog, o.long)
				}
				i++
				arg = &args[i]
			}
			oc := occurrence{opt: o}
			if arg != nil {
				oc.arg = *arg
			}
			out = append(out, oc)
		case len(a) > 1 && a[0] == '-':
			for j := 1; j < len(a); j++ {
				o, ok := shortOption(a[j], opts)
				if !ok {
					return out, fmt.Sprintf("%s: invalid option -- '%c'\n", prog, a[j])
				}
				if !o.hasArg {
					out = append(out, occurrence{opt: o})
					continue
				}
				if j+1 < len(a) {
					out = append(out, occurrence{opt: o, arg: a[j+1:]})
				} else if i+1 < len(args) {
					i++
					out = append(out, occurrence{opt: o, arg: args[i]})
				} else {
					return out, fmt.Sprintf("%s: option requires an argument -- '%c'\n", prog, a[j])
				}
				break
			}
		default:
			if posix {
				return out, "" // POSIX mode stops at the first operand
			}
		}
	}
	return out, ""
}

func shortOption(c byte, opts []option) (option, bool) {
	for _, o := range opts {
		if o.short != 0 && o.short == c {
			return o, true
		}
	}
	return option{}, false
}

// longOption resolves "name[=value]": an exact name, else a unique prefix.
func longOption(prog, text string, opts []option) (option, *string, string) {
	name, value, hasValue := strings.Cut(text, "=")
	var matches []option
	for _, o := range opts {
		if o.long == "" || !strings.HasPrefix(o.long, name) {
			continue
		}
		if o.long == name {
			matches = []option{o}
			break
		}
		matches = append(matches, o)
	}
	switch {
	case len(matches) == 0:
		return option{}, nil, fmt.Sprintf("%s: unrecognized option '--%s'\n", prog, text)
	case len(matches) > 1:
		var b strings.Builder
		fmt.Fprintf(&b, "%s: option '--%s' is ambiguous; possibilities:", prog, text)
		for _, o := range matches {
			fmt.Fprintf(&b, " '--%s'", o.long)
		}
		b.WriteString("\n")
		return option{}, nil, b.String()
	}
	o := matches[0]
	if !hasValue {
		return o, nil, ""
	}
	if !o.hasArg {
		return option{}, nil, fmt.Sprintf("%s: option '--%s' doesn't allow an argument\n", prog, o.long)
	}
	return o, &value, ""
}
