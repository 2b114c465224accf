module github.com/needle-cluster/needle/libs/corotypes

go 1.26.8

require github.com/needle-cluster/needle/libs/qbipc v0.0.0

require golang.org/x/sys v0.50.0 // indirect

replace (
	github.com/needle-cluster/needle/libs/nstest => ../nstest
	github.com/needle-cluster/needle/libs/qbipc => ../qbipc
)
