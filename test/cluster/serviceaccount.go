package cluster

import (
	"context"
	"fmt"
	"os"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

// CollectorRBAC is the deployment's RBAC for graceline-collector, relative
// to the repository's root. The tests and the demo apply it as it is, so
// that they prove those rights are enough.
const CollectorRBAC = "deploy/kustomize/base/collector-rbac.yaml"

// TestbedNamespace holds the ServiceAccount ApplyRBAC creates.
const TestbedNamespace = "graceline-testbed"

// testbedPrefix starts the names of the RBAC objects ApplyRBAC creates.
const testbedPrefix = "testbed-"

// testbedLabels replace the file's labels on what ApplyRBAC creates: an
// uninstall's check for graceline's leftovers must not count them.
var testbedLabels = map[string]string{"app.kubernetes.io/part-of": "graceline-testbed"}

// ApplyRBAC applies a file of ClusterRoles and ClusterRoleBindings, and
// creates the ServiceAccount they bind (and its namespace). It returns that
// ServiceAccount's namespace and name. The rights are the file's, but every
// object is the test bed's own: names prefixed with testbedPrefix, the
// ServiceAccount in namespace TestbedNamespace, labelled part of the test
// bed. A graceline installed in the cluster (kustomize or Helm) then owns
// its objects of the same names alone, and its uninstall takes nothing from
// the test bed's host collector.
func (c *Cluster) ApplyRBAC(ctx context.Context, file string) (namespace, name string, err error) {
	cs, err := c.Client()
	if err != nil {
		return "", "", err
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", "", err
	}
	for _, doc := range strings.Split(string(raw), "\n---") {
		b, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			return "", "", fmt.Errorf("read %s: %w", file, err)
		}
		if string(b) == "null" {
			continue
		}
		obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(b, nil, nil)
		if err != nil {
			return "", "", fmt.Errorf("decode %s: %w", file, err)
		}
		switch o := obj.(type) {
		case *rbacv1.ClusterRole:
			o.Name, o.Labels = testbedPrefix+o.Name, testbedLabels
			if _, err := cs.RbacV1().ClusterRoles().Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return "", "", fmt.Errorf("create ClusterRole %s: %w", o.Name, err)
			}
		case *rbacv1.ClusterRoleBinding:
			o.Name, o.Labels = testbedPrefix+o.Name, testbedLabels
			if o.RoleRef.Kind == "ClusterRole" {
				o.RoleRef.Name = testbedPrefix + o.RoleRef.Name
			}
			for i, s := range o.Subjects {
				if s.Kind == "ServiceAccount" {
					o.Subjects[i].Namespace = TestbedNamespace
					namespace, name = TestbedNamespace, s.Name
				}
			}
			if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, o, metav1.CreateOptions{}); err != nil {
				return "", "", fmt.Errorf("create ClusterRoleBinding %s: %w", o.Name, err)
			}
		default:
			return "", "", fmt.Errorf("%s holds a %T, not cluster RBAC", file, obj)
		}
	}
	if name == "" {
		return "", "", fmt.Errorf("%s binds no ServiceAccount", file)
	}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}, metav1.CreateOptions{}); err != nil {
		return "", "", fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	if _, err := cs.CoreV1().ServiceAccounts(namespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		return "", "", fmt.Errorf("create ServiceAccount %s/%s: %w", namespace, name, err)
	}
	return namespace, name, nil
}

// ServiceAccountKubeconfig writes a kubeconfig at path that authenticates
// as the ServiceAccount with a fresh token, as a pod of it would.
func (c *Cluster) ServiceAccountKubeconfig(ctx context.Context, namespace, name, path string) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	expiry := int64(4 * 3600)
	tr, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, name, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("request a token for %s/%s: %w", namespace, name, err)
	}
	cfg, err := clientcmd.LoadFromFile(c.Kubeconfig)
	if err != nil {
		return err
	}
	for _, ai := range cfg.AuthInfos {
		ai.Token = tr.Status.Token
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}

// GrantAuthDelegation gives the ServiceAccount what an aggregated API
// server needs, as the deployment's aggregated-api.yaml does: TokenReview
// and SubjectAccessReview (system:auth-delegator), and reading the front
// proxy's CA from kube-system/extension-apiserver-authentication.
func (c *Cluster) GrantAuthDelegation(ctx context.Context, namespace, name string) error {
	cs, err := c.Client()
	if err != nil {
		return err
	}
	subjects := []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: namespace}}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: testbedPrefix + "graceline-collector-auth-delegator", Labels: testbedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   subjects,
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, crb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create ClusterRoleBinding %s: %w", crb.Name, err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: testbedPrefix + "graceline-collector-auth-reader", Namespace: "kube-system", Labels: testbedLabels},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "extension-apiserver-authentication-reader"},
		Subjects:   subjects,
	}
	if _, err := cs.RbacV1().RoleBindings("kube-system").Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create RoleBinding %s: %w", rb.Name, err)
	}
	return nil
}
