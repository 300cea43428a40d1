// Package deploy holds the deployment artefacts (Kubernetes manifests, the
// systemd unit) and the test that checks them against each other, the
// Dockerfile and the config schema.
package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/s3xproxy/s3xproxy/config"
	"github.com/s3xproxy/s3xproxy/proxy/gateway"
)

// object is one Kubernetes manifest document.
type object struct {
	file string
	raw  map[string]any
	node yaml.Node
}

func (o *object) kind() string       { s, _ := o.raw["kind"].(string); return s }
func (o *object) apiVersion() string { s, _ := o.raw["apiVersion"].(string); return s }

// decode re-decodes the document into a typed view.
func (o *object) decode(t *testing.T, v any) {
	t.Helper()
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %v", o.file, err)
	}
}

// loadManifests parses every YAML document under deploy/.
func loadManifests(t *testing.T) []*object {
	t.Helper()
	var objs []*object
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || (!strings.HasSuffix(path, ".yaml") && !strings.HasSuffix(path, ".yml")) {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			o := &object{file: path}
			if err := dec.Decode(&o.node); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if err := o.node.Decode(&o.raw); err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if o.raw != nil {
				objs = append(objs, o)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) == 0 {
		t.Fatal("no manifests found under deploy/")
	}
	return objs
}

var knownKinds = map[string]string{
	"Namespace": "v1", "ServiceAccount": "v1", "ConfigMap": "v1", "Secret": "v1", "Service": "v1",
	"Deployment": "apps/v1", "PodDisruptionBudget": "policy/v1", "HorizontalPodAutoscaler": "autoscaling/v2",
	"Kustomization": "kustomize.config.k8s.io/v1beta1",
}

func byKind(t *testing.T, objs []*object, kind string) *object {
	t.Helper()
	var found []*object
	for _, o := range objs {
		if o.kind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want exactly one %s, found %d", kind, len(found))
	}
	return found[0]
}

func TestManifestKinds(t *testing.T) {
	for _, o := range loadManifests(t) {
		t.Run(o.file+"/"+o.kind(), func(t *testing.T) {
			want, ok := knownKinds[o.kind()]
			if !ok {
				t.Fatalf("unexpected kind %q", o.kind())
			}
			if o.apiVersion() != want {
				t.Errorf("apiVersion %q, want %q", o.apiVersion(), want)
			}
			if o.kind() == "Kustomization" {
				return
			}
			md, _ := o.raw["metadata"].(map[string]any)
			if name, _ := md["name"].(string); name == "" {
				t.Error("metadata.name missing")
			}
		})
	}
}

// TestKustomizationListsEveryManifest keeps kustomization.yaml in step with
// the files in its directory.
func TestKustomizationListsEveryManifest(t *testing.T) {
	var k struct {
		Resources []string `yaml:"resources"`
	}
	objs := loadManifests(t)
	kust := byKind(t, objs, "Kustomization")
	kust.decode(t, &k)
	dir := filepath.Dir(kust.file)
	for _, o := range objs {
		if o.kind() == "Kustomization" {
			continue
		}
		if filepath.Dir(o.file) == dir && !slices.Contains(k.Resources, filepath.Base(o.file)) {
			t.Errorf("%s is not listed in %s resources", o.file, kust.file)
		}
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("resource %s: %v", r, err)
		}
	}
}

type probe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port any    `yaml:"port"`
	} `yaml:"httpGet"`
}

type container struct {
	Name    string   `yaml:"name"`
	Args    []string `yaml:"args"`
	EnvFrom []struct {
		SecretRef *struct {
			Name string `yaml:"name"`
		} `yaml:"secretRef"`
	} `yaml:"envFrom"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	ReadinessProbe *probe `yaml:"readinessProbe"`
	LivenessProbe  *probe `yaml:"livenessProbe"`
	Resources      struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
	} `yaml:"volumeMounts"`
	Lifecycle struct {
		PreStop struct {
			Sleep *struct {
				Seconds float64 `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
}

