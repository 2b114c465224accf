module github.com/needle-cluster/needle/libs/ipcproto

go 1.26.8

require (
	github.com/needle-cluster/needle/libs/corotypes v0.0.0
	github.com/needle-cluster/needle/libs/qbipc v0.0.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect

replace (
	github.com/needle-cluster/needle/libs/corotypes => ../corotypes
	github.com/needle-cluster/needle/libs/qbipc => ../qbipc
)
