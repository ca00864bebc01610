package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/gomirror/gomirror/bundle"
	"github.com/gomirror/gomirror/client/golist"
	"github.com/gomirror/gomirror/config"
	"github.com/gomirror/gomirror/internal/atomicfile"
	"github.com/gomirror/gomirror/internal/wire"
	"github.com/gomirror/gomirror/server"
	"github.com/gomirror/gomirror/snapshot"
	"github.com/gomirror/gomirror/sumdb"
)

// newBundle returns `gomirror bundle export|import`.
func newBundle() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Carry module versions across an air gap: export a bundle, import it into another mirror",
	}
	cmd.AddCommand(newBundleExport(), newBundleImport(), newBundleKeygen())
	return cmd
}

// newBundleKeygen returns `gomirror bundle keygen NAME`.
func newBundleKeygen() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "keygen NAME",
		Short: "Make a key pair to sign bundles: write the signer key to a file, print the verifier key",
		Long: `Generate a golang.org/x/mod/sumdb/note key pair named NAME. The signer
(private) key is written to FILE (-o, default NAME.key; mode 0600, never
overwritten), for bundle export --sign-key FILE. The verifier (public) key
is printed, for bundle import --trust KEY on the mirrors that import.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd, errors.New("give the key's name"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			skey, vkey, err := note.GenerateKey(rand.Reader, args[0])
			if err != nil {
				return usageError(cmd, err)
			}
			if out == "" {
				out = args[0] + ".key"
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(f, skey)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote the signer key to %s (keep it secret); the verifier key:\n", out)
			fmt.Fprintln(cmd.OutOrStdout(), vkey)
			return nil
		},
	}
	cmd.SetFlagErrorFunc(usageError)
	cmd.Flags().StringVarP(&out, "output", "o", "", "the signer key file to write (default NAME.key)")
	return cmd
}

// importError is bundle import's error for Import's err: exit status 3
// for a verified bundle partly stored, 1 otherwise (a *bundle.RefusedError
// when a check failed).
func importError(err error) error {
	if errors.As(err, new(*bundle.PartlyStoredError)) {
		return &exitCodeError{code: 3, err: err}
	}
	return err
}

// readSigner reads a signer key file written by bundle keygen.
func readSigner(file string) (note.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a signer key (bundle keygen writes one)", file)
	}
	return s, nil
}

// bundleConfig loads serve's settings for a bundle command, with the
// configured checksum database (nil when off) and the test of a path
// exempt from it.
func bundleConfig(cmd *cobra.Command, configFile string) (*config.Serve, *sumdb.DB, func(string) bool, error) {
	if configFile == "" {
		configFile = os.Getenv("GOMIRROR_CONFIG")
	}
	cfg, err := config.LoadServe(config.Sources{File: configFile, Env: os.LookupEnv, Flags: cmd.Flags()}, goEnv(cmd.Context()))
	if err != nil {
		return nil, nil, nil, err
	}
	exempt, err := cfg.NoSumDBPatterns()
	if err != nil {
		return nil, nil, nil, &config.Error{Key: "nosumdb", Source: "startup", Err: err}
	}
	if strings.TrimSpace(cfg.SumDB) == "off" {
		return cfg, nil, exempt.Match, nil
	}
	db, err := sumdb.Parse(cfg.SumDB)
	if err != nil {
		return nil, nil, nil, &config.Error{Key: "sumdb", Source: "sumdb", Err: err}
	}
	return cfg, db, exempt.Match, nil
}

func newBundleExport() *cobra.Command {
	defaults := config.Defaults()
	var (
		configFile, out, snap, signKey string
		from                           []string
	)
	cmd := &cobra.Command{
		Use:   "export (--snapshot NAME | --from DIR|go.mod|go.sum ... | module@version ...) -o FILE",
		Short: "Write a bundle: module versions and the checksum database data that proves them",
		Long: `Write one file (a tar compressed with zstd) holding the .info, .mod and
.zip of module versions as stored, a manifest with every file's hash, and
the checksum database records, tiles and signed tree head that a go command
needs to verify them with no network.

