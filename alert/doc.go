// Package alert evaluates alert rules in-process and tells people: the
// `alerts:` and `notifiers:` settings (YAML only).
//
// # Inputs
//
// An Engine counts what the server reports: every audited request
// (Engine.Observe, on the request path: constant work, no waiting on
// anything but a counter's mutex), every checksum mismatch
// (Engine.Mismatch) and the outcome of every checksum-database call
// (Engine.SumDB). Upstream health and storage usage are polled, once per
// evaluation, through Options.Upstreams and Options.Storage. Memory is
// bounded whatever clients do: a client-rate rule counts at most
// Options.MaxKeys clients on their own at once (10,000; an anonymous IPv6
// client by its /64; the requests of further clients are counted together
// under the key OtherClients, Engine.Dropped says how many, and a warning
// is logged), in 12 slices of its window each, and forgets a client whose
// window is empty.
//
// # Evaluation and state
//
// Engine.Run evaluates every rule every Options.Interval (15s). For each
// rule and key (a client, an upstream or group, or "" for the whole
// mirror) an alert is pending while its condition has held for less than
// the rule's `for`, firing once it has (a notification), re-sent every
// `repeat` while it keeps firing, and resolved when the condition no
// longer holds (a "resolved" notification unless `resolve: false`). A
// pending alert whose condition ends is forgotten without a word. A
// resolved alert stays in Engine.Alerts for an hour. The History
// (the database) gets one event when an alert fires and one when it
// resolves. Counting windows are sliding, cut into 12 slices: a count
// covers between 11/12 of the window and all of it.
//
// # Notifications
//
// Each notifier has its own goroutine and queue (256 messages; more are
// dropped and logged), so a slow or failing notifier delays no other and
// never the evaluation. Each attempt is bounded by the notifier's
// `timeout` (10s); a failure is retried `retries` times (2) after 2s, 4s,
// ..., except when the receiver rejected the message (a 4xx but 429, or a
// robot's error code), and then logged. Messages are in English with a
// Chinese line. Errors and logs never show a secret: the vendors' robot
// URLs (their tokens), signing secrets and SMTP passwords are read from
// the files or environment variables that the *-file and *-env settings
// name, once, when the Engine is made.
//
// # Rules (`alerts:`)
//
// Every rule has a unique `name` and a `kind`, and optionally `for`
// (default 0: fire at the first evaluation that finds the condition),
// `repeat` (default 0: notify once; at least 1m), `resolve` (default
// true) and `notifiers` (names; default all). The kinds:
//
//   - client-rate: one client sent more than `threshold` requests within
//     `window` (default 1h); `request-kind` (list, latest, info, mod,
//     zip, sumdb) counts only requests of that kind. The client is its
//     token name when it has one, else its address (after
//     trusted-proxies; an IPv6 address by its /64); each client is its
//     own alert.
//   - checksum-mismatch: at least `threshold` (default 1) checksum
//     mismatches within `window` (default 1h): fires on the first one and
//     resolves when the window holds none.
//   - upstream-down: an upstream (`upstream` names it; empty watches each
//     upstream), or every mirror of the group `upstream` names, has been
//     failing for at least `window` (default 5m).
//   - upstream-lag: a mirror of a group keeps lagging: its lag rate
//     (the /upstreams lag_rate: each comparison of its list or @latest
//     answer with a peer's moves it a fifth of the way towards 1 when
//     it lacked versions the peer had and the checksum database
//     confirmed, towards 0 when it had them all; it halves every
//     lag-half-life without new lags) has reached `threshold` (default
//     0.5, about four lags in a row; one lag is 0.2), held for `for`.
//     Each mirror is its own alert, keyed by its URL without
//     credentials; `upstream` narrows the rule to one mirror (its URL)
//     or the mirrors of one group. The text names the group, the mirror,
//     the lag rate and the module and missing versions (at most 5, and
//     how many more) of its last lag; it resolves when the rate falls
//     below the threshold. No `window`: the rate already spans time.
//     A mirror scored so far down that it is no longer compared (in a
//     group of three or more) stops adding lags, so its rate decays and
//     the alert resolves while it may still lag.
//   - sumdb-unreachable: the last `threshold` (default 1) calls to the
//     checksum database failed, the first of them at least `window`
//     (default 0) ago; resolves at the next call that succeeds.
//   - storage-usage: storage is more than `threshold` percent full.
//   - error-rate: more than `threshold` percent of the requests within
//     `window` (default 5m) were answered with a 5xx status, counted only
//     from `min-requests` (default 20) requests in the window.
//
// # Notifiers (`notifiers:`)
//
// Every notifier has a unique `name`, a `type`, and optionally `timeout`
// and `retries`. The types:
//
//   - webhook: a JSON POST of Payload to `url` (or `url-file`,
//     `url-env`), with the `headers` given and those of `headers-file`
//     (one "Name: value" a line, for credentials). With `secret-file` or
//     `secret-env`, it carries X-Gomirror-Timestamp (Unix seconds) and
//     X-Gomirror-Signature: "sha256=" and the hex HMAC-SHA256, keyed with
//     the secret, of the timestamp, ".", and the body (WebhookSignature).
//     The body:
//     {"version":1,"source":"gomirror","instance":"mirror-1",
//     "rule":"latest-abuse","kind":"client-rate","key":"10.0.0.7",
//     "state":"firing","repeat":false,"value":312,"threshold":200,
//     "since":"2026-11-28T10:00:00Z","time":"2026-11-28T10:01:00Z",
//     "title":"[FIRING] gomirror alert latest-abuse: 10.0.0.7",
//     "text":"client 10.0.0.7 sent 312 latest requests ...",
//     "text_zh":"客户端 10.0.0.7 ..."}
//     (state is firing or resolved; key, instance and text_zh are left
//     out when empty).
//   - slack: a Slack incoming webhook (`url-file` or `url-env`).
//   - dingtalk: a DingTalk custom robot (`url-file` or `url-env`: the
//     robot's address with its access_token), markdown; with the robot's
//     signing secret (加签, `secret-file` or `secret-env`) each request is
//     signed (timestamp and sign parameters).
//   - wecom: a WeCom (企业微信) group robot (`url-file` or `url-env`),
//     markdown.
//   - feishu: a Feishu/Lark custom bot (`url-file` or `url-env`), text;
//     with its signing secret (签名校验, `secret-file` or `secret-env`)
//     each request carries timestamp and sign.
//   - email: over SMTP to `smtp` (host:port), from `from` to the list
//     `to`; `tls: starttls` (the default: STARTTLS when the server offers
//     it, and required to authenticate) or `tls: implicit` (TLS from the
//     first byte, usually port 465); `username` with `password-file` or
//     `password-env` authenticates (AUTH PLAIN, only over TLS).
//
// The robots' URLs hold their tokens, so they are never given inline;
// only a generic webhook's `url` may be.
//
// # Example
//
//	alerts:
//	  - name: latest-abuse           # one client over 200 @latest per hour
//	    kind: client-rate
//	    request-kind: latest
//	    threshold: 200
//	    window: 1h
//	    repeat: 6h                   # remind every 6 hours while it lasts
//	    notifiers: [ops-dingtalk]
//	  - name: checksum-mismatch      # fires on the first mismatch
//	    kind: checksum-mismatch
//	  - name: upstream-down          # every mirror of group "cn" failing for 10 minutes
//	    kind: upstream-down
//	    upstream: cn
//	    window: 10m
//	  - name: mirror-lagging         # a mirror of group "cn" whose list keeps lacking versions its peers have
//	    kind: upstream-lag
//	    upstream: cn
//	    threshold: 0.5               # lag rate, 0 to 1 (one lag: 0.2; four in a row: 0.59)
//	    for: 10m
//	    notifiers: [ops-dingtalk, ops-wecom]
//	  - name: sumdb-unreachable
//	    kind: sumdb-unreachable
//	    threshold: 3                 # three failed calls in a row
//	    window: 5m                   # the first of them at least 5 minutes ago
//	  - name: disk-full
//	    kind: storage-usage
//	    threshold: 90                # percent
//	    for: 30m
//	  - name: errors
//	    kind: error-rate
//	    threshold: 5                 # percent of requests answered 5xx
//	    window: 5m
//	    min-requests: 50
//	    resolve: false               # no "resolved" message
//
//	notifiers:
//	  - name: ops-webhook
//	    type: webhook
//	    url: https://alerts.corp.example/gomirror
//	    secret-file: /etc/gomirror/webhook-secret
//	    headers: {X-Team: infra}
//	    headers-file: /etc/gomirror/webhook-headers   # "Authorization: Bearer ..."
//	  - name: ops-slack
//	    type: slack
//	    url-env: GOMIRROR_SLACK_URL
//	  - name: ops-dingtalk
//	    type: dingtalk
//	    url-file: /etc/gomirror/dingtalk-url
//	    secret-file: /etc/gomirror/dingtalk-secret
//	  - name: ops-wecom
//	    type: wecom
//	    url-file: /etc/gomirror/wecom-url
//	  - name: ops-feishu
//	    type: feishu
//	    url-file: /etc/gomirror/feishu-url
//	    secret-env: GOMIRROR_FEISHU_SECRET
//	  - name: ops-mail
//	    type: email
//	    smtp: smtp.corp.example:587
//	    username: gomirror@corp.example
//	    password-file: /etc/gomirror/smtp-password
//	    from: gomirror@corp.example
//	    to: [ops@corp.example]
package alert
