package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// The chart is rendered offline for a cluster of this version (the helm
// that `make tools` builds would otherwise assume 1.20, below the chart's
// kubeVersion).
const (
	chartDir        = "helm/feedloop"
	productionFile  = "helm/feedloop/values-production.yaml"
	kubeVersion     = "1.33.0"
	releaseName     = "feedloop"
	releaseNS       = "feedloop"
	measuredPeakMiB = 70 // the services' peak RSS under load (e2e benchmarks)
)

// helmBin finds helm on the PATH (make puts .bin there) or in ../.bin.
func helmBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if p, err := filepath.Abs("../.bin/helm"); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("helm not found on PATH or at ../.bin/helm: run make tools")
	return ""
}

func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

func TestHelmLint(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", nil},
		{"production", []string{"-f", productionFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"lint", "--strict", "--kube-version", kubeVersion, chartDir}, tc.args...)
			if out, err := runHelm(t, args...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// manifests are the objects of one render, by kind and name, each decoded
// strictly into its API type.
type manifests struct {
	Deployments     map[string]*appsv1.Deployment
	Services        map[string]*corev1.Service
	ConfigMaps      map[string]*corev1.ConfigMap
	ServiceAccounts map[string]*corev1.ServiceAccount
	PDBs            map[string]*policyv1.PodDisruptionBudget
	HPAs            map[string]*autoscalingv2.HorizontalPodAutoscaler
	NetworkPolicies map[string]*networkingv1.NetworkPolicy
	ScaledObjects   map[string]*kedav1alpha1.ScaledObject
	ServiceMonitors map[string]*monitoringv1.ServiceMonitor
}

func helmTemplate(t *testing.T, args ...string) (*manifests, error) {
	t.Helper()
	args = append([]string{"template", releaseName, chartDir, "--namespace", releaseNS, "--kube-version", kubeVersion}, args...)
	out, err := runHelm(t, args...)
	if err != nil {
		return nil, err
	}
	return decodeManifests(t, out), nil
}

func helmRender(t *testing.T, args ...string) *manifests {
	t.Helper()
	m, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var yamlDocSeparator = regexp.MustCompile(`(?m)^---[ \t]*$`)

// decodeManifests splits helm's output into documents and decodes each into the type
// of its apiVersion and kind, refusing unknown fields (a misspelt or
// misplaced key would otherwise be dropped silently by the API server) and
// any kind the chart is not meant to render.
func decodeManifests(t *testing.T, out string) *manifests {
	t.Helper()
	m := &manifests{
		Deployments: map[string]*appsv1.Deployment{}, Services: map[string]*corev1.Service{},
		ConfigMaps: map[string]*corev1.ConfigMap{}, ServiceAccounts: map[string]*corev1.ServiceAccount{},
		PDBs: map[string]*policyv1.PodDisruptionBudget{}, HPAs: map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		NetworkPolicies: map[string]*networkingv1.NetworkPolicy{}, ScaledObjects: map[string]*kedav1alpha1.ScaledObject{},
		ServiceMonitors: map[string]*monitoringv1.ServiceMonitor{},
	}
	for _, doc := range yamlDocSeparator.Split(out, -1) {
		var probe map[string]any
		if err := yaml.Unmarshal([]byte(doc), &probe); err != nil {
			t.Fatalf("not YAML: %v\n%s", err, doc)
		}
		if len(probe) == 0 {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("type of document: %v\n%s", err, doc)
		}
		switch gvk := tm.APIVersion + ", Kind=" + tm.Kind; gvk {
		case "apps/v1, Kind=Deployment":
			addObject(t, m.Deployments, doc, &appsv1.Deployment{})
		case "v1, Kind=Service":
			addObject(t, m.Services, doc, &corev1.Service{})
		case "v1, Kind=ConfigMap":
			addObject(t, m.ConfigMaps, doc, &corev1.ConfigMap{})
		case "v1, Kind=ServiceAccount":
			addObject(t, m.ServiceAccounts, doc, &corev1.ServiceAccount{})
		case "policy/v1, Kind=PodDisruptionBudget":
			addObject(t, m.PDBs, doc, &policyv1.PodDisruptionBudget{})
		case "autoscaling/v2, Kind=HorizontalPodAutoscaler":
			addObject(t, m.HPAs, doc, &autoscalingv2.HorizontalPodAutoscaler{})
		case "networking.k8s.io/v1, Kind=NetworkPolicy":
			addObject(t, m.NetworkPolicies, doc, &networkingv1.NetworkPolicy{})
		case "keda.sh/v1alpha1, Kind=ScaledObject":
			addObject(t, m.ScaledObjects, doc, &kedav1alpha1.ScaledObject{})
		case "monitoring.coreos.com/v1, Kind=ServiceMonitor":
			addObject(t, m.ServiceMonitors, doc, &monitoringv1.ServiceMonitor{})
		case "v1, Kind=Secret":
			t.Errorf("the chart renders a Secret (%v): it must only reference Secrets that exist", probe["metadata"])
		default:
			t.Errorf("the chart renders %s, which no check knows", gvk)
		}
	}
	return m
}

// namedObject is what every decoded API object has.
type namedObject interface{ GetName() string }

func addObject[T namedObject](t *testing.T, into map[string]T, doc string, obj T) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Fatalf("%T: %v\n%s", obj, err, doc)
	}
	name := obj.GetName()
	if _, dup := into[name]; dup {
		t.Errorf("%T %s rendered twice", obj, name)
	}
	if ns, ok := any(obj).(interface{ GetNamespace() string }); ok && ns.GetNamespace() != releaseNS {
		t.Errorf("%T %s is in namespace %q, not the release's %q", obj, name, ns.GetNamespace(), releaseNS)
	}
	into[name] = obj
}

// codeFacts is what the chart must agree with in the services' code.
type codeFacts struct {
	consumers map[string]bool // "STREAM/durable" of every durable consumer
	envNames  map[string]bool // every FEEDLOOP_* and OTEL_* variable the services read (knownEnv)
}

var chartCodeFacts = sync.OnceValues(func() (codeFacts, error) {
	f := codeFacts{consumers: map[string]bool{}}
	var err error
	if f.envNames, err = scanKnownEnv(); err != nil {
		return f, err
	}
	// Stream variables (bus.FeedbackStream) to stream names (FEEDBACK).
	bus, err := os.ReadFile("../pkg/bus/bus.go")
	if err != nil {
		return f, err
	}
	streams := map[string]string{}
	for _, s := range regexp.MustCompile(`(\w+)\s*=\s*Stream\{Name:\s*"([A-Z]+)"`).FindAllStringSubmatch(string(bus), -1) {
		streams[s[1]] = s[2]
	}
	spec := regexp.MustCompile(`ConsumerSpec\{\s*Stream:\s*bus\.(\w+),\s*Durable:\s*"([^"]+)"`)
	for _, root := range []string{"../pkg", "../services"} {
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") || filepath.Ext(p) != ".go" {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, s := range spec.FindAllStringSubmatch(string(b), -1) {
				if name, ok := streams[s[1]]; ok {
					f.consumers[name+"/"+s[2]] = true
				}
			}
			return nil
		})
		if err != nil {
			return f, err
		}
	}
	if len(streams) < 4 || len(f.consumers) < 4 {
		return f, fmt.Errorf("found %d streams and %d consumers in the code: has the ConsumerSpec layout changed?", len(streams), len(f.consumers))
	}
	return f, nil
})

