module github.com/needle-cluster/needle/libs/svchost

go 1.26.8

require (
	github.com/hashicorp/go-hclog v1.6.3
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/libs/ipcproto v0.0.0
	github.com/needle-cluster/needle/libs/qbipc v0.0.0
)

replace (
	github.com/needle-cluster/needle/libs/coroconf => ../coroconf
	github.com/needle-cluster/needle/libs/corotypes => ../corotypes
	github.com/needle-cluster/needle/libs/ipcproto => ../ipcproto
	github.com/needle-cluster/needle/libs/logsys => ../logsys
	github.com/needle-cluster/needle/libs/nstest => ../nstest
	github.com/needle-cluster/needle/libs/qbipc => ../qbipc
)
