package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/token/cache"
	"k8s.io/apiserver/plugin/pkg/authenticator/token/webhook"
	authenticationv1client "k8s.io/client-go/kubernetes/typed/authentication/v1"
)

// DefaultAgentAudience is the audience an agent's ServiceAccount token must
// be issued for: the collector, never the API server, so that a token the
// collector sees cannot be replayed against the API.
const DefaultAgentAudience = "graceline-collector"

// How long a TokenReview's answer is kept. An agent opens one stream and
// keeps it for hours, so the cache does not save reviews in steady state;
// it keeps a storm of reconnecting agents (a collector restart) or of bad
// tokens from turning into as many requests to the API server. A token
// revoked (its pod deleted) is refused for new streams within
// reviewSuccessTTL.
const (
	reviewSuccessTTL = 30 * time.Second
	reviewFailureTTL = 10 * time.Second
	reviewTimeout    = 10 * time.Second
)

// Why a ServiceAccount token was refused, beside reasonInvalid.
const (
	// reasonWrongAccount: a valid token of another ServiceAccount or user.
	reasonWrongAccount = "wrong_service_account"
	// reasonUnbound: the agent's ServiceAccount, but a token bound to no
	// node, which could then write for any.
	reasonUnbound = "unbound_token"
	// reasonReviewFailed: the API server could not be asked.
	reasonReviewFailed = "review_failed"
)

// NodeTokensConfig says which ServiceAccount tokens are agents'.
type NodeTokensConfig struct {
	// ServiceAccount is the agents' ServiceAccount, "NAMESPACE/NAME".
	ServiceAccount string
	// Audience is what the tokens must be issued for; empty means
	// DefaultAgentAudience.
	Audience string
}

// Validate checks the ServiceAccount's form.
func (c NodeTokensConfig) Validate() error {
	ns, name, ok := strings.Cut(c.ServiceAccount, "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return fmt.Errorf("agent ServiceAccount %q: want NAMESPACE/NAME", c.ServiceAccount)
	}
	return nil
}

// NodeTokens checks agents' ServiceAccount tokens with the API server, by
// TokenReview (k8s.io/apiserver's webhook token authenticator behind its
// token cache), and tells which node each is bound to.
type NodeTokens struct {
	authn           authenticator.Token
	audiences       authenticator.Audiences
	namespace, name string
}

// NewNodeTokens returns a checker of cfg's tokens that reviews them through
// client.
func NewNodeTokens(client authenticationv1client.AuthenticationV1Interface, cfg NodeTokensConfig) (*NodeTokens, error) {
	return newNodeTokens(client, cfg, *webhook.DefaultRetryBackoff())
}

// newNodeTokens is NewNodeTokens with the backoff between retries of a
// failed review.
func newNodeTokens(client authenticationv1client.AuthenticationV1Interface, cfg NodeTokensConfig, retry wait.Backoff) (*NodeTokens, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Audience == "" {
		cfg.Audience = DefaultAgentAudience
	}
	auds := authenticator.Audiences{cfg.Audience}
	noRecord := webhook.AuthenticatorMetrics{
		RecordRequestTotal:   func(context.Context, string) {},
		RecordRequestLatency: func(context.Context, string, float64) {},
	}
	wh, err := webhook.NewFromInterface(client, auds, retry, reviewTimeout, noRecord)
	if err != nil {
		return nil, fmt.Errorf("create token reviewer: %w", err)
	}
	ns, name, _ := strings.Cut(cfg.ServiceAccount, "/")
	return &NodeTokens{authn: cache.New(wh, false, reviewSuccessTTL, reviewFailureTTL), audiences: auds, namespace: ns, name: name}, nil
}

// errReview wraps a failure to ask the API server, which the agent should
// retry, unlike a refusal.
var errReview = errors.New("review token")

// node returns the node token is bound to, or the reason it is refused.
func (n *NodeTokens) node(ctx context.Context, token string) (node, reason string, err error) {
	// The audience travels in the context: the reviewer asks the API server
	// to check the token against it, and refuses an answer for another.
	resp, ok, err := n.authn.AuthenticateToken(authenticator.WithAudiences(ctx, n.audiences), token)
	switch {
	case err != nil && !ok && isReviewError(err):
		return "", reasonReviewFailed, fmt.Errorf("%w with the API server: %v", errReview, err)
	case !ok:
		return "", reasonInvalid, errInvalid
	}
	u := resp.User
	if !serviceaccount.MatchesUsername(n.namespace, n.name, u.GetName()) {
		return "", reasonWrongAccount, fmt.Errorf("token of %s, not of the agents' ServiceAccount %s/%s", u.GetName(), n.namespace, n.name)
	}
	nodes := u.GetExtra()[serviceaccount.NodeNameKey]
	if len(nodes) != 1 || nodes[0] == "" {
		return "", reasonUnbound, fmt.Errorf("token of %s is bound to no node: mount a projected ServiceAccount token (audience %s) in the agent's pod", u.GetName(), n.audiences[0])
	}
	return nodes[0], "", nil
}

// isReviewError tells a failed request to the API server from a token it
// refused. The webhook authenticator returns both as errors: a refusal's
// message (the review's status.error) as a plain one, a failed request as
// the client's error: the API's status (forbidden to review, unavailable),
// a transport error, or the context's end.
func isReviewError(err error) bool {
	var status apierrors.APIStatus
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &status) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}
