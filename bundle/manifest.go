package bundle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/note"
)

// Format is the value of Manifest.Format that this package writes and reads.
const Format = "gomirror-bundle/1"

// ManifestName is the name of the manifest entry, the last of a bundle. No
// storage key of an artifact or a database file has this name.
const ManifestName = "bundle.json"

// SignatureName is the name of the entry that may follow the manifest: a
// note (golang.org/x/mod/sumdb/note) signed by the exporter's key whose
// text is SignatureText of the manifest's bytes. An importer that trusts
// the key accepts the modules it checks against the manifest only (exempt
// from the checksum database there).
const SignatureName = "bundle.json.sig"

// SignatureText is the text of the signature note of a manifest whose
// bytes have SHA-256 sum.
func SignatureText(sum [32]byte) string {
	return fmt.Sprintf("%s manifest sha256 %x\n", Format, sum)
}

// Manifest describes a bundle's contents.
type Manifest struct {
	Format  string    `json:"format"`
	Created time.Time `json:"created"`
	// SumDB is the name of the checksum database whose files the bundle
	// holds ("" if none: all of its modules were exempt, or the exporter
	// ran with GOSUMDB off).
	SumDB   string   `json:"sumdb,omitempty"`
	Modules []Module `json:"modules"`
	// Files lists every entry of the bundle but the manifest, in the order
	// they are written.
	Files []File `json:"files"`
}

// Module is a module version a bundle carries: its .info, .mod and .zip,
// or, with ModOnly (a requirement of which only the go.mod is read), its
// .mod and, if the exporter had it, its .info.
type Module struct {
	Path    string `json:"path"`
	Version string `json:"version"`
	ModOnly bool   `json:"modOnly,omitempty"`
	// Exempt records that the exporter did not look the module up in the
	// checksum database (its nosumdb or private settings). The importer
	// decides by its own settings, never by this.
	Exempt bool `json:"exempt,omitempty"`
}

// ModuleVersion returns m as a module.Version.
func (m Module) ModuleVersion() module.Version {
	return module.Version{Path: m.Path, Version: m.Version}
}

// File is an entry of a bundle.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // hex
}

// readManifest decodes a manifest.
func readManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest: %v", err)
	}
	if m.Format != Format {
		return nil, fmt.Errorf("manifest: format %q, want %q", m.Format, Format)
	}
	return &m, nil
}

// checkSignature verifies sig, a signature note of the manifest whose
// bytes have SHA-256 sum, against the trusted keys, and returns the name
// of the key that signed it.
func checkSignature(sig []byte, sum [32]byte, trusted []note.Verifier) (string, error) {
	n, err := note.Open(sig, note.VerifierList(trusted...))
	if err != nil {
		return "", err
	}
	if n.Text != SignatureText(sum) {
		return "", errors.New("it signs another manifest")
	}
	return n.Sigs[0].Name, nil
}