func codeFactsFor(t *testing.T) codeFacts {
	t.Helper()
	f, err := chartCodeFacts()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false // an empty selector here would select every pod
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// selected returns the Deployments whose pods selector selects.
func (m *manifests) selected(selector map[string]string) []*appsv1.Deployment {
	var out []*appsv1.Deployment
	for _, name := range slices.Sorted(maps.Keys(m.Deployments)) {
		if d := m.Deployments[name]; selects(selector, d.Spec.Template.Labels) {
			out = append(out, d)
		}
	}
	return out
}

// onlyOne is the single Deployment selector selects, or an error.
func (m *manifests) onlyOne(t *testing.T, what string, selector map[string]string) *appsv1.Deployment {
	t.Helper()
	ds := m.selected(selector)
	if len(ds) != 1 {
		t.Errorf("%s selects %d Deployments' pods, want 1 (selector %v)", what, len(ds), selector)
		return nil
	}
	return ds[0]
}

func containerEnv(c corev1.Container) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

// containerPort resolves a port by name or number, as Services, probes and
// NetworkPolicies refer to them.
func containerPort(c corev1.Container, p intstr.IntOrString) (corev1.ContainerPort, bool) {
	for _, cp := range c.Ports {
		if (p.Type == intstr.String && cp.Name == p.StrVal) || (p.Type == intstr.Int && cp.ContainerPort == p.IntVal) {
			return cp, true
		}
	}
	return corev1.ContainerPort{}, false
}

// Variables that carry secrets: from a Secret, never a literal value.
var secretEnv = []string{
	"FEEDLOOP_API_KEYS", "FEEDLOOP_REDIS_PASSWORD", "FEEDLOOP_ALERTING_SLACK_URL",
	"FEEDLOOP_ALERTING_PAGERDUTY_ROUTING_KEY", "FEEDLOOP_ALERTING_WEBHOOK_URL", "FEEDLOOP_ALERTING_WEBHOOK_SECRET",
}

// Variables that name a file the pod must have.
var fileEnv = []string{
	"FEEDLOOP_API_KEYS_FILE", "FEEDLOOP_NATS_CREDS", "FEEDLOOP_SEGMENTATION_TIERS", "FEEDLOOP_SEGMENTATION_CONFIG",
	"FEEDLOOP_ALERTING_RULES", "FEEDLOOP_ALERTING_ROUTES",
}

// Variables the chart may set that are not feedloop's.
var foreignEnv = map[string]bool{
	"OTEL_EXPORTER_OTLP_ENDPOINT": true, "OTEL_RESOURCE_ATTRIBUTES": true, "POD_NAME": true, "POD_NAMESPACE": true,
	"GOMEMLIMIT": true, "SSL_CERT_DIR": true,
}

// checkInvariants checks what must hold for any values.
func checkInvariants(t *testing.T, m *manifests) {
	t.Helper()
	f := codeFactsFor(t)
	scaledBy := map[string]string{} // Deployment -> the autoscaler's kind
	for _, h := range m.HPAs {
		ref := h.Spec.ScaleTargetRef
		if ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || m.Deployments[ref.Name] == nil {
			t.Errorf("HPA %s scales %s %s %q, which is not a rendered Deployment", h.Name, ref.APIVersion, ref.Kind, ref.Name)
		}
		if h.Spec.MinReplicas == nil || *h.Spec.MinReplicas < 1 || h.Spec.MaxReplicas < *h.Spec.MinReplicas {
			t.Errorf("HPA %s: replicas %v..%d", h.Name, h.Spec.MinReplicas, h.Spec.MaxReplicas)
		}
		if len(h.Spec.Metrics) == 0 || h.Spec.Metrics[0].Resource == nil || h.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
			t.Errorf("HPA %s does not scale on CPU: %+v", h.Name, h.Spec.Metrics)
		}
		scaledBy[ref.Name] = "HPA"
	}
	for _, so := range m.ScaledObjects {
		ref := so.Spec.ScaleTargetRef
		if ref == nil || m.Deployments[ref.Name] == nil || (ref.Kind != "" && ref.Kind != "Deployment") {
			t.Errorf("ScaledObject %s scales %+v, which is not a rendered Deployment", so.Name, ref)
			continue
		}
		if other, ok := scaledBy[ref.Name]; ok {
			t.Errorf("Deployment %s is scaled by both an %s and ScaledObject %s", ref.Name, other, so.Name)
		}
		scaledBy[ref.Name] = "ScaledObject"
		if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
			t.Errorf("ScaledObject %s may scale to zero: nothing would answer gRPC or run the periodic work", so.Name)
		}
		if so.Spec.MaxReplicaCount == nil || *so.Spec.MaxReplicaCount < *so.Spec.MinReplicaCount {
			t.Errorf("ScaledObject %s: max replicas %v below min", so.Name, so.Spec.MaxReplicaCount)
		}
		if len(so.Spec.Triggers) == 0 {
			t.Errorf("ScaledObject %s has no triggers", so.Name)
		}
		for _, tr := range so.Spec.Triggers {
			switch tr.Type {
			case "nats-jetstream":
				md := tr.Metadata
				if pair := md["stream"] + "/" + md["consumer"]; !f.consumers[pair] {
					t.Errorf("ScaledObject %s watches consumer %s, which the code does not create (it has %v)", so.Name, pair, slices.Sorted(maps.Keys(f.consumers)))
				}
				if n, err := strconv.Atoi(md["lagThreshold"]); err != nil || n < 1 {
					t.Errorf("ScaledObject %s: lagThreshold %q is not a positive integer", so.Name, md["lagThreshold"])
				}
				if ep := md["natsServerMonitoringEndpoint"]; ep == "" || strings.Contains(ep, "://") {
					t.Errorf("ScaledObject %s: natsServerMonitoringEndpoint %q must be host:port", so.Name, ep)
				}
				if md["account"] == "" {
					t.Errorf("ScaledObject %s: no account", so.Name)
				}
			case "cpu":
				if tr.MetricType != autoscalingv2.UtilizationMetricType || tr.Metadata["value"] == "" {
					t.Errorf("ScaledObject %s: cpu trigger %+v", so.Name, tr)
				}
			default:
				t.Errorf("ScaledObject %s: unexpected trigger type %q", so.Name, tr.Type)
			}
		}
	}

	mounted := map[string]bool{} // ConfigMaps some pod mounts
	for _, d := range m.Deployments {
		checkDeployment(t, m, f, d, scaledBy[d.Name] != "", mounted)
	}
	for name := range m.ConfigMaps {
		if !mounted[name] {
			t.Errorf("ConfigMap %s is mounted by no Deployment", name)
		}
	}

	for _, s := range m.Services {
		if s.Spec.Type != corev1.ServiceTypeClusterIP {
			t.Errorf("Service %s is %s, want ClusterIP", s.Name, s.Spec.Type)
		}
		d := m.onlyOne(t, "Service "+s.Name, s.Spec.Selector)
		if d == nil {
			continue
		}
		c := d.Spec.Template.Spec.Containers[0]
		names := map[string]bool{}
		for _, p := range s.Spec.Ports {
			names[p.Name] = true
			if _, ok := containerPort(c, p.TargetPort); !ok {
				t.Errorf("Service %s port %s targets %s, which container %s of %s does not expose", s.Name, p.Name, p.TargetPort.String(), c.Name, d.Name)
			}
			if p.Name == "grpc" && (p.AppProtocol == nil || *p.AppProtocol != "grpc" || p.Port != 8080) {
				t.Errorf("Service %s: the grpc port must be 8080 with appProtocol grpc: %+v", s.Name, p)
			}
		}
		if !names["grpc"] || !names["metrics"] {
			t.Errorf("Service %s has ports %v, want grpc and metrics", s.Name, slices.Sorted(maps.Keys(names)))
		}
	}

	for _, p := range m.PDBs {
		if p.Spec.Selector == nil || len(p.Spec.Selector.MatchExpressions) > 0 {
			t.Errorf("PDB %s: selector %v", p.Name, p.Spec.Selector)
			continue
		}
		d := m.onlyOne(t, "PDB "+p.Name, p.Spec.Selector.MatchLabels)
		if (p.Spec.MinAvailable == nil) == (p.Spec.MaxUnavailable == nil) {
			t.Errorf("PDB %s must set exactly one of minAvailable and maxUnavailable", p.Name)
		}
		if d != nil && p.Spec.MinAvailable != nil && p.Spec.MinAvailable.Type == intstr.Int && d.Spec.Replicas != nil &&
			p.Spec.MinAvailable.IntVal >= *d.Spec.Replicas {
			t.Errorf("PDB %s: minAvailable %d of %d replicas would block every drain", p.Name, p.Spec.MinAvailable.IntVal, *d.Spec.Replicas)
		}
	}

	for _, np := range m.NetworkPolicies {
		d := m.onlyOne(t, "NetworkPolicy "+np.Name, np.Spec.PodSelector.MatchLabels)
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("NetworkPolicy %s: policy types %v, want Ingress and Egress", np.Name, np.Spec.PolicyTypes)
		}
		if d != nil {
			c := d.Spec.Template.Spec.Containers[0]
			for _, rule := range np.Spec.Ingress {
				for _, p := range rule.Ports {
					if p.Port == nil {
						t.Errorf("NetworkPolicy %s admits every port", np.Name)
					} else if _, ok := containerPort(c, *p.Port); !ok {
						t.Errorf("NetworkPolicy %s admits port %s, which %s does not expose", np.Name, p.Port.String(), d.Name)
					}
				}
			}
		}
		dns := false
		for _, rule := range np.Spec.Egress {
			if len(rule.Ports) == 0 {
				t.Errorf("NetworkPolicy %s lets egress out on every port: %+v", np.Name, rule)
			}
			for _, p := range rule.Ports {
				if p.Port != nil && p.Port.IntVal == 53 && p.Protocol != nil && *p.Protocol == corev1.ProtocolUDP {
					dns = true
				}
			}
		}
		if !dns {
			t.Errorf("NetworkPolicy %s allows no DNS", np.Name)
		}
	}

	for _, sm := range m.ServiceMonitors {
		var hit int
		for _, s := range m.Services {
			if !selects(sm.Spec.Selector.MatchLabels, s.Labels) {
				continue
			}
			hit++
			for _, ep := range sm.Spec.Endpoints {
				if !slices.ContainsFunc(s.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == ep.Port }) {
					t.Errorf("ServiceMonitor %s scrapes port %q, which Service %s lacks", sm.Name, ep.Port, s.Name)
				}
			}
		}
		if hit != len(m.Deployments) {
			t.Errorf("ServiceMonitor %s selects %d Services, want one per service (%d)", sm.Name, hit, len(m.Deployments))
		}
	}
}

