package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// credentials are the secrets one cluster's components share, all made
// fresh in its directory at start.
type credentials struct {
	adminToken, nodeToken, proxyToken string
	tokenFile                         string // kube-apiserver --token-auth-file
	saKey, saPub                      string // service-account signing key pair (PEM)
	// The kubelet trusts kubeletCA for client certificates; the API server
	// presents kubeletClientCert (and its key) when it calls the kubelet
	// for logs, exec and port-forward.
	kubeletCA, kubeletClientCert, kubeletClientKey string
	// The API server's front proxy presents proxyClientCert (signed by
	// frontProxyCA) to aggregated API servers, which take the caller's
	// name from its headers.
	frontProxyCA, proxyClientCert, proxyClientKey string
}

// newCredentials writes static bearer tokens for the admin (system:masters),
// for the node's kubelet (system:node:<node> in system:nodes, which the
// Node authorizer requires) and for kube-proxy (system:kube-proxy, which the
// bootstrap binding system:node-proxier names), an RSA key pair that signs
// service-account tokens, and the kubelet's client CA with the API server's
// client certificate.
func newCredentials(dir, node string) (*credentials, error) {
	c := &credentials{tokenFile: filepath.Join(dir, "tokens.csv"), saKey: filepath.Join(dir, "sa.key"), saPub: filepath.Join(dir, "sa.pub")}
	var err error
	if c.adminToken, err = randomToken(); err != nil {
		return nil, err
	}
	if c.nodeToken, err = randomToken(); err != nil {
		return nil, err
	}
	if c.proxyToken, err = randomToken(); err != nil {
		return nil, err
	}
	// The format is token,user,uid,"group1,group2".
	tokens := fmt.Sprintf("%s,admin,admin,\"system:masters\"\n%s,system:node:%s,node-%s,\"system:nodes\"\n%s,system:kube-proxy,kube-proxy\n",
		c.adminToken, c.nodeToken, node, node, c.proxyToken)
	if err := os.WriteFile(c.tokenFile, []byte(tokens), 0o600); err != nil {
		return nil, fmt.Errorf("write token file: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate service-account key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode service-account public key: %w", err)
	}
	if err := os.WriteFile(c.saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return nil, fmt.Errorf("write service-account key: %w", err)
	}
	if err := os.WriteFile(c.saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return nil, fmt.Errorf("write service-account public key: %w", err)
	}
	if err := c.writeKubeletClientCerts(dir); err != nil {
		return nil, err
	}
	if err := c.writeFrontProxyCerts(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// writeKubeletClientCerts makes a CA for the kubelet's client
// authentication and a certificate it signs for the API server, as kubeadm
// does (apiserver-kubelet-client): without it the kubelet, which takes no
// anonymous requests, refuses the API server's calls for logs and
// port-forward.
func (c *credentials) writeKubeletClientCerts(dir string) error {
	c.kubeletCA = filepath.Join(dir, "kubelet-client-ca.crt")
	c.kubeletClientCert = filepath.Join(dir, "apiserver-kubelet-client.crt")
	c.kubeletClientKey = filepath.Join(dir, "apiserver-kubelet-client.key")
	// The kubelet authorizes every authenticated caller (AlwaysAllow);
	// the name says who calls.
	return writeClientCA("graceline kubelet client CA", pkix.Name{CommonName: "kube-apiserver-kubelet-client", Organization: []string{"system:masters"}},
		c.kubeletCA, c.kubeletClientCert, c.kubeletClientKey)
}

// frontProxyClient is the name of the API server's front-proxy client
// certificate, the only one aggregated API servers take users' names
// from (--requestheader-allowed-names).
const frontProxyClient = "front-proxy-client"

// writeFrontProxyCerts makes the front proxy's CA and the client
// certificate the API server presents to aggregated API servers, as
// kubeadm does (front-proxy-ca, front-proxy-client).
func (c *credentials) writeFrontProxyCerts(dir string) error {
	c.frontProxyCA = filepath.Join(dir, "front-proxy-ca.crt")
	c.proxyClientCert = filepath.Join(dir, "front-proxy-client.crt")
	c.proxyClientKey = filepath.Join(dir, "front-proxy-client.key")
	return writeClientCA("graceline front proxy CA", pkix.Name{CommonName: frontProxyClient}, c.frontProxyCA, c.proxyClientCert, c.proxyClientKey)
}

// writeClientCA writes a new CA at caPath and a client certificate for
// subject that it signs, with its key.
func writeClientCA(caName string, subject pkix.Name, caPath, certPath, keyPath string) error {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate %s key: %w", caName, err)
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sign %s: %w", caName, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generate %s's key: %w", subject.CommonName, err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      subject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return fmt.Errorf("sign %s's certificate: %w", subject.CommonName, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encode %s's key: %w", subject.CommonName, err)
	}
	for _, f := range []struct {
		path, typ string
		der       []byte
		mode      os.FileMode
	}{
		{caPath, "CERTIFICATE", caDER, 0o644},
		{certPath, "CERTIFICATE", leafDER, 0o644},
		{keyPath, "EC PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// writeKubeconfig writes a kubeconfig for server that trusts caFile and
// authenticates with a bearer token.
func writeKubeconfig(path, server, caFile, user, token string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["graceline"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["graceline"] = &clientcmdapi.Context{Cluster: "graceline", AuthInfo: user}
	cfg.CurrentContext = "graceline"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return nil
}
