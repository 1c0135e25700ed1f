// Package kube reads graceline's terminations through the cluster's API
// server, from the aggregated API graceline.dev/v1alpha1 that the collector
// serves, with the identity of the user's kubeconfig: whatever
// authentication kubectl does (certificates, tokens, exec plugins, OIDC)
// and the user's own RBAC. It answers in the event contract (api/v1), so
// that every subcommand prints the same whichever way it asked.
package kube

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
)

// Client reads the aggregated API.
type Client struct {
	rc   rest.Interface
	host string
}

// Scheme knows the aggregated API's types, for decoding and for printing.
var Scheme = newScheme()

// parameterCodec writes the timeline's options as its query string.
var parameterCodec = runtime.NewParameterCodec(Scheme)

func newScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		panic(fmt.Sprintf("register the %s types: %v", v1alpha1.GroupName, err))
	}
	return s
}

// New returns a client of the API server that cfg reaches.
func New(cfg *rest.Config) (*Client, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &v1alpha1.SchemeGroupVersion
	c.APIPath = "/apis"
	c.NegotiatedSerializer = serializer.NewCodecFactory(Scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	rc, err := rest.RESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("make a client of the API server at %s: %w", cfg.Host, err)
	}
	return &Client{rc: rc, host: cfg.Host}, nil
}

// Terminations lists the terminations of a namespace ("" for every one),
// newest first, as the aggregated API serves them: the verdict and the
// node are passed as field selectors.
func (c *Client) Terminations(ctx context.Context, namespace, node, verdict string, limit int64) (*v1alpha1.PodTerminationList, error) {
	list := &v1alpha1.PodTerminationList{}
	err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourcePodTerminations).
		VersionedParams(&metav1.ListOptions{FieldSelector: selector(node, verdict, "").String(), Limit: limit}, metav1.ParameterCodec).
		Do(ctx).Into(list)
	if err != nil {
		return nil, c.explain(err, "list", v1alpha1.ResourcePodTerminations, namespace, "")
	}
	return list, nil
}

// StuckPods lists the pods stuck now in a namespace ("" for every one).
func (c *Client) StuckPods(ctx context.Context, namespace, node string) (*v1alpha1.StuckPodList, error) {
	list := &v1alpha1.StuckPodList{}
	err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourceStuckPods).
		VersionedParams(&metav1.ListOptions{FieldSelector: selector(node, "", "").String()}, metav1.ParameterCodec).
		Do(ctx).Into(list)
	if err != nil {
		return nil, c.explain(err, "list", v1alpha1.ResourceStuckPods, namespace, "")
	}
	return list, nil
}

// Reports lists the reports of a namespace's workloads ("" for every
// namespace) over the window that starts at since, passed to the
// nanosecond as the field selector status.since.
func (c *Client) Reports(ctx context.Context, namespace string, since time.Time) (*v1alpha1.WorkloadReportList, error) {
	list := &v1alpha1.WorkloadReportList{}
	sel := fields.OneTermEqualSelector(v1alpha1.FieldSince, since.UTC().Format(time.RFC3339Nano))
	err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourceWorkloadReports).
		VersionedParams(&metav1.ListOptions{FieldSelector: sel.String()}, metav1.ParameterCodec).
		Do(ctx).Into(list)
	if err != nil {
		return nil, c.explain(err, "list", v1alpha1.ResourceWorkloadReports, namespace, "")
	}
	return list, nil
}

// Checks lists the checks of a namespace's running containers ("" for
// every namespace), of one workload's pods when workload is given and of
// one pod when pod is, judged with the history since since (the
// collector's default when since is zero), passed to the nanosecond as
// the field selector status.since.
func (c *Client) Checks(ctx context.Context, namespace string, workload *apiv1.WorkloadRef, pod string, since time.Time) (*v1alpha1.TerminationCheckList, error) {
	set := fields.Set{}
	if workload != nil {
		set[v1alpha1.FieldWorkload] = v1alpha1.WorkloadSelector(workload.GetKind(), workload.GetName())
	}
	if pod != "" {
		set[v1alpha1.FieldPod] = pod
	}
	if !since.IsZero() {
		set[v1alpha1.FieldSince] = since.UTC().Format(time.RFC3339Nano)
	}
	list := &v1alpha1.TerminationCheckList{}
	err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourceTerminationChecks).
		VersionedParams(&metav1.ListOptions{FieldSelector: inOrder(set).String()}, metav1.ParameterCodec).
		Do(ctx).Into(list)
	if err != nil {
		return nil, c.explain(err, "list", v1alpha1.ResourceTerminationChecks, namespace, "")
	}
	return list, nil
}

