package main

// helpText is what -h prints, recorded from Debian's corosync-cmapctl 3.1.7.
const helpText = "" +
	"\n" +
	"usage:  corosync-cmapctl [-b] [-DdghsqTCt] [-p filename] [-m map] [params...]\n" +
	"\n" +
	"    -b show binary values\n" +
	"\n" +
	"    -m select map to use\n" +
	"          The  default  map is 'icmap' which contains configuration information and some runtime variables used by corosync. \n" +
	"          A 'stats' map is also available which displays network statistics - in great detail when knet is used as the transport.\n" +
	"Set key:\n" +
	"    corosync-cmapctl -s key_name type value\n" +
	"\n" +
	"    where type is one of ([i|u][8|16|32|64] | flt | dbl | str | bin)\n" +
	"    for bin, value is file name (or - for stdin)\n" +
	"\n" +
	"    map can be either 'icmap' (the default) which contains corosync\n" +
	"    configuration information, or 'stats' which contains statistics\n" +
	"    about the networking and IPC traffic in some detail.\n" +
	"\n" +
	"Clear stats:\n" +
	"    corosync-cmapctl -C [knet|ipc|totem|schedmiss|all]\n" +
	"    The 'stats' map is implied\n" +
	"\n" +
	"Load settings from a file:\n" +
	"    corosync-cmapctl -p filename\n" +
	"\n" +
	"    the format of the file is:\n" +
	"    [^[^]]<key_name>[ <type> <value>]\n" +
	"    Keys prefixed with single caret ('^') are deleted (see -d).\n" +
	"    Keys (actually prefixes) prefixed with double caret ('^^') are deleted by prefix (see -D).\n" +
	"    <type> and <value> are optional (not checked) in above cases.\n" +
	"    Other keys are set (see -s) so both <type> and <value> are required.\n" +
	"\n" +
	"Delete key:\n" +
	"    corosync-cmapctl -d key_name...\n" +
	"\n" +
	"Delete multiple keys with prefix:\n" +
	"    corosync-cmapctl -D key_prefix...\n" +
	"\n" +
	"Get key:\n" +
	"    corosync-cmapctl [-b] -g key_name...\n" +
	"\n" +
	"Quiet mode:\n" +
	"    corosync-cmapctl [-b] -q -g key_name...\n" +
	"\n" +
	"Display all keys:\n" +
	"    corosync-cmapctl [-b]\n" +
	"\n" +
	"Display keys with prefix key_name:\n" +
	"    corosync-cmapctl [-b] key_name...\n" +
	"\n" +
	"Track changes on keys with key_name:\n" +
	"    corosync-cmapctl [-b] -t key_name\n" +
	"\n" +
	"Track changes on keys with key prefix:\n" +
	"    corosync-cmapctl [-b] -T key_prefix\n" +
	"\n"
