package deploy

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v3"
)

// observabilityProfile is the compose profile of the tracing services.
const observabilityProfile = "observability"

// loadCompose loads docker-compose.yml as docker compose does, with the
// observability profile on, and without the caller's environment, so a
// variable set in the shell cannot hide a default of the file.
func loadCompose(t *testing.T, env ...string) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(repoRoot, "docker-compose.yml")},
		cli.WithWorkingDirectory(repoRoot), cli.WithName("feedloop"), cli.WithProfiles([]string{observabilityProfile}),
		cli.WithEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// serviceEnv returns a service's variable, "" when unset.
func serviceEnv(s types.ServiceConfig, name string) string {
	if v := s.Environment[name]; v != nil {
		return *v
	}
	return ""
}

func TestComposeServices(t *testing.T) {
	p := loadCompose(t)
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range repoServices(t) {
		t.Run(name, func(t *testing.T) {
			s, ok := p.Services[name]
			if !ok {
				t.Fatalf("docker-compose.yml has no service %s", name)
			}
			if b := s.Build; b == nil {
				t.Error("has no build section")
			} else if filepath.Clean(b.Context) != root || b.Dockerfile != "deploy/Dockerfile" || b.Args["SERVICE"] == nil || *b.Args["SERVICE"] != name {
				t.Errorf("build context %s, dockerfile %s, args %v; want %s, deploy/Dockerfile, SERVICE=%s",
					b.Context, b.Dockerfile, b.Args.ToMapping(), root, name)
			}
			if h := s.HealthCheck; h == nil || h.Disable || !slices.Equal(h.Test, []string{"CMD", "/service", "probe"}) {
				t.Errorf("healthcheck = %+v, want test [CMD /service probe]", h)
			}
			for _, dep := range []string{"nats", "redis"} {
				if d, ok := s.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
					t.Errorf("depends_on %s = %+v, want condition service_healthy", dep, d)
				}
			}
			if serviceEnv(s, "FEEDLOOP_API_KEYS") == "" {
				t.Error("FEEDLOOP_API_KEYS is not set")
			}
			for v, dep := range map[string]string{"FEEDLOOP_NATS_URL": "nats", "FEEDLOOP_REDIS_URL": "redis"} {
				for _, raw := range strings.Split(serviceEnv(s, v), ",") {
					if u, err := url.Parse(raw); err != nil || u.Hostname() != dep {
						t.Errorf("%s = %q, want the host %s (%v)", v, serviceEnv(s, v), dep, err)
					}
				}
			}

			// Published ports: the gRPC port, and the metrics port if any.
			ports := map[string]bool{}
			grpcPort := addrPort(t, serviceEnv(s, "FEEDLOOP_GRPC_ADDR"), "FEEDLOOP_GRPC_ADDR")
			ports[grpcPort] = true
			if m := serviceEnv(s, "FEEDLOOP_METRICS_ADDR"); m != "" {
				ports[addrPort(t, m, "FEEDLOOP_METRICS_ADDR")] = true
			}
			published := map[string]bool{}
			for _, pc := range s.Ports {
				target := strconv.Itoa(int(pc.Target))
				published[target] = true
				if !ports[target] {
					t.Errorf("publishes container port %s, which is neither FEEDLOOP_GRPC_ADDR's nor FEEDLOOP_METRICS_ADDR's", target)
				}
			}
			if !published[grpcPort] {
				t.Errorf("does not publish its gRPC port %s (FEEDLOOP_GRPC_ADDR)", grpcPort)
			}

			grace := 20 * time.Second // grpcx's default FEEDLOOP_SHUTDOWN_GRACE
			if g := serviceEnv(s, "FEEDLOOP_SHUTDOWN_GRACE"); g != "" {
				d, err := time.ParseDuration(g)
				if err != nil {
					t.Fatalf("FEEDLOOP_SHUTDOWN_GRACE: %v", err)
				}
				grace = d
			}
			if s.StopGracePeriod == nil || time.Duration(*s.StopGracePeriod) <= grace {
				t.Errorf("stop_grace_period = %v, want longer than FEEDLOOP_SHUTDOWN_GRACE (%s), or Docker kills in-flight calls", s.StopGracePeriod, grace)
			}
		})
	}
}

