package main

import (
	"testing"

	"github.com/needle-cluster/needle/libs/corotypes/manpage"
	"github.com/needle-cluster/needle/libs/nsscrypto"
)

// TestManPage checks docs/man/keygen.8 (make man regenerates it).
func TestManPage(t *testing.T) {
	manpage.Check(t, manpage.Page{
		Name: "keygen", Section: 8,
		Summary:  "write the cluster's authentication key (needle's corosync-keygen)",
		Synopsis: []string{"keygen [-k FILE] [-s BYTES] [-r FILE] [-l] [-h]"},
		Description: `keygen writes a new secret key for totem's packet crypto (crypto_cipher and crypto_hash in corosync.conf), read from /dev/urandom. It takes corosync-keygen 3.1.7's options and prints its messages; unlike corosync-keygen it replaces the key file atomically (a temporary file in the same directory, mode 0400, renamed over the old one), so a running totemd never reads half a key.

Copy the same file to every node before totemd starts there. needle encrypts only needle-to-needle rings: corosync 3.x has no crypto on udp and udpu, so a mixed ring runs with crypto_cipher and crypto_hash set to none.`,
		Flags: flags(),
		Sections: []manpage.Section{
			{Title: "Exit status", Body: `* 0
the key was written.
* 1
an invalid option, argument or size, or the random source could not be read.
* 2
the key file could not be created or renamed into place.
* 3
its permissions could not be set to 0400.
* 4
the key could not be written.
* 5
the file or its directory could not be closed or synced.`},
			{Title: "Files", Body: `* ` + nsscrypto.DefaultKeyFile + `
the default key file.`},
		},
		SeeAlso: []string{"corosync-keygen(8)", "needle.conf(5)", "totemd(8)"},
	})
}
