package aggapi

import (
	"context"
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/util/compatibility"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
)

// Config says where and how the aggregated API is served.
type Config struct {
	// Address is the HTTPS listen address the APIService's Service points
	// at, for example ":7443".
	Address string
	// CertFile and KeyFile are the serving certificate; empty means a
	// self-signed one written into CertDir, which suits an APIService
	// registered with its CA bundle or insecureSkipTLSVerify.
	CertFile, KeyFile, CertDir string
	// Kubeconfig reaches the API server for TokenReviews,
	// SubjectAccessReviews and the front proxy's client CA (the
	// kube-system/extension-apiserver-authentication ConfigMap); empty
	// means the pod's service account.
	Kubeconfig string
}

// Server is the aggregated API server.
type Server struct {
	gs *genericapiserver.GenericAPIServer
}

// New binds cfg.Address and returns the server of the graceline.dev API
// reading r. The caller's identity is taken, as every aggregated API server
// takes it, from the front proxy's headers on a connection whose client
// certificate the front proxy's CA signed (or from a bearer token, by
// TokenReview); each request is then authorized by SubjectAccessReview, so
// that a user reads a namespace's terminations exactly when RBAC lets them.
func New(cfg Config, r Reader) (*Server, error) {
	scheme, codecs, err := newScheme()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listen for the aggregated API on %s: %w", cfg.Address, err)
	}
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.Listener = ln
	serving.ServerCert.CertDirectory = cfg.CertDir
	serving.ServerCert.PairName = "graceline-apiserver"
	serving.ServerCert.CertKey.CertFile, serving.ServerCert.CertKey.KeyFile = cfg.CertFile, cfg.KeyFile
	if err := serving.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		ln.Close()
		return nil, fmt.Errorf("make a self-signed serving certificate: %w", err)
	}
	authn := genericoptions.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = cfg.Kubeconfig
	authz := genericoptions.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = cfg.Kubeconfig

	c := genericapiserver.NewConfig(codecs)
	if err := serving.ApplyTo(&c.SecureServing, &c.LoopbackClientConfig); err != nil {
		ln.Close()
		return nil, fmt.Errorf("configure serving: %w", err)
	}
	if err := authn.ApplyTo(&c.Authentication, c.SecureServing, nil); err != nil {
		ln.Close()
		return nil, fmt.Errorf("configure delegated authentication: %w", err)
	}
	if err := authz.ApplyTo(&c.Authorization); err != nil {
		ln.Close()
		return nil, fmt.Errorf("configure delegated authorization: %w", err)
	}
	c.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	namer := openapinamer.NewDefinitionNamer(scheme)
	c.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(GetOpenAPIDefinitions, namer)
	c.OpenAPIConfig.Info.Title, c.OpenAPIConfig.Info.Version = "graceline", v1alpha1.SchemeGroupVersion.Version
	c.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(GetOpenAPIDefinitions, namer)
	c.OpenAPIV3Config.Info.Title, c.OpenAPIV3Config.Info.Version = "graceline", v1alpha1.SchemeGroupVersion.Version
	gs, err := c.Complete(nil).New("graceline-collector", genericapiserver.NewEmptyDelegate())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("create the aggregated API server: %w", err)
	}
	// The group's parameter codec reads the timeline's ?uid= with the
	// served scheme; lists and gets read theirs with the meta types' own.
	info := genericapiserver.NewDefaultAPIGroupInfo(v1alpha1.GroupName, scheme, runtime.NewParameterCodec(scheme), codecs)
	info.VersionedResourcesStorageMap[v1alpha1.SchemeGroupVersion.Version] = map[string]rest.Storage{
		"podterminations":          &terminations{r: r},
		"podterminations/timeline": &timelines{r: r},
		"stuckpods":                &stuckPods{r: r},
		"workloadreports":          &workloadReports{r: r, now: time.Now},
		"terminationchecks":        &terminationChecks{r: r, now: time.Now},
	}
	if err := gs.InstallAPIGroup(&info); err != nil {
		ln.Close()
		return nil, fmt.Errorf("install the %s API group: %w", v1alpha1.GroupName, err)
	}
	return &Server{gs: gs}, nil
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	if err := s.gs.PrepareRun().RunWithContext(ctx); err != nil {
		return fmt.Errorf("serve the aggregated API: %w", err)
	}
	return nil
}
