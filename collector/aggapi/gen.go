package aggapi

// The API server needs an OpenAPI schema of every served type (server-side
// apply's type converter is built from it): openapi-gen writes it, with the
// schemas of the meta types the served types embed.
//go:generate go tool openapi-gen --output-dir . --output-pkg github.com/graceline/graceline/collector/aggapi --output-file zz_generated.openapi.go --report-filename /dev/null --go-header-file /dev/null k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version github.com/graceline/graceline/api/aggregated/v1alpha1
