# feedloop — one Makefile for the whole workspace. `make help` lists targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN      := $(CURDIR)/.bin
SERVICES := intake scoring segmentation alerting
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a duration runs out on a busy machine
# (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 30000x
# Tools are pinned in scripts/tools/go.mod and built once into .bin/.
TOOLS := github.com/bufbuild/buf/cmd/buf \
	google.golang.org/protobuf/cmd/protoc-gen-go \
	google.golang.org/grpc/cmd/protoc-gen-go-grpc \
	github.com/nats-io/nats-server/v2 \
	github.com/fullstorydev/grpcurl/cmd/grpcurl \
	golang.org/x/perf/cmd/benchstat \
	helm.sh/helm/v3/cmd/helm

export PATH := $(BIN):$(PATH)

.PHONY: help
help: ## list targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

# helm's default Kubernetes version (for `helm template` and lint) is stamped
# in at build time, as helm's own release build does: that of the
# k8s.io/client-go it is built with (v0.37 → 1.37). Without it helm assumes
# 1.20, below the chart's kubeVersion.
HELM_KUBE := -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=37 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=37

$(BIN)/.tools: scripts/tools/go.mod scripts/tools/go.sum Makefile
	@mkdir -p $(BIN)
	cd scripts/tools && GOWORK=off go build -ldflags "$(HELM_KUBE)" -o $(BIN)/ $(TOOLS)
	@touch $@

.PHONY: tools
tools: $(BIN)/.tools ## build the pinned tools (buf, protoc plugins, nats-server, grpcurl, benchstat, helm) into .bin/

.PHONY: generate
generate: tools ## regenerate Go code from the protos
	cd proto && buf generate

.PHONY: check-generated
check-generated: generate ## fail when generated code is not up to date
	@if [ -n "$$(git status --porcelain -- proto/gen)" ]; then \
		git status --short -- proto/gen; \
		echo "generated code is out of date: run 'make generate' and commit proto/gen" >&2; exit 1; fi

.PHONY: lint
lint: tools ## buf lint, buf breaking (against main), gofmt, go vet, each service, the tools and the e2e tests building alone
	cd proto && buf lint
	@if git rev-parse -q --verify main >/dev/null && [ -n "$$(git ls-tree -d main proto 2>/dev/null)" ]; then \
		cd proto && buf breaking --against '../.git#branch=main,subdir=proto'; fi
	@files=$$(git ls-files '*.go' | grep -v '^proto/gen/' | xargs gofmt -l); \
		if [ -n "$$files" ]; then echo "gofmt needed:" $$files >&2; exit 1; fi
	go vet work
	for s in $(SERVICES); do (cd services/$$s && GOWORK=off go build -o /dev/null .); done
	cd cmd && GOWORK=off go build -o /dev/null ./...
	cd e2e && GOWORK=off go vet ./...
	cd deploy && GOWORK=off go vet ./...

.PHONY: test
test: ## all tests with -race (needs redis-server and the tools: scripts/deps.sh), the deployment checks, then each fuzz target for FUZZTIME
	go test -race -count=1 -timeout 20m work
	cd deploy && GOWORK=off go test -race -count=1 -timeout 10m ./...
	$(MAKE) --no-print-directory fuzz

.PHONY: e2e
e2e: ## the whole system as processes: flow, duplicates, invalid input, crashes, restarts and graceful stops (also part of make test)
	go test -race -count=1 -timeout 15m -v github.com/feedloop/feedloop/e2e

.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (default 30000x, about 10 s each; e.g. make fuzz FUZZTIME=5000000x)
	go test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) github.com/feedloop/feedloop/pkg/bus
	go test -run '^$$' -fuzz '^FuzzValidatorMatchesProtovalidate$$' -fuzztime $(FUZZTIME) github.com/feedloop/feedloop/services/intake/internal/admit
	go test -run '^$$' -fuzz '^FuzzDecodeRecord$$' -fuzztime $(FUZZTIME) github.com/feedloop/feedloop/services/segmentation/internal/segment

