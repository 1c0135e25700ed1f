// Package v1alpha1 holds the types of graceline's aggregated API, group
// graceline.dev, version v1alpha1, and their conversion from and to the
// event contract (api/v1): the collector serves them behind the cluster's
// API server, and kubectl-graceline reads them with the user's kubeconfig.
// It depends only on the API machinery, so that a client needs nothing of
// the server.
//
// +k8s:openapi-gen=true
// +groupName=graceline.dev
package v1alpha1
