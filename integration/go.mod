module github.com/needle-cluster/needle/integration

go 1.26.8

require (
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/libs/ipcproto v0.0.0
)

replace (
	github.com/needle-cluster/needle/libs/corotypes => ../libs/corotypes
	github.com/needle-cluster/needle/libs/ipcproto => ../libs/ipcproto
)

require golang.org/x/sys v0.50.0