// addrPort returns the port of a listen address.
func addrPort(t *testing.T, addr, name string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s = %q: %v", name, addr, err)
	}
	return p
}

// TestComposeEnvNames fails on a FEEDLOOP_* or OTEL_* variable in
// docker-compose.yml that no service reads, such as a typo.
func TestComposeEnvNames(t *testing.T) {
	known := knownEnv(t)
	// The scan must find what this file's other checks rely on.
	for _, name := range []string{"FEEDLOOP_GRPC_ADDR", "FEEDLOOP_NATS_URL", "FEEDLOOP_API_KEYS", "FEEDLOOP_SHUTDOWN_GRACE",
		"OTEL_EXPORTER_OTLP_ENDPOINT", "FEEDLOOP_ALERTING_SLACK_URL"} {
		if !known[name] {
			t.Fatalf("the source scan missed %s", name)
		}
	}
	p := loadCompose(t)
	for _, s := range p.Services {
		for name := range s.Environment {
			if envName.MatchString(name) && !known[name] {
				t.Errorf("service %s sets %s, which no service reads", s.Name, name)
			}
		}
	}
}

func TestComposeNATSAndRedis(t *testing.T) {
	p := loadCompose(t)
	nats, ok := p.Services["nats"]
	if !ok {
		t.Fatal("no nats service")
	}
	if !slices.Contains(nats.Command, "-js") && !slices.Contains(nats.Command, "--jetstream") {
		t.Errorf("nats command %q does not turn JetStream on (-js)", nats.Command)
	}
	storeDir := "/tmp/nats/jetstream" // nats-server's default
	for i, arg := range nats.Command {
		if (arg == "-sd" || arg == "--store_dir") && i+1 < len(nats.Command) {
			storeDir = nats.Command[i+1]
		}
	}
	checkVolume(t, p, nats, storeDir)
	if nats.HealthCheck == nil || nats.HealthCheck.Disable {
		t.Error("nats has no healthcheck; the services wait for service_healthy")
	}

	redis, ok := p.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	if i := slices.Index(redis.Command, "--appendonly"); i < 0 || i+1 >= len(redis.Command) || redis.Command[i+1] != "yes" {
		t.Errorf("redis command %q does not turn the AOF on (--appendonly yes)", redis.Command)
	}
	checkVolume(t, p, redis, "/data") // the redis image's working directory, where the AOF goes
	if redis.HealthCheck == nil || redis.HealthCheck.Disable {
		t.Error("redis has no healthcheck; the services wait for service_healthy")
	}
}

// checkVolume fails unless a named volume of the project is mounted at
// target in s.
func checkVolume(t *testing.T, p *types.Project, s types.ServiceConfig, target string) {
	t.Helper()
	for _, v := range s.Volumes {
		if _, named := p.Volumes[v.Source]; v.Type == types.VolumeTypeVolume && named && v.Target == target {
			return
		}
	}
	t.Errorf("%s has no named volume at %s; volumes: %+v", s.Name, target, s.Volumes)
}

// collectorConfig is the part of an OpenTelemetry Collector configuration
// the test reads.
type collectorConfig struct {
	Receivers  map[string]map[string]any `yaml:"receivers"`
	Processors map[string]any            `yaml:"processors"`
	Exporters  map[string]struct {
		Endpoint string `yaml:"endpoint"`
	} `yaml:"exporters"`
	Service struct {
		Pipelines map[string]struct {
			Receivers, Processors, Exporters []string
		} `yaml:"pipelines"`
	} `yaml:"service"`
}

// observabilityEnv is what the README has `docker compose --profile
// observability up` run with: the services export traces to the collector.
var observabilityEnv = []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://otel-collector:4317"}