// checkDeployment checks one Deployment and its pod.
func checkDeployment(t *testing.T, m *manifests, f codeFacts, d *appsv1.Deployment, scaled bool, mounted map[string]bool) {
	t.Helper()
	sel := d.Spec.Selector
	want := []string{"app.kubernetes.io/component", "app.kubernetes.io/instance", "app.kubernetes.io/name"}
	if sel == nil || len(sel.MatchExpressions) > 0 || !slices.Equal(slices.Sorted(maps.Keys(sel.MatchLabels)), want) {
		t.Errorf("Deployment %s: selector %v, want exactly the labels %v (a selector is immutable)", d.Name, sel, want)
	} else if !selects(sel.MatchLabels, d.Spec.Template.Labels) {
		t.Errorf("Deployment %s: selector %v does not select its pods (%v)", d.Name, sel.MatchLabels, d.Spec.Template.Labels)
	}
	for _, l := range []string{"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component", "app.kubernetes.io/version", "app.kubernetes.io/managed-by", "helm.sh/chart"} {
		if d.Labels[l] == "" {
			t.Errorf("Deployment %s lacks label %s", d.Name, l)
		}
	}
	if scaled && d.Spec.Replicas != nil {
		t.Errorf("Deployment %s sets replicas under an autoscaler: every upgrade would reset the autoscaler's count", d.Name)
	}
	if !scaled && d.Spec.Replicas == nil {
		t.Errorf("Deployment %s sets no replicas and no autoscaler scales it", d.Name)
	}

	pod := d.Spec.Template.Spec
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("Deployment %s mounts a service account token", d.Name)
	}
	if len(m.ServiceAccounts) > 0 && m.ServiceAccounts[pod.ServiceAccountName] == nil {
		t.Errorf("Deployment %s runs as ServiceAccount %q, which is not rendered", d.Name, pod.ServiceAccountName)
	}
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("Deployment %s: pod security context %+v", d.Name, psc)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.Name, len(pod.Containers))
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}

	c := pod.Containers[0]
	if i := strings.LastIndexAny(c.Image, ":@"); i < 0 || strings.HasSuffix(c.Image, ":latest") || strings.HasSuffix(c.Image, ":") {
		t.Errorf("Deployment %s: image %q has no pinned tag or digest", d.Name, c.Image)
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
		switch {
		case p == nil:
			t.Errorf("Deployment %s: no %s probe", d.Name, name)
		case p.GRPC == nil:
			t.Errorf("Deployment %s: the %s probe is not a gRPC health check", d.Name, name)
		default:
			if cp, ok := containerPort(c, intstr.FromInt32(p.GRPC.Port)); !ok || cp.Name != "grpc" {
				t.Errorf("Deployment %s: the %s probe checks port %d, not the grpc port", d.Name, name, p.GRPC.Port)
			}
		}
	}

	res := c.Resources
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := res.Requests[r], res.Limits[r]
		if req.IsZero() || lim.IsZero() {
			t.Errorf("Deployment %s: %s request %s, limit %s: both are required", d.Name, r, req.String(), lim.String())
		} else if req.Cmp(lim) > 0 {
			t.Errorf("Deployment %s: %s request %s above its limit %s", d.Name, r, req.String(), lim.String())
		}
	}
	if lim := res.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse(fmt.Sprintf("%dMi", 2*measuredPeakMiB))) < 0 {
		t.Errorf("Deployment %s: memory limit %s is not comfortably above the measured %d MiB peak", d.Name, lim.String(), measuredPeakMiB)
	}

	sc := c.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 ||
		sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || (sc.Privileged != nil && *sc.Privileged) {
		t.Errorf("Deployment %s: container security context %+v", d.Name, sc)
	}

	env := containerEnv(c)
	for name, port := range map[string]string{"FEEDLOOP_GRPC_ADDR": "grpc", "FEEDLOOP_METRICS_ADDR": "metrics"} {
		n, err := strconv.Atoi(strings.TrimPrefix(env[name].Value, ":"))
		if cp, ok := containerPort(c, intstr.FromInt(n)); err != nil || !ok || cp.Name != port {
			t.Errorf("Deployment %s: %s=%q is not the %s container port", d.Name, name, env[name].Value, port)
		}
	}
	for name := range env {
		if strings.HasPrefix(name, "FEEDLOOP_") && !f.envNames[name] {
			t.Errorf("Deployment %s sets %s, which no service reads", d.Name, name)
		}
		if !strings.HasPrefix(name, "FEEDLOOP_") && !foreignEnv[name] {
			t.Errorf("Deployment %s sets unexpected variable %s", d.Name, name)
		}
	}
	for _, name := range secretEnv {
		e, ok := env[name]
		if !ok {
			continue
		}
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil || e.ValueFrom.SecretKeyRef.Name == "" {
			t.Errorf("Deployment %s: %s must come from a Secret: %+v", d.Name, name, e)
		}
		if strings.HasPrefix(name, "FEEDLOOP_ALERTING_") && (e.ValueFrom.SecretKeyRef.Optional == nil || !*e.ValueFrom.SecretKeyRef.Optional) {
			t.Errorf("Deployment %s: receiver %s must be optional: a missing key turns the receiver off", d.Name, name)
		}
	}
	if _, ok := env["FEEDLOOP_API_KEYS_FILE"]; !ok {
		t.Errorf("Deployment %s: no FEEDLOOP_API_KEYS_FILE", d.Name)
	}
	for _, name := range fileEnv {
		if e, ok := env[name]; ok {
			checkFile(t, m, d, c, volumes, name, e.Value, mounted)
		}
	}
	if e, ok := env["SSL_CERT_DIR"]; ok {
		checkMountedDir(t, d, c, volumes, "SSL_CERT_DIR", e.Value)
	}
	if e, ok := env["GOMEMLIMIT"]; ok {
		// Nine tenths of the limit: the heap's share, the rest for stacks
		// and the runtime.
		limit := c.Resources.Limits.Memory().Value()
		if want := fmt.Sprintf("%dMiB", limit*9/10>>20); e.Value != want {
			t.Errorf("Deployment %s: GOMEMLIMIT %q with a memory limit of %d bytes, want %s", d.Name, e.Value, limit, want)
		}
	}

	pre := c.Lifecycle
	if pre == nil || pre.PreStop == nil || pre.PreStop.Sleep == nil || pre.PreStop.Sleep.Seconds < 1 {
		t.Errorf("Deployment %s: no preStop sleep (the image has no shell: it must be the native sleep action)", d.Name)
	} else {
		grace, err := time.ParseDuration(env["FEEDLOOP_SHUTDOWN_GRACE"].Value)
		if err != nil {
			t.Errorf("Deployment %s: FEEDLOOP_SHUTDOWN_GRACE %q: %v", d.Name, env["FEEDLOOP_SHUTDOWN_GRACE"].Value, err)
		}
		need := time.Duration(pre.PreStop.Sleep.Seconds)*time.Second + grace
		if pod.TerminationGracePeriodSeconds == nil || time.Duration(*pod.TerminationGracePeriodSeconds)*time.Second <= need {
			t.Errorf("Deployment %s: terminationGracePeriodSeconds %v does not exceed preStop + FEEDLOOP_SHUTDOWN_GRACE (%s)", d.Name, pod.TerminationGracePeriodSeconds, need)
		}
	}
}