.PHONY: bench
bench: tools ## every service's benchmarks and the whole system's (bench-system), summarised by benchstat (the 1M-customer sweep: make bench-sweep)
	go test -run '^$$' -bench . -benchtime 20000x -count 6 github.com/feedloop/feedloop/services/intake/internal/app | tee .bin/bench-intake.txt
	go test -run '^$$' -bench . -count 6 github.com/feedloop/feedloop/services/intake/internal/api github.com/feedloop/feedloop/pkg/bus | tee .bin/bench-cpu.txt
	go test -run '^$$' -bench 'Pipeline|Relay' -benchtime 20000x -count 5 github.com/feedloop/feedloop/services/scoring/internal/app | tee .bin/bench-scoring.txt
	go test -run '^$$' -bench ExperienceReport -benchtime 300x -count 3 github.com/feedloop/feedloop/services/scoring/internal/app | tee .bin/bench-report.txt
	go test -run '^$$' -bench Domain -cpu 1 -count 6 github.com/feedloop/feedloop/services/scoring/internal/pipeline | tee .bin/bench-domain.txt
	go test -run '^$$' -bench 'Pipeline|Relay' -benchtime 20000x -count 5 github.com/feedloop/feedloop/services/segmentation/internal/app | tee .bin/bench-segmentation.txt
	go test -run '^$$' -bench GetCustomer -benchtime 20000x -count 3 github.com/feedloop/feedloop/services/segmentation/internal/app | tee .bin/bench-getcustomer.txt
	go test -run '^$$' -bench Update -cpu 1 -count 6 github.com/feedloop/feedloop/services/segmentation/internal/segment | tee .bin/bench-segment.txt
	benchstat .bin/bench-intake.txt
	benchstat .bin/bench-cpu.txt
	benchstat -col /name .bin/bench-scoring.txt
	benchstat .bin/bench-report.txt
	benchstat .bin/bench-domain.txt
	benchstat -col /name .bin/bench-segmentation.txt
	benchstat .bin/bench-getcustomer.txt
	benchstat .bin/bench-segment.txt
	go test -run '^$$' -bench Evaluate -cpu 1 -count 6 github.com/feedloop/feedloop/services/alerting/internal/rules | tee .bin/bench-rules.txt
	go test -run '^$$' -bench 'Pipeline|Relay' -benchtime 20000x -count 6 github.com/feedloop/feedloop/services/alerting/internal/app | tee .bin/bench-alerting.txt
	go test -run '^$$' -bench WatchLatency -benchtime 10000x -count 3 github.com/feedloop/feedloop/services/alerting/internal/app | tee .bin/bench-watch.txt
	benchstat .bin/bench-rules.txt
	benchstat -col .name .bin/bench-alerting.txt
	benchstat .bin/bench-watch.txt
	$(MAKE) --no-print-directory bench-system

.PHONY: bench-system
bench-system: tools ## the whole system as processes: sustained rate beside a bare relay, CPU and memory per process, latency at 2,000/s (docs/performance.md)
	go test -run '^$$' -bench 'System|Relay' -benchtime 20000x -count 6 -cpu 1 -timeout 30m github.com/feedloop/feedloop/e2e | tee .bin/bench-system.txt
	go test -run '^$$' -bench Latency -benchtime 3x -cpu 1 -timeout 30m github.com/feedloop/feedloop/e2e | tee .bin/bench-latency.txt
	benchstat -col .name .bin/bench-system.txt
	benchstat .bin/bench-latency.txt

.PHONY: bench-sweep
bench-sweep: ## the segmentation sweep over 100,000 and 1,000,000 customers (several minutes, ~1 GB of Redis)
	go test -run '^$$' -bench Sweep -benchtime 1x -timeout 60m github.com/feedloop/feedloop/services/segmentation/internal/app

.PHONY: build
build: ## build the service binaries and the client tools into .bin/
	@mkdir -p $(BIN)
	for s in $(SERVICES); do VERSION=$(VERSION) deploy/build.sh $$s $(BIN)/$$s; done  # as the images build them
	cd cmd && go build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o $(BIN)/ ./loadgen ./feedctl

.PHONY: images
images: COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
images: IMAGE_REPO ?= feedloop
images: ## build the service images with docker (deploy/Dockerfile) as feedloop/<service>:VERSION; IMAGE_REPO=... replaces feedloop
	@command -v docker >/dev/null || { echo "images: docker not found; install Docker with BuildKit (or use 'make build' for plain binaries)" >&2; exit 1; }
	for s in $(SERVICES); do \
		docker build -f deploy/Dockerfile --build-arg SERVICE=$$s --build-arg VERSION=$(VERSION) \
			--build-arg COMMIT=$(COMMIT) -t $(IMAGE_REPO)/$$s:$(VERSION) . ; done

.PHONY: run
run: build ## start NATS, Redis and the services locally (scripts/dev.sh)
	scripts/dev.sh

.PHONY: clean
clean: ## remove built binaries and local data (.bin, .data)
	rm -rf $(BIN) .data