The versions are a snapshot's (--snapshot), or the module graph of go.mod
files, directories or go.sum files (--from, repeatable) or of module@version
arguments, resolved as snapshot create does. It takes the same settings as
serve (--config, GOMIRROR_* variables, flags) and opens the storage directly;
what the storage lacks is fetched and verified through an in-process mirror
with those settings. Each .mod and .zip written is checked against its
checksum database record (an exempt module's against its stored hash).

With --sign-key FILE (a signer key file from bundle keygen) the manifest
is signed: an importer trusting the key (import --trust) accepts the
modules it cannot check against the checksum database (exempt there:
nosumdb, private, or sumdb off); without it, they are refused.

The file is written with mode 0644 less the umask.`,
		Args: func(cmd *cobra.Command, args []string) error {
			n := 0
			for _, set := range []bool{snap != "", len(from) > 0, len(args) > 0} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usageError(cmd, errors.New("give one of --snapshot NAME, --from ..., or module@version arguments"))
			}
			if out == "" {
				return usageError(cmd, errors.New("give the bundle file with -o FILE"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, db, exempt, err := bundleConfig(cmd, configFile)
			if err != nil {
				return usageError(cmd, err)
			}
			var signer note.Signer
			if signKey != "" {
				if signer, err = readSigner(signKey); err != nil {
					return usageError(cmd, err)
				}
			}
			var srcs []snapshot.Source
			if snap == "" {
				if srcs, _, err = snapshot.ParseSources(from, args); err != nil {
					return usageError(cmd, err)
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			lcfg := inProcessConfig(cmd, cfg)
			lb, err := server.StartLoopback(ctx, lcfg, server.NewLogger(cmd.ErrOrStderr(), lcfg))
			if err != nil {
				return err
			}
			defer lb.Close()
			store := lb.Storage()

			var entries []snapshot.Entry
			if snap != "" {
				m, err := snapshot.Get(ctx, store, snap)
				if err != nil {
					return err
				}
				entries = m.Modules
			} else {
				r := &snapshot.Resolver{Mirror: lb.URL, Go: golist.GoCommand{}, Warn: cmd.ErrOrStderr()}
				if entries, err = r.Resolve(ctx, srcs); err != nil {
					return err
				}
			}
			mods := make([]bundle.Module, len(entries))
			for i, e := range entries {
				mods[i] = bundle.Module{Path: e.Path, Version: e.Version, ModOnly: e.Hash == ""}
			}

			// Written next to FILE, renamed into place when complete.
			var rep *bundle.ExportReport
			err = atomicfile.Write(out, 0o644, func(w io.Writer) error {
				var err error
				rep, err = bundle.Export(ctx, w, mods, bundle.ExportOptions{
					Storage: store, Fetch: bundle.MirrorFetcher{URL: lb.URL}, DB: db, Exempt: exempt, Signer: signer,
				})
				return err
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %s: %d module versions, %d artifacts, %d checksum database files, %d bytes before compression\n",
				out, rep.Modules, rep.Artifacts, rep.SumDBFiles, rep.Bytes)
			if rep.Exempt > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "%d module versions without checksum database records (exempt: nosumdb, private, or sumdb off)\n", rep.Exempt)
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(usageError)
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as for serve (env GOMIRROR_CONFIG)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "the bundle file to write")
	cmd.Flags().StringVar(&snap, "snapshot", "", "export the versions of this snapshot")
	cmd.Flags().StringArrayVar(&from, "from", nil, "a directory, go.mod or go.sum whose module graph to export (repeatable; added to setting bundle-trust)")
	cmd.Flags().StringVar(&signKey, "sign-key", "", "sign the manifest with the signer key in this file (bundle keygen)")
	config.RegisterFlags(cmd.Flags(), &defaults)
	return cmd
}

func newBundleImport() *cobra.Command {
	defaults := config.Defaults()
	var (
		configFile string
		asJSON     bool
		trust      []string
		maxBytes   string
		maxEntries int
	)
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Verify a bundle whole, then store what the storage lacks",
		Long: `Read a bundle written by bundle export and check all of it before storing
anything: every file against the manifest's hash, every .zip and .mod against
the bundle's checksum database records, the records' inclusion in the signed
tree heads through the tiles, and the tree heads' signatures against the
configured checksum database key (setting sumdb). Modules exempt from the
database here (nosumdb, private, or sumdb off) can be checked against the
manifest's hash only, and the manifest is inside the bundle: they are
accepted (and listed) only if the manifest is signed by a key given with
--trust (a verifier key printed by bundle keygen; repeatable) or setting
bundle-trust. A bundle
failing any check is refused whole: nothing is stored, and the exit
status is 1. Entries are staged on disk (in the storage's temporary
directory for fs) while they are checked; --max-bytes and --max-entries
bound a bundle (the first entry beyond them, or failing a check, stops
the import).

Then each file the storage lacks is stored atomically (fs or s3, as serve's
settings say), per module version the .zip, then the .mod, then the .info;
importing again adds nothing. A file the storage holds with other contents
than the verified bundle's (damaged) is replaced atomically and reported
as repaired. It prints what it added,

	added A artifacts (P already present), D checksum database files (Q already present)
	repaired KEY: ...

or, with --json, one JSON object. If storing fails after every check
passed, the exit status is 3 ("verified, partly stored: run the import
again"): what was stored is whole, and importing again completes it.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd, errors.New("give one bundle file"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, db, exempt, err := bundleConfig(cmd, configFile)
			if err != nil {
				return usageError(cmd, err)
			}
			var lim bundle.Limits
			lim.MaxEntries = maxEntries
			if maxBytes != "" {
				n, err := humanize.ParseBytes(maxBytes)
				if err != nil || n == 0 || n > math.MaxInt64 {
					return usageError(cmd, fmt.Errorf("--max-bytes %q: not a positive size", maxBytes))
				}
				lim.MaxBytes = int64(n)
			}
			var trusted []note.Verifier
			for _, k := range append(cfg.BundleTrustKeys(), trust...) {
				v, err := note.NewVerifier(strings.TrimSpace(k))
				if err != nil {
					return usageError(cmd, fmt.Errorf("--trust %q: not a verifier key (bundle keygen prints one)", k))
				}
				trusted = append(trusted, v)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			store, err := wire.OpenStorage(ctx, cfg)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := bundle.Import(ctx, f, bundle.ImportOptions{Storage: store, DB: db, Exempt: exempt, Trusted: trusted, Limits: lim})
			if err != nil {
				return importError(err)
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			fmt.Fprintf(w, "added %d artifacts (%d already present), %d checksum database files (%d already present) for %d module versions\n",
				rep.Added, rep.Present, rep.SumDBAdded, rep.SumDBPresent, rep.Modules)
			for _, k := range rep.RepairedKeys {
				fmt.Fprintf(w, "repaired %s: the storage held other contents than the verified bundle's\n", k)
			}
			for _, m := range rep.HashOnly {
				fmt.Fprintf(w, "hash only %s: exempt from the checksum database here, checked against the bundle's manifest, signed by %s\n", m, rep.SignedBy)
			}
			return nil
		},
	}
	cmd.SetFlagErrorFunc(usageError)
	cmd.Flags().StringVar(&configFile, "config", "", "YAML config file, as for serve (env GOMIRROR_CONFIG)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as one JSON object")
	cmd.Flags().StringVar(&maxBytes, "max-bytes", "", "refuse a bundle of more uncompressed bytes, e.g. 20GiB (default: the free space of the staging directory less a margin, at most 64GiB)")
	cmd.Flags().IntVar(&maxEntries, "max-entries", 0, "refuse a bundle of more entries (default 200000)")
	cmd.Flags().StringArrayVar(&trust, "trust", nil, "a verifier key whose signature of a bundle's manifest is trusted for modules exempt from the checksum database (repeatable; added to setting bundle-trust)")
	config.RegisterFlags(cmd.Flags(), &defaults)
	return cmd
}
