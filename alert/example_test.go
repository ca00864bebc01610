package alert_test

import (
	"context"
	"log/slog"
	"time"

	"github.com/gomirror/gomirror/alert"
	"github.com/gomirror/gomirror/audit"
)

// How a server wires an Engine: rules and notifiers from its
// configuration, the database as history, polled sources as funcs, the
// inputs called where things happen.
func Example() {
	var (
		rules     []alert.Rule     // config: alerts
		notifiers []alert.Notifier // config: notifiers
		history   alert.History    // the database (*db.DB), or nil
	)
	e, err := alert.New(alert.Options{
		Rules: rules, Notifiers: notifiers, History: history,
		Upstreams: func() []alert.UpstreamState { return nil }, // from the upstream groups' states
		Storage:   func() (used, total int64, err error) { return 0, 1, nil },
		Log:       slog.Default(),
		Instance:  "mirror-1",
	})
	if err != nil {
		return // a configuration error: names the rule or notifier and field
	}
	ctx, stop := context.WithCancel(context.Background())
	go e.Run(ctx)

	e.Observe(audit.Record{Time: time.Now(), Remote: "10.0.0.7", Kind: audit.KindLatest, Status: 200}) // each audited request
	e.Mismatch("example.com/m", "v1.0.0", "zip")                                                       // a checksum mismatch
	e.SumDB(nil)                                                                                       // after each checksum-database call
	_ = e.Alerts()                                                                                     // GET /api/v1/alerts

	stop()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e.Close(shutdown) // sends what is queued, within the deadline
}
