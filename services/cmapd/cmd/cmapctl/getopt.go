package main

import (
	"fmt"
	"io"
	"strings"
)

// opt is one parsed option: its letter and argument.
type opt struct {
	c   byte
	arg string
}

// getopt parses args (without the program name) like glibc's getopt with
// its default argument permutation: options may follow operands, "--"
// ends the options, "-" alone is an operand; "--json" is needle's one
// long option. Letters followed by ':' in
// optstring take an argument. It stops at the first error, after writing
// glibc's message to stderr, and reports ok false.
func getopt(prog string, args []string, optstring string, stderr io.Writer) (opts []opt, operands []string, ok bool) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			operands = append(operands, args[i+1:]...)
			break
		}
		if a == "--json" {
			// needle's extension, reported as 'J' (the C tool rejects
			// it: "invalid option -- '-'").
			opts = append(opts, opt{c: 'J'})
			continue
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		for j := 1; j < len(a); j++ {
			c := a[j]
			k := strings.IndexByte(optstring, c)
			if k < 0 || c == ':' {
				fmt.Fprintf(stderr, "%s: invalid option -- '%c'\n", prog, c)
				return opts, operands, false
			}
			if k+1 < len(optstring) && optstring[k+1] == ':' {
				switch {
				case j+1 < len(a):
					opts = append(opts, opt{c, a[j+1:]})
				case i+1 < len(args):
					i++
					opts = append(opts, opt{c, args[i]})
				default:
					fmt.Fprintf(stderr, "%s: option requires an argument -- '%c'\n", prog, c)
					return opts, operands, false
				}
				break
			}
			opts = append(opts, opt{c: c})
		}
	}
	return opts, operands, true
}