type deployment struct {
	Spec struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				ServiceAccountName            string `yaml:"serviceAccountName"`
				TerminationGracePeriodSeconds int    `yaml:"terminationGracePeriodSeconds"`
				SecurityContext               struct {
					RunAsNonRoot *bool `yaml:"runAsNonRoot"`
				} `yaml:"securityContext"`
				Containers []container `yaml:"containers"`
				Volumes    []struct {
					Name      string `yaml:"name"`
					ConfigMap *struct {
						Name  string `yaml:"name"`
						Items []struct {
							Key  string `yaml:"key"`
							Path string `yaml:"path"`
						} `yaml:"items"`
					} `yaml:"configMap"`
				} `yaml:"volumes"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// manifests is the typed view of the objects the checks below relate.
type manifests struct {
	dep       deployment
	c         container
	configMap struct {
		Metadata struct{ Name string }
		Data     map[string]string
	}
	secret struct {
		Metadata   struct{ Name string }
		StringData map[string]string `yaml:"stringData"`
	}
	saName   string
	saAnnots map[string]string
	service  struct {
		Spec struct {
			Selector map[string]string
			Ports    []struct {
				Name       string
				TargetPort any `yaml:"targetPort"`
			}
		}
	}
	pdbMatches map[string]string
}

func loadTyped(t *testing.T) *manifests {
	t.Helper()
	objs := loadManifests(t)
	m := &manifests{}
	byKind(t, objs, "Deployment").decode(t, &m.dep)
	if n := len(m.dep.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("want one container, got %d", n)
	}
	m.c = m.dep.Spec.Template.Spec.Containers[0]
	byKind(t, objs, "ConfigMap").decode(t, &m.configMap)
	byKind(t, objs, "Secret").decode(t, &m.secret)
	var sa struct {
		Metadata struct {
			Name        string
			Annotations map[string]string
		}
	}
	byKind(t, objs, "ServiceAccount").decode(t, &sa)
	m.saName, m.saAnnots = sa.Metadata.Name, sa.Metadata.Annotations
	byKind(t, objs, "Service").decode(t, &m.service)
	var pdb struct {
		Spec struct {
			Selector struct {
				MatchLabels map[string]string `yaml:"matchLabels"`
			}
		}
	}
	byKind(t, objs, "PodDisruptionBudget").decode(t, &pdb)
	m.pdbMatches = pdb.Spec.Selector.MatchLabels
	return m
}

// containerPort resolves a probe or Service port (name or number).
func (m *manifests) containerPort(port any) int {
	for _, p := range m.c.Ports {
		if p.Name == port || p.ContainerPort == port {
			return p.ContainerPort
		}
	}
	return 0
}

// embeddedConfig parses the ConfigMap's config.yaml with the Secret as the
// environment, exactly as the pod would see it.
func (m *manifests) embeddedConfig(t *testing.T) *config.Config {
	t.Helper()
	data, ok := m.configMap.Data["config.yaml"]
	if !ok {
		t.Fatal("ConfigMap has no config.yaml")
	}
	env := func(k string) (string, bool) { v, ok := m.secret.StringData[k]; return v, ok }
	cfg, err := config.Parse("configmap/config.yaml", []byte(data), env)
	if err != nil {
		t.Fatalf("embedded config does not validate:\n%v", err)
	}
	return cfg
}

func subsetOf(sub, super map[string]string) bool {
	for k, v := range sub {
		if super[k] != v {
			return false
		}
	}
	return len(sub) > 0
}

func TestDeployment(t *testing.T) {
	m := loadTyped(t)
	cfg := m.embeddedConfig(t)
	_, adminPort, err := net.SplitHostPort(cfg.Admin.Listen)
	if err != nil {
		t.Fatalf("admin.listen %q: %v", cfg.Admin.Listen, err)
	}
	_, httpPort, _ := net.SplitHostPort(cfg.Server.Listen)
	podSpec := m.dep.Spec.Template.Spec
	checks := []struct {
		name string
		ok   bool
	}{
		{"several replicas", m.dep.Spec.Replicas >= 2},
		// Replicas share the local session keys, from the Secret, or a
		// session issued by one pod fails on the others.
		{"local session keys from the Secret", len(cfg.Auth.LocalSessions.Keys) > 0 &&
			cfg.Auth.LocalSessions.Keys[0] == m.secret.StringData["SESSION_KEY_1"]},
		{"selector matches pod labels", subsetOf(m.dep.Spec.Selector.MatchLabels, m.dep.Spec.Template.Metadata.Labels)},
		{"readiness probe GET /readyz", m.c.ReadinessProbe != nil && m.c.ReadinessProbe.HTTPGet != nil && m.c.ReadinessProbe.HTTPGet.Path == "/readyz"},
		{"liveness probe GET /healthz", m.c.LivenessProbe != nil && m.c.LivenessProbe.HTTPGet != nil && m.c.LivenessProbe.HTTPGet.Path == "/healthz"},
		{"probes on the admin port", m.c.ReadinessProbe != nil && m.c.LivenessProbe != nil &&
			itoa(m.containerPort(m.c.ReadinessProbe.HTTPGet.Port)) == adminPort &&
			itoa(m.containerPort(m.c.LivenessProbe.HTTPGet.Port)) == adminPort},
		{"admin listens beyond loopback", !gateway.LoopbackAddr(cfg.Admin.Listen)},
		{"admin token from the Secret (reload and pprof off loopback need it)", cfg.Admin.Token != "" &&
			strings.Contains(m.configMap.Data["config.yaml"], "${ADMIN_TOKEN}") && m.secret.StringData["ADMIN_TOKEN"] == cfg.Admin.Token},
		{"http port matches server.listen", itoa(m.containerPort("http")) == httpPort},
		{"serve with the mounted config", slices.Equal(m.c.Args, []string{"serve", "--config", "/etc/s3xproxy/config.yaml"})},
		{"secret as env", len(m.c.EnvFrom) > 0 && m.c.EnvFrom[0].SecretRef != nil && m.c.EnvFrom[0].SecretRef.Name == m.secret.Metadata.Name},
		{"resources set", m.c.Resources.Requests["cpu"] != "" && m.c.Resources.Requests["memory"] != "" && m.c.Resources.Limits["memory"] != ""},
		{"pod non-root", podSpec.SecurityContext.RunAsNonRoot != nil && *podSpec.SecurityContext.RunAsNonRoot},
		{"read-only root fs", isTrue(m.c.SecurityContext.ReadOnlyRootFilesystem)},
		{"no privilege escalation", m.c.SecurityContext.AllowPrivilegeEscalation != nil && !*m.c.SecurityContext.AllowPrivilegeEscalation},
		{"drop all capabilities", slices.Contains(m.c.SecurityContext.Capabilities.Drop, "ALL")},
		{"grace period covers shutdown_grace", float64(podSpec.TerminationGracePeriodSeconds) > cfg.Server.ShutdownGrace.Seconds()},
		{"grace period covers preStop + drain_delay + shutdown_grace", float64(podSpec.TerminationGracePeriodSeconds) >
			m.preStopSeconds()+cfg.Server.DrainDelay.Seconds()+cfg.Server.ShutdownGrace.Seconds()},
		{"uses the IRSA service account", podSpec.ServiceAccountName == m.saName && m.saAnnots["eks.amazonaws.com/role-arn"] != ""},
		{"config volume from the ConfigMap", m.configVolumeMounted()},
		{"service selects the pods", subsetOf(m.service.Spec.Selector, m.dep.Spec.Template.Metadata.Labels)},
		{"pdb selects the pods", subsetOf(m.pdbMatches, m.dep.Spec.Template.Metadata.Labels)},
	}
	for _, s := range m.service.Spec.Ports {
		checks = append(checks, struct {
			name string
			ok   bool
		}{"service port " + s.Name + " targets a container port", m.containerPort(s.TargetPort) != 0})
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Error("failed")
			}
		})
	}
}

func (m *manifests) configVolumeMounted() bool {
	for _, v := range m.dep.Spec.Template.Spec.Volumes {
		if v.ConfigMap == nil || v.ConfigMap.Name != m.configMap.Metadata.Name {
			continue
		}
		items := v.ConfigMap.Items
		if len(items) > 0 && (items[0].Key != "config.yaml" || items[0].Path != "config.yaml") {
			return false
		}
		for _, vm := range m.c.VolumeMounts {
			if vm.Name == v.Name && vm.MountPath == "/etc/s3xproxy" {
				return true
			}
		}
	}
	return false
}

func isTrue(b *bool) bool { return b != nil && *b }

// itoa formats a resolved port; 0 (unresolved) never matches a config port.
func itoa(n int) string {
	if n == 0 {
		return "<none>"
	}
	return strconv.Itoa(n)
}

// TestEmbeddedConfigNeedsTheSecret proves the check above is real: without
// the Secret's variables the embedded config is rejected.
func TestEmbeddedConfigNeedsTheSecret(t *testing.T) {
	m := loadTyped(t)
	_, err := config.Parse("configmap/config.yaml", []byte(m.configMap.Data["config.yaml"]),
		func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "is not set") {
		t.Fatalf("want unset-variable errors, got %v", err)
	}
}

// unitFile parses a systemd unit into key -> values (repeated keys append).
func unitFile(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: malformed line %q", path, line)
			}
			kv[section+"."+k] = append(kv[section+"."+k], v)
		}
	}
	return kv
}

func TestSystemdUnit(t *testing.T) {
	u := unitFile(t, "systemd/s3xproxy.service")
	want := []struct{ key, value string }{
		{"Service.DynamicUser", "yes"},
		{"Service.ProtectSystem", "strict"},
		{"Service.StateDirectory", "s3xproxy"},
		{"Service.NoNewPrivileges", "yes"},
		{"Service.PrivateTmp", "yes"},
		{"Service.ExecReload", "/bin/kill -HUP $MAINPID"},
		{"Service.ExecStart", "/usr/local/bin/s3xproxy serve --config /etc/s3xproxy/config.yaml"},
		{"Service.ExecStartPre", "/usr/local/bin/s3xproxy check --config /etc/s3xproxy/config.yaml"},
		{"Service.KillSignal", "SIGTERM"},
		{"Service.SystemCallErrorNumber", "EPERM"},
		{"Install.WantedBy", "multi-user.target"},
	}
	for _, w := range want {
		t.Run(w.key, func(t *testing.T) {
			if !slices.Contains(u[w.key], w.value) {
				t.Errorf("%s = %q, want %q", w.key, u[w.key], w.value)
			}
		})
	}
	// StateDirectory=s3xproxy is /var/lib/s3xproxy: certmagic's default storage.
	if config.DefaultACMEStorage != "/var/lib/"+u["Service.StateDirectory"][0] {
		t.Errorf("StateDirectory does not match tls.acme.storage default %s", config.DefaultACMEStorage)
	}
}

// dockerfile returns the Dockerfile's instructions (continuations joined).
func dockerfile(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	cur := ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || (line == "" && cur == "") {
			continue
		}
		cur += " " + strings.TrimSuffix(line, "\\")
		if !strings.HasSuffix(line, "\\") {
			out = append(out, strings.TrimSpace(cur))
			cur = ""
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	ins := dockerfile(t)
	has := func(re string) bool {
		r := regexp.MustCompile(re)
		return slices.ContainsFunc(ins, r.MatchString)
	}
	checks := []struct{ name, re string }{
		{"golang builder stage", `^FROM golang:\$\{GO_VERSION\} AS build$`},
		{"builds with make image-binary", `^RUN make image-binary VERSION=\$\{VERSION\} `},
		{"distroless nonroot final stage", `^FROM gcr\.io/distroless/static-debian12:nonroot$`},
		{"non-root user", `^USER 65532:65532$`},
		{"ports", `^EXPOSE 8080 8443 9090$`},
		{"entrypoint", `^ENTRYPOINT \["/s3xproxy"\]$`},
		{"serve the documented config path", `^CMD \["serve", "--config", "/etc/s3xproxy/config.yaml"\]$`},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !has(c.re) {
				t.Errorf("no instruction matches %s", c.re)
			}
		})
	}
	if last := ins[len(ins)-1]; !strings.HasPrefix(last, "CMD") {
		t.Errorf("last instruction %q, want CMD", last)
	}
}

// TestImageBinary runs the Dockerfile's build command, `make image-binary`,
// and checks the result is a static executable (no ELF interpreter), as the
// distroless/static image requires. Skipped with -short (it builds).
func TestImageBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not installed")
	}
	cmd := exec.Command("make", "image-binary", "VERSION=deploy-test")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-binary: %v\n%s", err, out)
	}
	f, err := elf.Open("../bin/s3xproxy-static")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("binary is dynamically linked (has PT_INTERP)")
		}
	}
	out, err := exec.Command("../bin/s3xproxy-static", "version").Output()
	if err != nil || !strings.Contains(string(out), "s3xproxy deploy-test") {
		t.Fatalf("version: %q, %v", out, err)
	}
}