func TestComposeObservability(t *testing.T) {
	// Without the profile's variable tracing is off: no exporter retries a
	// collector that is not there.
	for name, s := range loadCompose(t).Services {
		if v := serviceEnv(s, "OTEL_EXPORTER_OTLP_ENDPOINT"); v != "" {
			t.Errorf("%s exports traces to %q by default; only the observability profile's run should", name, v)
		}
	}
	p := loadCompose(t, observabilityEnv...)
	var collector, jaeger *types.ServiceConfig
	for _, s := range p.Services {
		if !slices.Contains(s.Profiles, observabilityProfile) {
			continue
		}
		switch {
		case strings.HasPrefix(s.Image, "otel/opentelemetry-collector"):
			collector = &s
		case strings.HasPrefix(s.Image, "jaegertracing/"):
			jaeger = &s
		}
	}
	if collector == nil || jaeger == nil {
		t.Fatalf("the %s profile lacks the collector (%v) or jaeger (%v)", observabilityProfile, collector, jaeger)
	}
	if !slices.ContainsFunc(jaeger.Ports, func(pc types.ServicePortConfig) bool { return pc.Target == 16686 && pc.Published != "" }) {
		t.Error("jaeger does not publish its UI port 16686")
	}

	configFile, err := filepath.Abs("otel-collector.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(collector.Volumes, func(v types.ServiceVolumeConfig) bool { return v.Source == configFile }) {
		t.Errorf("the collector does not mount %s; volumes: %+v", configFile, collector.Volumes)
	}
	b, err := os.ReadFile(configFile)
	if err != nil {
		t.Fatal(err)
	}
	var cfg collectorConfig
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("otel-collector.yaml: %v", err)
	}
	traces, ok := cfg.Service.Pipelines["traces"]
	if !ok || len(traces.Receivers) == 0 || len(traces.Exporters) == 0 {
		t.Fatalf("otel-collector.yaml has no traces pipeline with receivers and exporters: %+v", cfg.Service.Pipelines)
	}
	for _, r := range traces.Receivers {
		if _, ok := cfg.Receivers[r]; !ok {
			t.Errorf("the traces pipeline uses receiver %s, which is not configured", r)
		}
	}
	for _, pr := range traces.Processors {
		if _, ok := cfg.Processors[pr]; !ok {
			t.Errorf("the traces pipeline uses processor %s, which is not configured", pr)
		}
	}
	if !slices.Contains(traces.Processors, "batch") {
		t.Error("the traces pipeline does not batch")
	}
	toJaeger := false
	for _, e := range traces.Exporters {
		exp, ok := cfg.Exporters[e]
		if !ok {
			t.Errorf("the traces pipeline uses exporter %s, which is not configured", e)
		}
		host, _, _ := net.SplitHostPort(exp.Endpoint)
		toJaeger = toJaeger || host == jaeger.Name
	}
	if !toJaeger {
		t.Errorf("no traces exporter sends to the %s service", jaeger.Name)
	}

	// The services export to the collector's OTLP/gRPC receiver.
	otlp, _ := cfg.Receivers["otlp"]["protocols"].(map[string]any)
	grpcRecv, _ := otlp["grpc"].(map[string]any)
	endpoint, _ := grpcRecv["endpoint"].(string)
	_, recvPort, err := net.SplitHostPort(endpoint)
	if err != nil {
		t.Fatalf("the otlp receiver's grpc endpoint %q: %v", endpoint, err)
	}
	for _, name := range repoServices(t) {
		u, err := url.Parse(serviceEnv(p.Services[name], "OTEL_EXPORTER_OTLP_ENDPOINT"))
		if err != nil || u.Hostname() != collector.Name || u.Port() != recvPort {
			t.Errorf("%s: OTEL_EXPORTER_OTLP_ENDPOINT = %v (%v), want the collector's receiver %s:%s", name, u, err, collector.Name, recvPort)
		}
	}
}
