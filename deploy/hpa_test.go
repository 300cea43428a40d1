package deploy

import "testing"

// preStopSeconds is the container's preStop sleep (0 without one).
func (m *manifests) preStopSeconds() float64 {
	if s := m.c.Lifecycle.PreStop.Sleep; s != nil {
		return s.Seconds
	}
	return 0
}

// TestHorizontalPodAutoscaler: the HPA scales the Deployment on CPU
// utilization (which needs a cpu request), never below two replicas (the
// PDB's maxUnavailable 1 would otherwise allow taking the last one), and
// within a sane range.
func TestHorizontalPodAutoscaler(t *testing.T) {
	objs := loadManifests(t)
	m := loadTyped(t)
	var hpa struct {
		Spec struct {
			ScaleTargetRef struct {
				APIVersion string `yaml:"apiVersion"`
				Kind       string `yaml:"kind"`
				Name       string `yaml:"name"`
			} `yaml:"scaleTargetRef"`
			MinReplicas int `yaml:"minReplicas"`
			MaxReplicas int `yaml:"maxReplicas"`
			Metrics     []struct {
				Type     string `yaml:"type"`
				Resource struct {
					Name   string `yaml:"name"`
					Target struct {
						Type               string `yaml:"type"`
						AverageUtilization int    `yaml:"averageUtilization"`
					} `yaml:"target"`
				} `yaml:"resource"`
			} `yaml:"metrics"`
		} `yaml:"spec"`
	}
	byKind(t, objs, "HorizontalPodAutoscaler").decode(t, &hpa)
	var dep struct {
		Metadata struct {
			Name string `yaml:"name"`
		} `yaml:"metadata"`
	}
	byKind(t, objs, "Deployment").decode(t, &dep)
	ref := hpa.Spec.ScaleTargetRef
	cpu := false
	for _, mt := range hpa.Spec.Metrics {
		if mt.Type == "Resource" && mt.Resource.Name == "cpu" && mt.Resource.Target.Type == "Utilization" &&
			mt.Resource.Target.AverageUtilization > 0 && mt.Resource.Target.AverageUtilization <= 90 {
			cpu = true
		}
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"targets the Deployment", ref.APIVersion == "apps/v1" && ref.Kind == "Deployment" && ref.Name == dep.Metadata.Name},
		{"scales on cpu utilization", cpu},
		{"the container requests cpu (utilization is relative to it)", m.c.Resources.Requests["cpu"] != ""},
		{"minReplicas >= 2 with the PDB", hpa.Spec.MinReplicas >= 2 && m.pdbMatches != nil},
		{"minReplicas <= Deployment replicas <= maxReplicas", hpa.Spec.MinReplicas <= m.dep.Spec.Replicas && m.dep.Spec.Replicas <= hpa.Spec.MaxReplicas},
		{"maxReplicas > minReplicas", hpa.Spec.MaxReplicas > hpa.Spec.MinReplicas},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !c.ok {
				t.Error("failed")
			}
		})
	}
}
