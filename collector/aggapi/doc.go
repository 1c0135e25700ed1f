// Package aggapi serves graceline's terminations as a Kubernetes aggregated
// API, group graceline.dev, version v1alpha1 (the types are in
// api/aggregated/v1alpha1), behind the cluster's API server: the API server
// authenticates the caller and passes who it is through its front proxy;
// this server checks that with the delegated authentication of
// k8s.io/apiserver and asks the API server, by SubjectAccessReview, whether
// the caller may read the namespace's resources. Every resource is
// read-only.
package aggapi
