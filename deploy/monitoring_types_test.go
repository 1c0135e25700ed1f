package deploy

import (
	"encoding/json"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The Prometheus Operator's kinds, as far as graceline's manifests use them
// (monitoring.coreos.com/v1). Decoded strictly like the rest: a field
// outside these, misspelt or unknown to the operator, is an error, so that
// a new one is added here on purpose, checked against the operator's CRD.

// PodMonitor is monitoring.coreos.com/v1 PodMonitor.
type PodMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		JobLabel            string               `json:"jobLabel,omitempty"`
		Selector            metav1.LabelSelector `json:"selector"`
		PodMetricsEndpoints []struct {
			Port        string `json:"port"`
			Path        string `json:"path,omitempty"`
			Interval    string `json:"interval,omitempty"`
			HonorLabels bool   `json:"honorLabels,omitempty"`
			Scheme      string `json:"scheme,omitempty"`
			TLSConfig   *struct {
				ServerName string `json:"serverName,omitempty"`
				CA         struct {
					ConfigMap struct {
						Name string `json:"name"`
						Key  string `json:"key"`
					} `json:"configMap"`
				} `json:"ca"`
			} `json:"tlsConfig,omitempty"`
		} `json:"podMetricsEndpoints"`
	} `json:"spec"`
}

// PrometheusRule is monitoring.coreos.com/v1 PrometheusRule.
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Groups []RuleGroup `json:"groups"`
	} `json:"spec"`
}

// RuleGroup is a group of rules, as in a Prometheus rule file.
type RuleGroup struct {
	Name  string `json:"name"`
	Rules []struct {
		Alert       string            `json:"alert,omitempty"`
		Record      string            `json:"record,omitempty"`
		Expr        string            `json:"expr"`
		For         string            `json:"for,omitempty"`
		Labels      map[string]string `json:"labels,omitempty"`
		Annotations map[string]string `json:"annotations,omitempty"`
	} `json:"rules"`
}

// DeepCopyObject copies through JSON; the tests that break renderings on
// purpose need copies, and these types carry nothing JSON loses.
func (p *PodMonitor) DeepCopyObject() runtime.Object { return jsonCopy(p, &PodMonitor{}) }

// DeepCopyObject copies through JSON, as PodMonitor's does.
func (p *PrometheusRule) DeepCopyObject() runtime.Object { return jsonCopy(p, &PrometheusRule{}) }

func jsonCopy[T runtime.Object](from, to T) T {
	b, err := json.Marshal(from)
	if err != nil {
		panic(err)
	}
	if err := json.Unmarshal(b, to); err != nil {
		panic(err)
	}
	return to
}
