// Package deploy holds gomirror's deployment artifacts and the tests that
// keep them honest without a container engine or a Kubernetes cluster:
//
//   - Dockerfile (and Dockerfile.dockerignore): the container image;
//   - compose/: two replicas on MinIO and Redis behind nginx;
//   - helm/gomirror/: a Helm chart;
//   - systemd/: a hardened unit and an example config;
//   - prometheus/: recording and alerting rules, with promtool unit tests;
//   - grafana/: a dashboard.
//
// The tests parse every artifact (Dockerfile instructions, compose YAML,
// nginx.conf, Helm templates, the systemd unit), check the properties the
// deployment depends on, and check every setting name the artifacts use
// (GOMIRROR_* environment variables, config file keys, flags) against
// config.Serve, so that they cannot drift from the binary. Every metric
// that a Prometheus rule or a dashboard query names is checked against
// the /metrics of a real gomirror. docs/HA.md
// describes the high-availability setup they implement.
//
// The package has no Go code besides its tests.
package deploy