// Timeline returns the events of the latest pod of that name (or of the
// one with uid, when given) and its summary (nil while none is known), in
// the event contract.
func (c *Client) Timeline(ctx context.Context, namespace, name, uid string) ([]*apiv1.Event, *apiv1.Event, error) {
	tl := &v1alpha1.PodTerminationTimeline{}
	err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourcePodTerminations).Name(name).SubResource(v1alpha1.SubresourceTimeline).
		VersionedParams(&v1alpha1.TimelineOptions{UID: uid}, parameterCodec).
		Do(ctx).Into(tl)
	if err != nil {
		return nil, nil, c.explain(err, "get", v1alpha1.ResourcePodTerminations, namespace, name)
	}
	events := make([]*apiv1.Event, 0, len(tl.Events))
	for _, raw := range tl.Events {
		e := &apiv1.Event{}
		if err := apiv1.UnmarshalJSONLine(raw.Raw, e); err != nil {
			return nil, nil, fmt.Errorf("decode an event of pod %s/%s: %w", namespace, name, err)
		}
		events = append(events, e)
	}
	var sum *apiv1.Event
	if tl.Summary != nil {
		sum = &apiv1.Event{}
		if err := apiv1.UnmarshalJSONLine(tl.Summary.Raw, sum); err != nil {
			return nil, nil, fmt.Errorf("decode the summary of pod %s/%s: %w", namespace, name, err)
		}
	}
	return events, sum, nil
}

// WatchTerminations follows the terminations of a namespace ("" for every
// one), of one pod when name is given, and of one node when node is: it
// calls ready once the API server has the watch in place, then changed
// with each termination the API server reports until ctx ends or the
// watch does. The error says why it ended; nil means ctx did.
func (c *Client) WatchTerminations(ctx context.Context, namespace, name, node string, ready func(), changed func(*v1alpha1.PodTermination) error) error {
	w, err := c.rc.Get().Namespace(namespace).Resource(v1alpha1.ResourcePodTerminations).
		VersionedParams(&metav1.ListOptions{Watch: true, FieldSelector: selector(node, "", name).String()}, metav1.ParameterCodec).
		Watch(ctx)
	if err != nil {
		return c.explain(err, "watch", v1alpha1.ResourcePodTerminations, namespace, "")
	}
	defer w.Stop()
	ready()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.ResultChan():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return ErrWatchEnded
			}
			switch o := e.Object.(type) {
			case *v1alpha1.PodTermination:
				if err := changed(o); err != nil {
					return err
				}
			case *metav1.Status:
				return c.explain(&apierrors.StatusError{ErrStatus: *o}, "watch", v1alpha1.ResourcePodTerminations, namespace, "")
			}
		}
	}
}

// ErrWatchEnded is a watch that the API server ended; watching again is
// the cure.
var ErrWatchEnded = errors.New("the API server ended the watch")

// Retryable tells whether a watch that ended with err is worth starting
// again: it ended, timed out, or the server was briefly unavailable, not
// refused.
func Retryable(err error) bool {
	return errors.Is(err, ErrWatchEnded) || apierrors.IsResourceExpired(err) || apierrors.IsGone(err) ||
		apierrors.IsServerTimeout(err) || apierrors.IsTimeout(err) || apierrors.IsServiceUnavailable(err) ||
		apierrors.IsTooManyRequests(err) || apierrors.IsInternalError(err)
}

func selector(node, verdict, name string) fields.Selector {
	set := fields.Set{}
	if node != "" {
		set[v1alpha1.FieldNodeName] = node
	}
	if verdict != "" {
		set[v1alpha1.FieldVerdict] = verdict
	}
	if name != "" {
		set["metadata.name"] = name
	}
	return inOrder(set)
}

// inOrder is the selector of set with its terms in key order:
// fields.SelectorFromSet keeps the map's random order, and a request's
// URL should not change from one run to the next.
func inOrder(set fields.Set) fields.Selector {
	keys := slices.Sorted(maps.Keys(set))
	terms := make([]fields.Selector, len(keys))
	for i, k := range keys {
		terms[i] = fields.OneTermEqualSelector(k, set[k])
	}
	return fields.AndSelectors(terms...)
}

// explain turns an error of the API server into a sentence for a person,
// keeping the API's status for callers that test it.
func (c *Client) explain(err error, verb, resource, namespace, name string) error {
	where := "in every namespace"
	if namespace != "" {
		where = "in namespace " + namespace
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return fmt.Errorf("%s %s %s through the API server at %s: %w", verb, resource, where, c.host, err)
	}
	switch {
	case apierrors.IsNotFound(err) && name != "" && status.Status().Details != nil && status.Status().Details.Name == name:
		return fmt.Errorf("no termination of pod %s/%s is known: %w", namespace, name, err)
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the API server at %s does not serve %s (is graceline's APIService installed? --collector asks a collector directly): %w", c.host, v1alpha1.SchemeGroupVersion, err)
	case apierrors.IsServiceUnavailable(err):
		return fmt.Errorf("the API server at %s cannot reach graceline's collector (APIService v1alpha1.%s): %w", c.host, v1alpha1.GroupName, err)
	}
	return fmt.Errorf("%s %s %s: %w", verb, resource, where, err)
}
