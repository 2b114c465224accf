module github.com/needle-cluster/needle/libs/coroconf

go 1.26.8

require github.com/needle-cluster/needle/libs/corotypes v0.0.0

replace (
	github.com/needle-cluster/needle/libs/corotypes => ../corotypes
	github.com/needle-cluster/needle/libs/nstest => ../nstest
	github.com/needle-cluster/needle/libs/qbipc => ../qbipc
)
