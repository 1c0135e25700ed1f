package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// objectClient reaches any kind of object through the API, as kubectl
// does: discovery maps each object's kind to its resource.
type objectClient struct {
	dyn    dynamic.Interface
	mapper meta.RESTMapper
}

func (c *Cluster) objectClient() (*objectClient, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("load kubeconfig: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create discovery client: %w", err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		return nil, fmt.Errorf("discover the API's resources: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("create dynamic client: %w", err)
	}
	return &objectClient{dyn: dyn, mapper: restmapper.NewDiscoveryRESTMapper(groups)}, nil
}

// resource is the client for obj's kind, in its namespace if it has one.
func (oc *objectClient) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := oc.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("map %s to a resource: %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return oc.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return oc.dyn.Resource(m.Resource), nil
}

// Apply applies the objects in order with server-side apply, as `kubectl
// apply --server-side` does, under fieldManager.
func (c *Cluster) Apply(ctx context.Context, fieldManager string, objs ...*unstructured.Unstructured) error {
	oc, err := c.objectClient()
	if err != nil {
		return err
	}
	for _, obj := range objs {
		r, err := oc.resource(obj)
		if err != nil {
			return err
		}
		if _, err := r.Apply(ctx, obj.GetName(), obj, metav1.ApplyOptions{FieldManager: fieldManager, Force: true}); err != nil {
			return fmt.Errorf("apply %s %s: %w", obj.GetKind(), describeObject(obj), err)
		}
	}
	return nil
}

// Delete deletes the objects, last first, as `kubectl delete -k` does
// (dependents in the background), and waits until the API has none of
// them, or until timeout. An object already gone is no error.
func (c *Cluster) Delete(ctx context.Context, timeout time.Duration, objs ...*unstructured.Unstructured) error {
	oc, err := c.objectClient()
	if err != nil {
		return err
	}
	background := metav1.DeletePropagationBackground
	for _, obj := range slices.Backward(objs) {
		r, err := oc.resource(obj)
		if err != nil {
			return err
		}
		if err := r.Delete(ctx, obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &background}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", obj.GetKind(), describeObject(obj), err)
		}
	}
	return poll(ctx, timeout, "deleted objects gone", func() (bool, error) {
		left, err := c.Present(ctx, objs...)
		return err == nil && len(left) == 0, err
	})
}

// Present lists those of the objects the API still has, as "Kind
// namespace/name".
func (c *Cluster) Present(ctx context.Context, objs ...*unstructured.Unstructured) ([]string, error) {
	oc, err := c.objectClient()
	if err != nil {
		return nil, err
	}
	var left []string
	var errs []error
	for _, obj := range objs {
		r, err := oc.resource(obj)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_, err = r.Get(ctx, obj.GetName(), metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			errs = append(errs, fmt.Errorf("get %s %s: %w", obj.GetKind(), describeObject(obj), err))
		default:
			left = append(left, obj.GetKind()+" "+describeObject(obj))
		}
	}
	return left, errors.Join(errs...)
}

// describeObject names an object as namespace/name, or name.
func describeObject(obj *unstructured.Unstructured) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
