package main

import (
	"io"
	"os"

	"github.com/needle-cluster/needle/libs/svchost"
	"github.com/needle-cluster/needle/services/cmapd/internal/daemon"
)

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	return svchost.MainArgs(daemon.Options(0), args, stdout, stderr)
}
