// Command keygen writes a Corosync authkey. It takes corosync-keygen 3.1.7's
// options and prints its messages, but replaces the key file atomically.
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
