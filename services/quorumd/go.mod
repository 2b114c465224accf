module github.com/needle-cluster/needle/services/quorumd

go 1.26.8

require (
	github.com/hashicorp/go-hclog v1.6.3
	github.com/needle-cluster/needle/libs/coroconf v0.0.0
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/libs/ipcproto v0.0.0
	github.com/needle-cluster/needle/libs/logsys v0.0.0
	github.com/needle-cluster/needle/libs/nstest v0.0.0
	github.com/needle-cluster/needle/libs/qbipc v0.0.0
	github.com/needle-cluster/needle/libs/svchost v0.0.0
	github.com/needle-cluster/needle/services/cmapd v0.0.0
	github.com/prometheus/client_golang v1.25.0
	github.com/urfave/cli/v2 v2.27.7
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/coreos/go-systemd/v22 v22.7.0 // indirect
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/fatih/color v1.13.0 // indirect
	github.com/mattn/go-colorable v0.1.12 // indirect
	github.com/mattn/go-isatty v0.0.14 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/sys v0.50.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
)

replace (
	github.com/needle-cluster/needle/libs/coroconf => ../../libs/coroconf
	github.com/needle-cluster/needle/libs/corotypes => ../../libs/corotypes
	github.com/needle-cluster/needle/libs/ipcproto => ../../libs/ipcproto
	github.com/needle-cluster/needle/libs/logsys => ../../libs/logsys
	github.com/needle-cluster/needle/libs/nstest => ../../libs/nstest
	github.com/needle-cluster/needle/libs/qbipc => ../../libs/qbipc
	github.com/needle-cluster/needle/libs/svchost => ../../libs/svchost
	github.com/needle-cluster/needle/services/cmapd => ../cmapd
)
