module github.com/needle-cluster/needle/services/pload

go 1.26.8

require (
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/services/cmapd v0.0.0
	github.com/urfave/cli/v2 v2.27.7
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/needle-cluster/needle/libs/qbipc v0.0.0 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/sys v0.50.0 // indirect
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