// checkFile checks that the file a variable names is in the pod: its
// directory is a mount of a ConfigMap or Secret volume that holds a key of
// that name.
func checkFile(t *testing.T, m *manifests, d *appsv1.Deployment, c corev1.Container, volumes map[string]corev1.Volume, name, file string, mounted map[string]bool) {
	t.Helper()
	v, ok := mountedVolume(c, volumes, path.Dir(file))
	if !ok {
		t.Errorf("Deployment %s: %s=%s, but nothing is mounted at %s", d.Name, name, file, path.Dir(file))
		return
	}
	base := path.Base(file)
	switch {
	case v.ConfigMap != nil:
		mounted[v.ConfigMap.Name] = true
		cm := m.ConfigMaps[v.ConfigMap.Name]
		if cm == nil {
			t.Errorf("Deployment %s mounts ConfigMap %s, which is not rendered", d.Name, v.ConfigMap.Name)
			return
		}
		key := base
		if len(v.ConfigMap.Items) > 0 {
			i := slices.IndexFunc(v.ConfigMap.Items, func(k corev1.KeyToPath) bool { return k.Path == base })
			if i < 0 {
				t.Errorf("Deployment %s: %s=%s, but ConfigMap volume %s has no item at %s", d.Name, name, file, v.Name, base)
				return
			}
			key = v.ConfigMap.Items[i].Key
		}
		if strings.TrimSpace(cm.Data[key]) == "" {
			t.Errorf("Deployment %s: %s=%s, but ConfigMap %s has no key %s (keys %v)", d.Name, name, file, cm.Name, key, slices.Sorted(maps.Keys(cm.Data)))
		}
		if d.Spec.Template.Annotations["checksum/config"] == "" {
			t.Errorf("Deployment %s mounts ConfigMap %s without a checksum/config annotation: a changed file would not roll the pods", d.Name, cm.Name)
		}
	case v.Secret != nil:
		if v.Secret.SecretName == "" {
			t.Errorf("Deployment %s: Secret volume %s names no Secret", d.Name, v.Name)
		}
		if len(v.Secret.Items) > 0 && !slices.ContainsFunc(v.Secret.Items, func(k corev1.KeyToPath) bool { return k.Path == base }) {
			t.Errorf("Deployment %s: %s=%s, but Secret volume %s has no item at %s", d.Name, name, file, v.Name, base)
		}
	default:
		t.Errorf("Deployment %s: %s=%s is on volume %s, neither a ConfigMap nor a Secret", d.Name, name, file, v.Name)
	}
}

