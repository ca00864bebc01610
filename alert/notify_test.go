package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testMessage is a firing client-rate alert with a Chinese line.
var testMessage = Message{Rule: "latest-abuse", Kind: KindClientRate, Key: "10.0.0.7", State: StateFiring,
	Value: 312, Threshold: 200, Since: t0, Time: t0.Add(time.Minute),
	Text:   "client 10.0.0.7 sent 312 latest requests in the last 1h0m0s (threshold 200)",
	TextZH: "客户端 10.0.0.7 在最近 1h0m0s 内发出 312 个latest请求（阈值 200）", Instance: "mirror-1"}

// captured is one request a loopback receiver got.
type captured struct {
	header http.Header
	query  string // raw
	body   []byte
}

// capture starts a receiver that answers answer (status 200) and keeps
// the requests.
func capture(t *testing.T, answer string) (*httptest.Server, chan captured) {
	ch := make(chan captured, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s with Content-Type %q, want a JSON POST", r.Method, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		ch <- captured{r.Header, r.URL.RawQuery, b}
		io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	return srv, ch
}

// sender makes n's Sender with secrets from the environment map and the
// test clock.
func sender(t *testing.T, n Notifier, env map[string]string) Sender {
	t.Helper()
	if err := n.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := newSender(n, &Options{HTTPClient: http.DefaultClient, Now: func() time.Time { return t0.Add(time.Minute) },
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func send(t *testing.T, s Sender, m Message) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Send(ctx, m)
}

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	return v
}

func TestWebhookSigned(t *testing.T) {
	srv, got := capture(t, "")
	hf := filepath.Join(t.TempDir(), "headers")
	if err := os.WriteFile(hf, []byte("Authorization: Bearer abc\r\n\nX-Env: prod\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := sender(t, Notifier{Name: "w", Type: TypeWebhook, URL: srv.URL + "/hook", SecretEnv: "HOOK_SECRET",
		Headers: map[string]string{"X-Team": "infra"}, HeadersFile: hf}, map[string]string{"HOOK_SECRET": "s3cret"})
	if err := send(t, s, testMessage); err != nil {
		t.Fatal(err)
	}
	c := <-got
	if c.header.Get("Authorization") != "Bearer abc" || c.header.Get("X-Team") != "infra" || c.header.Get("X-Env") != "prod" {
		t.Errorf("custom headers missing: %v", c.header)
	}
	ts := c.header.Get(HeaderTimestamp)
	if ts != strconv.FormatInt(testMessage.Time.Unix(), 10) {
		t.Errorf("timestamp %q", ts)
	}
	mac := hmac.New(sha256.New, []byte("s3cret"))
	mac.Write([]byte(ts + "." + string(c.body)))
	if want := "sha256=" + hex.EncodeToString(mac.Sum(nil)); c.header.Get(HeaderSignature) != want {
		t.Errorf("signature %q, want %q", c.header.Get(HeaderSignature), want)
	}
	var p Payload
	if err := json.Unmarshal(c.body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Version != 1 || p.Source != "gomirror" || p.Rule != "latest-abuse" || p.Key != "10.0.0.7" || p.State != "firing" ||
		p.Value != 312 || p.Threshold != 200 || !p.Since.Equal(t0) || p.Text != testMessage.Text || p.TextZH != testMessage.TextZH ||
		p.Instance != "mirror-1" || p.Title != "[FIRING] gomirror alert latest-abuse: 10.0.0.7" {
		t.Errorf("payload %+v", p)
	}
}

func TestWebhookUnsigned(t *testing.T) {
	srv, got := capture(t, "")
	if err := send(t, sender(t, Notifier{Name: "w", Type: TypeWebhook, URL: srv.URL}, nil), testMessage); err != nil {
		t.Fatal(err)
	}
	if c := <-got; c.header.Get(HeaderSignature) != "" || c.header.Get(HeaderTimestamp) != "" {
		t.Errorf("unsigned webhook sent %v", c.header)
	}
}

func TestSlack(t *testing.T) {
	srv, got := capture(t, "ok")
	m := testMessage
	m.Text = "a <b> & c"
	if err := send(t, sender(t, Notifier{Name: "s", Type: TypeSlack, URLEnv: "SLACK_URL"}, map[string]string{"SLACK_URL": srv.URL + "/services/T0/B0/XXXX"}), m); err != nil {
		t.Fatal(err)
	}
	v := decode(t, (<-got).body)
	if text, _ := v["text"].(string); !strings.Contains(text, "a &lt;b&gt; &amp; c") || !strings.Contains(text, "[FIRING]") {
		t.Errorf("text %q: want the escaped message", text)
	}
	blocks, _ := v["blocks"].([]any)
	if len(blocks) != 2 {
		t.Fatalf("blocks %v", v["blocks"])
	}
	section := blocks[0].(map[string]any)
	txt := section["text"].(map[string]any)
	if section["type"] != "section" || txt["type"] != "mrkdwn" || !strings.Contains(txt["text"].(string), testMessage.TextZH) {
		t.Errorf("section block %v", section)
	}
}

func TestDingTalkSigned(t *testing.T) {
	srv, got := capture(t, `{"errcode":0,"errmsg":"ok"}`)
	secret := "SECb2f7d3a1c0e+/="
	s := sender(t, Notifier{Name: "d", Type: TypeDingTalk, URLEnv: "DT_URL", SecretEnv: "DT_SECRET"},
		map[string]string{"DT_URL": srv.URL + "/robot/send?access_token=tok123", "DT_SECRET": secret})
	if err := send(t, s, testMessage); err != nil {
		t.Fatal(err)
	}
	c := <-got
	q, err := url.ParseQuery(c.query)
	if err != nil {
		t.Fatal(err)
	}
	ts := q.Get("timestamp")
	if ts != strconv.FormatInt(t0.Add(time.Minute).UnixMilli(), 10) {
		t.Errorf("timestamp %q, want the clock's Unix milliseconds", ts)
	}
	if q.Get("access_token") != "tok123" {
		t.Errorf("access_token lost: %q", c.query)
	}
	// DingTalk: HmacSHA256 of timestamp+"\n"+secret keyed with the secret,
	// then Base64, then URL-escaped.
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "\n" + secret))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if q.Get("sign") != want {
		t.Errorf("sign %q, want %q", q.Get("sign"), want)
	}
	if !strings.Contains(c.query, "sign="+url.QueryEscape(want)) {
		t.Errorf("query %q: sign not URL-escaped", c.query)
	}
	v := decode(t, c.body)
	md, _ := v["markdown"].(map[string]any)
	if v["msgtype"] != "markdown" || md["title"] != testMessage.Title() || !strings.Contains(md["text"].(string), testMessage.Text) || !strings.Contains(md["text"].(string), testMessage.TextZH) {
		t.Errorf("body %v", v)
	}
}

func TestWeCom(t *testing.T) {
	srv, got := capture(t, `{"errcode":0,"errmsg":"ok"}`)
	if err := send(t, sender(t, Notifier{Name: "w", Type: TypeWeCom, URLEnv: "WC"}, map[string]string{"WC": srv.URL + "/cgi-bin/webhook/send?key=k1"}), testMessage); err != nil {
		t.Fatal(err)
	}
	c := <-got
	v := decode(t, c.body)
	md, _ := v["markdown"].(map[string]any)
	content, _ := md["content"].(string)
	if c.query != "key=k1" || v["msgtype"] != "markdown" || !strings.HasPrefix(content, "### [FIRING]") || !strings.Contains(content, testMessage.TextZH) {
		t.Errorf("query %q body %v", c.query, v)
	}
}

func TestFeishuSigned(t *testing.T) {
	srv, got := capture(t, `{"code":0,"msg":"success","data":{}}`)
	s := sender(t, Notifier{Name: "f", Type: TypeFeishu, URLEnv: "FS", SecretEnv: "FS_SECRET"},
		map[string]string{"FS": srv.URL + "/open-apis/bot/v2/hook/abc", "FS_SECRET": "feishu-secret"})
	if err := send(t, s, testMessage); err != nil {
		t.Fatal(err)
	}
	v := decode(t, (<-got).body)
	ts, _ := v["timestamp"].(string)
	if ts != strconv.FormatInt(t0.Add(time.Minute).Unix(), 10) {
		t.Errorf("timestamp %q, want the clock's Unix seconds as a string", ts)
	}
	// Feishu: HmacSHA256 keyed with timestamp+"\n"+secret over an empty
	// message, then Base64.
	mac := hmac.New(sha256.New, []byte(ts+"\n"+"feishu-secret"))
	if want := base64.StdEncoding.EncodeToString(mac.Sum(nil)); v["sign"] != want {
		t.Errorf("sign %v, want %q", v["sign"], want)
	}
	content, _ := v["content"].(map[string]any)
	if text, _ := content["text"].(string); v["msg_type"] != "text" || !strings.Contains(text, testMessage.Text) || !strings.Contains(text, testMessage.TextZH) {
		t.Errorf("body %v", v)
	}
}

// TestVendorErrors: a robot's error code is an error, a permanent one,
// and no error shows the webhook URL (the robot's token).
func TestVendorErrors(t *testing.T) {
	for _, tc := range []struct {
		typ, answer string
		status      int
		permanent   bool
	}{
		{TypeDingTalk, `{"errcode":310000,"errmsg":"sign not match"}`, 200, true},
		{TypeWeCom, `{"errcode":93000,"errmsg":"invalid webhook url"}`, 200, true},
		{TypeFeishu, `{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}`, 200, true},
		{TypeSlack, `invalid_payload`, 400, true},
		{TypeWebhook, `busy`, 503, false},
		{TypeWebhook, `slow down`, 429, false},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(tc.status)
			io.WriteString(w, tc.answer)
		}))
		u := srv.URL + "/hook/TOKEN-abc?access_token=TOKEN-abc"
		err := send(t, sender(t, Notifier{Name: "n", Type: tc.typ, URLEnv: "U"}, map[string]string{"U": u}), testMessage)
		srv.Close()
		var perm *permanentError
		if err == nil || errors.As(err, &perm) != tc.permanent {
			t.Errorf("%s answering %d %s: err %v, want permanent=%v", tc.typ, tc.status, tc.answer, err, tc.permanent)
			continue
		}
		if strings.Contains(err.Error(), "TOKEN-abc") {
			t.Errorf("%s: error %q shows the URL", tc.typ, err)
		}
	}
	// Nothing listening: the transport's error names the URL; ours must not.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	err = send(t, sender(t, Notifier{Name: "n", Type: TypeSlack, URLEnv: "U"}, map[string]string{"U": "http://" + addr + "/services/TOKEN-abc"}), testMessage)
	if err == nil || strings.Contains(err.Error(), "TOKEN-abc") {
		t.Errorf("unreachable receiver: err %v, want one without the URL", err)
	}
}

func TestSecretsFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	srv, got := capture(t, `{"errcode":0}`)
	s := sender(t, Notifier{Name: "d", Type: TypeDingTalk, URLFile: write("url", srv.URL+"/robot/send?access_token=t\n"), SecretFile: write("secret", "abc\n")}, nil)
	if err := send(t, s, testMessage); err != nil {
		t.Fatal(err)
	}
	q, _ := url.ParseQuery((<-got).query)
	if q.Get("sign") != DingTalkSign("abc", t0.Add(time.Minute).UnixMilli()) {
		t.Errorf("the secret file's trailing newline was kept or the file not read: %q", q)
	}
	for _, tc := range []struct {
		n    Notifier
		env  map[string]string
		want string
	}{
		{Notifier{Name: "a", Type: TypeSlack, URLEnv: "NOPE"}, nil, "NOPE is not set"},
		{Notifier{Name: "a", Type: TypeSlack, URLFile: filepath.Join(dir, "missing")}, nil, "missing"},
		{Notifier{Name: "a", Type: TypeSlack, URLFile: write("empty", "\n")}, nil, "is empty"},
		{Notifier{Name: "a", Type: TypeSlack, URLEnv: "U"}, map[string]string{"U": "ftp://x/TOKEN-abc"}, "want an http(s) URL"},
		{Notifier{Name: "a", Type: TypeFeishu, URLEnv: "U", SecretEnv: "S"}, map[string]string{"U": "http://127.0.0.1/"}, "S is not set"},
		{Notifier{Name: "a", Type: TypeWebhook, URL: "http://127.0.0.1/", HeadersFile: write("badheaders", "Authorization Bearer TOKEN-abc\n")}, nil, "badheaders:1: want Name: value"},
	} {
		if err := tc.n.Validate(); err != nil {
			t.Fatal(err)
		}
		_, err := newSender(tc.n, &Options{LookupEnv: func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `notifier "a"`) {
			t.Errorf("%+v: err %v, want one naming the notifier and containing %q", tc.n, err, tc.want)
		} else if strings.Contains(err.Error(), "TOKEN-abc") {
			t.Errorf("error %q shows the URL", err)
		}
	}
}
