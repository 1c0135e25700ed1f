package cluster

import (
	"fmt"
	"path/filepath"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// GracelineValues are the chart's values a user of a node laid out like
// this one sets, and nothing else: the runtime's socket directory, the
// network namespaces' directory, the kubelet's root and the CNI bin
// directories. The images keep the chart's names: they are imported under
// them.
func (c *Cluster) GracelineValues() map[string]any {
	var cni []any
	for _, d := range c.CNIBinDirs() {
		cni = append(cni, d)
	}
	return map[string]any{
		"runtimes": map[string]any{"containerd": map[string]any{"socketDir": c.RuntimeDir()}},
		"agent": map[string]any{
			"netnsDir":    c.NetNSDir(),
			"kubeletRoot": c.KubeletRootDir(),
			"cniBinDirs":  cni,
		},
	}
}

// GracelineChart loads deploy/helm/graceline from root, as `helm install
// graceline deploy/helm/graceline` does.
func GracelineChart(root string) (*chart.Chart, error) {
	ch, err := loader.Load(filepath.Join(root, "deploy", "helm", "graceline"))
	if err != nil {
		return nil, fmt.Errorf("load the chart: %w", err)
	}
	return ch, nil
}

// Helm is the configuration Helm's actions (install, upgrade, uninstall)
// run with against this cluster, in namespace, with releases stored as
// Secrets there, as the helm command's defaults do.
func (c *Cluster) Helm(namespace string, logf func(format string, args ...any)) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(true)
	flags.KubeConfig = &c.Kubeconfig
	flags.Namespace = &namespace
	cfg := new(action.Configuration)
	if err := cfg.Init(flags, namespace, "secret", logf); err != nil {
		return nil, fmt.Errorf("initialise helm: %w", err)
	}
	return cfg, nil
}