func checkMountedDir(t *testing.T, d *appsv1.Deployment, c corev1.Container, volumes map[string]corev1.Volume, name, dir string) {
	t.Helper()
	if _, ok := mountedVolume(c, volumes, dir); !ok {
		t.Errorf("Deployment %s: %s=%s, but nothing is mounted there", d.Name, name, dir)
	}
}

func mountedVolume(c corev1.Container, volumes map[string]corev1.Volume, dir string) (corev1.Volume, bool) {
	for _, vm := range c.VolumeMounts {
		if path.Clean(vm.MountPath) == path.Clean(dir) && vm.SubPath == "" {
			v, ok := volumes[vm.Name]
			return v, ok
		}
	}
	return corev1.Volume{}, false
}

func (m *manifests) deployment(t *testing.T, service string) *appsv1.Deployment {
	t.Helper()
	d := m.Deployments[releaseName+"-"+service]
	if d == nil {
		t.Fatalf("no Deployment for %s (have %v)", service, slices.Sorted(maps.Keys(m.Deployments)))
	}
	return d
}

func (m *manifests) env(t *testing.T, service string) map[string]corev1.EnvVar {
	t.Helper()
	return containerEnv(m.deployment(t, service).Spec.Template.Spec.Containers[0])
}

// triggerNames lists a ScaledObject's triggers as "type" or "type:STREAM/consumer".
func triggerNames(so *kedav1alpha1.ScaledObject) []string {
	var out []string
	for _, tr := range so.Spec.Triggers {
		s := tr.Type
		if tr.Type == "nats-jetstream" {
			s += ":" + tr.Metadata["stream"] + "/" + tr.Metadata["consumer"]
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func wantCount(t *testing.T, what string, got, want int) {
	t.Helper()
	if got != want {
		t.Errorf("%d %s rendered, want %d", got, what, want)
	}
}

func TestHelmTemplate(t *testing.T) {
	services := repoServices(t)
	rules := "../services/alerting/internal/rules/default.yaml"
	routes := "../services/alerting/internal/routing/default.yaml"
	tiers := "../services/segmentation/internal/tiers/default.yaml"

	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, m *manifests)
	}{
		{"defaults", nil, func(t *testing.T, m *manifests) {
			wantCount(t, "Deployments", len(m.Deployments), len(services))
			for _, s := range services {
				m.deployment(t, s)
			}
			wantCount(t, "Services", len(m.Services), len(services))
			wantCount(t, "PDBs", len(m.PDBs), len(services))
			wantCount(t, "NetworkPolicies", len(m.NetworkPolicies), len(services))
			wantCount(t, "ServiceAccounts", len(m.ServiceAccounts), 1)
			wantCount(t, "ConfigMaps (the built-in files apply)", len(m.ConfigMaps), 0)
			wantCount(t, "HPAs", len(m.HPAs), 0)
			wantCount(t, "ScaledObjects", len(m.ScaledObjects), 0)
			wantCount(t, "ServiceMonitors", len(m.ServiceMonitors), 0)
			for _, s := range services {
				env := m.env(t, s)
				if got := env["FEEDLOOP_STREAM_REPLICAS"].Value; got != "3" {
					t.Errorf("%s: FEEDLOOP_STREAM_REPLICAS %q, want 3", s, got)
				}
				for _, name := range []string{"FEEDLOOP_REDIS_PASSWORD", "FEEDLOOP_NATS_CREDS", "FEEDLOOP_ALERTING_RULES", "FEEDLOOP_SEGMENTATION_TIERS", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
					if _, ok := env[name]; ok {
						t.Errorf("%s: %s set by default", s, name)
					}
				}
			}
			for _, p := range m.PDBs {
				if p.Spec.MaxUnavailable == nil || p.Spec.MaxUnavailable.IntValue() != 1 {
					t.Errorf("PDB %s: maxUnavailable %v, want 1", p.Name, p.Spec.MaxUnavailable)
				}
			}
		}},
		{"production", []string{"-f", productionFile}, func(t *testing.T, m *manifests) {
			wantCount(t, "ScaledObjects", len(m.ScaledObjects), len(services))
			wantCount(t, "HPAs", len(m.HPAs), 0)
			wantCount(t, "ServiceMonitors", len(m.ServiceMonitors), 1)
			wantCount(t, "NetworkPolicies", len(m.NetworkPolicies), len(services))
			for _, s := range services {
				env := m.env(t, s)
				if got := env["FEEDLOOP_STREAM_REPLICAS"].Value; got != "3" {
					t.Errorf("%s: FEEDLOOP_STREAM_REPLICAS %q, want 3 (R3 streams)", s, got)
				}
				if u := env["FEEDLOOP_NATS_URL"].Value; !strings.HasPrefix(u, "tls://") {
					t.Errorf("%s: FEEDLOOP_NATS_URL %q is not TLS", s, u)
				}
				if u := env["FEEDLOOP_REDIS_URL"].Value; !strings.HasPrefix(u, "rediss://") {
					t.Errorf("%s: FEEDLOOP_REDIS_URL %q is not TLS", s, u)
				}
				for _, name := range []string{"FEEDLOOP_REDIS_PASSWORD", "FEEDLOOP_NATS_CREDS", "SSL_CERT_DIR", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
					if _, ok := env[name]; !ok {
						t.Errorf("%s: %s not set", s, name)
					}
				}
				_, receiver := env["FEEDLOOP_ALERTING_SLACK_URL"]
				if receiver != (s == "alerting") {
					t.Errorf("%s: receiver variables set: %v, want them on alerting only", s, receiver)
				}
			}
			want := map[string][]string{
				"intake":       {"cpu"},
				"scoring":      {"cpu", "nats-jetstream:FEEDBACK/scoring"},
				"segmentation": {"cpu", "nats-jetstream:FEEDBACK/segmentation-activity", "nats-jetstream:SCORED/segmentation"},
				"alerting":     {"cpu", "nats-jetstream:CUSTOMERS/alerting", "nats-jetstream:RECOVERY/alerting-dispatch"},
			}
			for s, w := range want {
				so := m.ScaledObjects[releaseName+"-"+s]
				if so == nil {
					t.Errorf("no ScaledObject for %s", s)
				} else if got := triggerNames(so); !slices.Equal(got, w) {
					t.Errorf("ScaledObject of %s: triggers %v, want %v", s, got, w)
				}
			}
			np := m.NetworkPolicies[releaseName+"-alerting"]
			if np == nil {
				t.Fatal("no NetworkPolicy for alerting")
			}
			var https, otlp bool
			for _, r := range np.Spec.Egress {
				for _, p := range r.Ports {
					switch p.Port.IntValue() {
					case 443:
						https = len(r.To) > 0 && r.To[0].IPBlock != nil && len(r.To[0].IPBlock.Except) > 0
					case 4317:
						otlp = len(r.To) > 0
					}
				}
			}
			if !https || !otlp {
				t.Errorf("alerting's egress: receivers over 443 with private ranges cut out %v, OTLP on 4317 to the collector %v", https, otlp)
			}
		}},
		{"hpa", []string{"--set", "autoscaling.mode=hpa"}, func(t *testing.T, m *manifests) {
			wantCount(t, "HPAs", len(m.HPAs), len(services))
			wantCount(t, "ScaledObjects", len(m.ScaledObjects), 0)
		}},
		{"keda", []string{"--set", "autoscaling.mode=keda"}, func(t *testing.T, m *manifests) {
			wantCount(t, "ScaledObjects", len(m.ScaledObjects), len(services))
			wantCount(t, "HPAs", len(m.HPAs), 0)
		}},
		{"network policies off", []string{"--set", "networkPolicy.enabled=false"}, func(t *testing.T, m *manifests) {
			wantCount(t, "NetworkPolicies", len(m.NetworkPolicies), 0)
		}},
		{"custom files", []string{
			"--set-file", "services.alerting.files.rules=" + rules,
			"--set-file", "services.alerting.files.routes=" + routes,
			"--set-file", "services.segmentation.files.tiers=" + tiers,
		}, func(t *testing.T, m *manifests) {
			wantCount(t, "ConfigMaps", len(m.ConfigMaps), 2)
			for _, f := range []struct{ service, env, file string }{
				{"alerting", "FEEDLOOP_ALERTING_RULES", rules},
				{"alerting", "FEEDLOOP_ALERTING_ROUTES", routes},
				{"segmentation", "FEEDLOOP_SEGMENTATION_TIERS", tiers},
			} {
				want, err := os.ReadFile(f.file)
				if err != nil {
					t.Fatal(err)
				}
				cm := m.ConfigMaps[releaseName+"-"+f.service+"-config"]
				e, ok := m.env(t, f.service)[f.env]
				if !ok || cm == nil {
					t.Errorf("%s: %s set %v, ConfigMap rendered %v", f.service, f.env, ok, cm != nil)
					continue
				}
				if got := cm.Data[path.Base(e.Value)]; got != string(want) {
					t.Errorf("%s: the file %s names differs from %s", f.service, f.env, f.file)
				}
			}
			if _, ok := m.env(t, "segmentation")["FEEDLOOP_SEGMENTATION_CONFIG"]; ok {
				t.Error("FEEDLOOP_SEGMENTATION_CONFIG set though no file was given")
			}
			for _, s := range []string{"intake", "scoring"} {
				if a := m.deployment(t, s).Spec.Template.Annotations["checksum/config"]; a != "" {
					t.Errorf("%s has a config checksum without a file", s)
				}
			}
		}},
		{"extra CA, NATS credentials, OTLP", []string{
			"--set", "tls.extraCA.existingSecret=ca", "--set", "nats.credentials.existingSecret=creds",
			"--set", "redis.password.existingSecret=redis", "--set", "otel.endpoint=http://collector:4317",
			"--set", "services.alerting.receivers.existingSecret=receivers",
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := helmRender(t, tc.args...)
			checkInvariants(t, m)
			if tc.check != nil {
				tc.check(t, m)
			}
		})
	}
}

// A changed file must change the pod template, or the pods keep the old one.
func TestHelmChecksumFollowsFiles(t *testing.T) {
	dir := t.TempDir()
	rules, err := os.ReadFile("../services/alerting/internal/rules/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	changed := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(changed, append(rules, "# one more line\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	checksums := func(rulesFile string) (alerting, segmentation string) {
		m := helmRender(t, "--set-file", "services.alerting.files.rules="+rulesFile,
			"--set-file", "services.segmentation.files.tiers=../services/segmentation/internal/tiers/default.yaml")
		return m.deployment(t, "alerting").Spec.Template.Annotations["checksum/config"],
			m.deployment(t, "segmentation").Spec.Template.Annotations["checksum/config"]
	}
	a1, s1 := checksums("../services/alerting/internal/rules/default.yaml")
	a2, s2 := checksums(changed)
	if a1 == "" || s1 == "" {
		t.Fatalf("no checksum/config annotation: alerting %q, segmentation %q", a1, s1)
	}
	if a1 == a2 {
		t.Error("a changed rule file left alerting's pod template as it was")
	}
	if s1 != s2 {
		t.Error("a changed alerting rule file changed segmentation's pod template too")
	}
}

// Values that would deploy something broken must fail the render.
func TestHelmRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"unknown autoscaling mode", []string{"autoscaling.mode=both"}, "autoscaling.mode"},
		{"no API key Secret", []string{"apiKeys.existingSecret="}, "apiKeys.existingSecret"},
		{"grace shorter than preStop and drain", []string{"shutdown.terminationGracePeriodSeconds=20"}, "terminationGracePeriodSeconds"},
		{"PDB blocks every drain", []string{"services.intake.pdb.minAvailable=2"}, "minAvailable"},
		{"PDB with both bounds", []string{"services.intake.pdb.minAvailable=1", "services.intake.pdb.maxUnavailable=1"}, "not both"},
		{"scaling to zero", []string{"autoscaling.mode=keda", "services.scoring.autoscaling.minReplicas=0"}, "minReplicas"},
		{"misspelt key", []string{"services.scoring.autoscaling.lagTreshold=5"}, "lagTreshold"},
		{"unknown log level", []string{"logLevel=verbose"}, "logLevel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			_, err := helmTemplate(t, args...)
			if err == nil {
				t.Fatalf("rendered with %v", tc.set)
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q: %v", tc.want, err)
			}
		})
	}
}
