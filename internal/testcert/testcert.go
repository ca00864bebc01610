// Package testcert makes self-signed TLS certificates for tests that serve
// HTTPS on loopback, such as a gomirror that clients must authenticate to
// (the go command sends credentials only over HTTPS).
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// Cert is a self-signed certificate (its own CA).
type Cert struct {
	CertFile, KeyFile string         // PEM files; CertFile is also the CA to trust
	Pool              *x509.CertPool // a pool holding the certificate
}

// New writes a fresh certificate for 127.0.0.1, ::1, localhost and the
// extra DNS names given, and its key, into a temporary directory.
func New(t testing.TB, names ...string) *Cert {
	t.Helper()
	return NewFor(t, append([]string{"127.0.0.1", "::1", "localhost"}, names...)...)
}

// NewFor is New for the given hosts: IP addresses or DNS names.
func NewFor(t testing.TB, hosts ...string) *Cert {
	t.Helper()
	var (
		ips   []net.IP
		names []string
	)
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			names = append(names, h)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "gomirror test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           ips,
		DNSNames:              names,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c := &Cert{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Pool: x509.NewCertPool()}
	if err := os.WriteFile(c.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	c.Pool.AddCert(cert)
	return c
}

// ClientConfig returns a TLS client configuration that trusts c.
func (c *Cert) ClientConfig() *tls.Config { return &tls.Config{RootCAs: c.Pool} }
