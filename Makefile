# needle — build, test and tooling entry points. See README.md.
SHELL := /bin/bash
GO ?= go
MODULES := libs/coroconf libs/corotypes libs/ipcproto libs/logsys libs/nsscrypto libs/nstest libs/qbipc libs/svchost services/totemd services/cmapd services/quorumd services/cpgd services/pload integration
PKGS := $(addsuffix /...,$(addprefix ./,$(MODULES)))
BIN := bin
PREFIX ?= /usr/local
SYSTEMD_DIR ?= /etc/systemd/system
FUZZTIME ?= 10s
SEEDS ?= 2000
NODES ?= 3-64
SIM_FLAGS ?=

.PHONY: all build test lint fuzz install man sim soak soak-srp soak-whole bench clean cluster cluster-down pacemaker-reference vqsim

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/totemd ./services/totemd
	$(GO) build -o $(BIN)/keygen ./libs/nsscrypto/cmd/keygen
	$(GO) build -o $(BIN)/cfgtool ./services/totemd/cmd/cfgtool
	$(GO) build -o $(BIN)/needlectl ./services/totemd/cmd/needlectl
	$(GO) build -o $(BIN)/cmapd ./services/cmapd
	$(GO) build -o $(BIN)/cmapctl ./services/cmapd/cmd/cmapctl
	$(GO) build -o $(BIN)/quorumd ./services/quorumd
	$(GO) build -o $(BIN)/quorumtool ./services/quorumd/cmd/quorumtool
	$(GO) build -o $(BIN)/cpgd ./services/cpgd
	$(GO) build -o $(BIN)/cpgtool ./services/cpgd/cmd/cpgtool
	$(GO) build -o $(BIN)/cpgload ./services/cpgd/cmd/cpgload
	$(GO) build -o $(BIN)/pload ./services/pload/cmd/pload

test:
	$(GO) vet $(PKGS)
	$(MAKE) sim SEEDS=300 NODES=3-24 SIM_FLAGS="-first 900001"
	$(MAKE) sim SEEDS=200 NODES=3-32 SIM_FLAGS="-first 3000001 -faults cold"
	$(MAKE) sim SEEDS=200 NODES=3-16 SIM_FLAGS="-first 3100001 -faults stop"
	$(MAKE) sim SEEDS=200 NODES=3-8 SIM_FLAGS="-whole -first 4000001"
	$(GO) test -count=1 -timeout 18m $(PKGS)

lint:
	@out=$$(gofmt -l $(MODULES) integration 2>/dev/null); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

# Runs every fuzz target for FUZZTIME (go test allows one -fuzz target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(SYSTEMD_DIR) $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0755 $(BIN)/* $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 docs/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 deploy/systemd/*.service deploy/systemd/*.target $(DESTDIR)$(SYSTEMD_DIR)/

# Regenerates docs/man from the commands' definitions (the TestManPage and
# TestDocs tests compare the pages with them and fail when stale).
man:
	NEEDLE_MAN_UPDATE=1 $(GO) test -count=1 -run 'TestManPage|TestDocs' $(PKGS)

sim:
	$(GO) run ./services/totemd/cmd/sim -seeds $(SEEDS) -nodes $(NODES) $(SIM_FLAGS)

# Long simulator soak (issue 9): SOAK_SEEDS consecutive whole-node seeds
# from SOAK_FIRST (choose it before the run), 3-64 nodes, mixed faults, a
# progress line and a summary line. Whole nodes are node stacks with
# simulated service daemons: attach, pipelined multicasts with TryAgain,
# sync rounds, daemon crashes, restarts and handovers, cfg clients; a
# network split and heal in half the seeds, loss and duplication in a
# quarter, a totemd crash or clean stop and restart in an eighth. About 70
# seeds a minute on 2 cores otherwise idle (seeds of 40-64 nodes take
# minutes each): 100,000 take about a day.
# SOAK_FLAGS=-corosync-timers runs corosync's default timers instead of the
# simulator's shortened ones.
SOAK_SEEDS ?= 100000
SOAK_FIRST ?= 5000001
soak:
	$(GO) build -o $(BIN)/sim ./services/totemd/cmd/sim
	$(BIN)/sim -whole -seeds $(SOAK_SEEDS) -first $(SOAK_FIRST) -nodes 3-64 -parallel 2 $(SOAK_FLAGS)

# The same for the SRP cores alone over the simulated network (about 2,100
# seeds a minute: 100,000 in 47 minutes).
soak-srp:
	$(GO) build -o $(BIN)/sim ./services/totemd/cmd/sim
	$(BIN)/sim -seeds $(SOAK_SEEDS) -first $(SOAK_FIRST) -nodes 3-64 -parallel 2

# A shorter whole-node soak of 3-16 nodes (10,000 seeds).
SOAK_WHOLE_SEEDS ?= 10000
SOAK_WHOLE_FIRST ?= 6000001
soak-whole:
	$(GO) build -o $(BIN)/sim ./services/totemd/cmd/sim
	$(BIN)/sim -whole -seeds $(SOAK_WHOLE_SEEDS) -first $(SOAK_WHOLE_FIRST) -nodes 3-16 -parallel 2 $(SOAK_FLAGS)

# quorumd's core against corosync's own votequorum (corosync-vqsim):
# VQSIM_SCENARIOS generated scenarios (make test runs 300), every
# NODEINFO vqsim's nodes relay and every settled state compared.
VQSIM_SCENARIOS ?= 2000
vqsim:
	cd services/quorumd && VQSIM_SCENARIOS=$(VQSIM_SCENARIOS) $(GO) test -count=1 -timeout 90m -run TestAgainstVqsim -v ./internal/vqsimtest/

# The Pacemaker life-cycle scenarios on Debian's corosync, the reference
# for the needle run in make test (a few minutes).
pacemaker-reference:
	cd integration && NEEDLE_PCMK_REFERENCE=1 $(GO) test -count=1 -v -timeout 20m -run 'TestPacemakerLifeOnCorosync' .

# Every benchmark; the integration ones measure needle and corosync 3.1.7
# in the same run and print JSON lines, kept in $(BIN)/bench.out, from
# which benchtable prints the side-by-side table with ratios.
bench:
	@mkdir -p $(BIN)
	@{ $(GO) test -run '^$$' -bench . -benchmem $(PKGS); echo $$? > $(BIN)/bench.rc; } 2>&1 | tee $(BIN)/bench.out
	@$(GO) run ./integration/cmd/benchtable -machine "$$(nproc) cores, $$(uname -r)" < $(BIN)/bench.out
	@exit $$(cat $(BIN)/bench.rc)

# The main job: a local 3-node needle cluster in network namespaces.
cluster: build
	deploy/cluster.sh up $(or $(N),3)

cluster-down:
	deploy/cluster.sh down

clean:
	rm -rf $(BIN)
