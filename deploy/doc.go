// Package deploy holds gomirror's deployment artifacts and the tests that
// keep them honest without a container engine or a Kubernetes cluster:
//
//   - Dockerfile (and Dockerfile.dockerignore): the container image;
//   - compose/: two replicas on MinIO and Redis behind nginx;
//   - helm/gomirror/: a Helm chart;
//   - systemd/: a hardened unit and an example config.
//
// The tests parse every artifact (Dockerfile instructions, compose YAML,
// nginx.conf, Helm templates, the systemd unit), check the properties the
// deployment depends on, and check every setting name the artifacts use
// (GOMIRROR_* environment variables, config file keys, flags) against
// config.Serve, so that they cannot drift from the binary. docs/HA.md
// describes the high-availability setup they implement.
//
// The package has no Go code besides its tests.
package deploy
