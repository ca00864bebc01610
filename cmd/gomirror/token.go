package main

import (
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/gomirror/gomirror/auth"
)

// newToken returns `gomirror token`: add, list and revoke client tokens.
func newToken() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage the tokens that clients authenticate with",
		Long: `Manage the tokens that clients authenticate with.

A token is a random secret that is shown once, when it is added; the tokens
file keeps only its SHA-256 hash. A running server picks up changes to the
file within about a second.

The go command sends a token to the mirror over HTTPS, from a .netrc line

	machine <mirror host[:port]> login NAME password TOKEN

or from a GOAUTH command printing "Authorization: Bearer TOKEN".`,
		Args: cobra.NoArgs,
	}
	cmd.PersistentFlags().StringVar(&file, "tokens-file", "", "tokens file (env GOMIRROR_TOKENS_FILE)")
	store := func() (*auth.Tokens, error) {
		path := file
		if path == "" {
			path = os.Getenv("GOMIRROR_TOKENS_FILE")
		}
		if path == "" {
			return nil, errors.New("no tokens file: give --tokens-file FILE or set GOMIRROR_TOKENS_FILE")
		}
		return auth.NewTokens(path), nil
	}

	var role string
	add := &cobra.Command{
		Use:   "add NAME",
		Short: "Add a token and print its secret (shown only this once)",
		Long: `Add a token named NAME (1-64 letters, digits, '.', '_' or '-') and print its
secret on standard output, once: it cannot be shown again. How to use it goes
to standard error.

--role client (the default) makes a token that reads modules; --role admin
one that reaches the operator endpoints (/metrics, /upstreams, /debug/pprof/) and nothing
else: give that one to your metrics scraper.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			r, err := auth.ParseRole(role)
			if err != nil {
				return err
			}
			name := args[0]
			secret, err := s.AddRole(name, r)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), secret)
			if r == auth.RoleAdmin {
				fmt.Fprintf(cmd.ErrOrStderr(), `Admin token %q added to %s. Its secret, above, is shown only this once.
It opens the operator endpoints (/metrics, /upstreams, /debug/pprof/), not modules. Send it as
	Authorization: Bearer <token>
(Prometheus: authorization: {credentials: <token>}) or as Basic %s:<token>.
`, name, s.Path(), name)
				return nil
			}
			fmt.Fprintf(cmd.ErrOrStderr(), `Token %q added to %s. Its secret, above, is shown only this once.
Clients use it in .netrc:
	machine <mirror host[:port]> login %s password <token>
or with a GOAUTH command printing "Authorization: Bearer <token>".
`, name, s.Path(), name)
			return nil
		},
	}
	add.Flags().StringVar(&role, "role", string(auth.RoleClient), "client (reads modules) or admin (operator endpoints only)")
	cmd.AddCommand(add)

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List the tokens' names, roles and creation times",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			list, err := s.List()
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tROLE\tCREATED")
			for _, t := range list {
				created := "-"
				if !t.Created.IsZero() {
					created = t.Created.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", t.Name, t.Role, created)
			}
			return tw.Flush()
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "revoke NAME",
		Short: "Remove a token; clients using it are refused from then on",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := store()
			if err != nil {
				return err
			}
			if err := s.Revoke(args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Token %q revoked.\n", args[0])
			return nil
		},
	})
	return cmd
}
