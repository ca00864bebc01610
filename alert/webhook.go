package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// maxResponse bounds what is read of a receiver's answer.
const maxResponse = 64 << 10

// httpSender posts JSON to one URL, which it never shows: the URLs of
// the vendors' robots are their credentials.
type httpSender struct {
	client *http.Client
	url    string
}

// post sends body to u (s.url, or a signed variant of it) with the
// headers, and returns the answer's body when the status is 2xx. A status
// other than 5xx and 429 (a 4xx, a redirect) is permanent.
func (s *httpSender) post(ctx context.Context, u string, body []byte, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, permanent("making the request: %v", noURL(err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "gomirror-alert")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, noURL(err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %v", noURL(err))
	}
	if resp.StatusCode/100 != 2 {
		err := fmt.Errorf("status %s: %s", resp.Status, snippet(answer))
		if resp.StatusCode/100 != 5 && resp.StatusCode != http.StatusTooManyRequests {
			return nil, &permanentError{err}
		}
		return nil, err
	}
	return answer, nil
}

// postRobot posts msg, encoded as JSON, to the robot at u and checks the
// robot's answer (vendorAnswer).
func (s *httpSender) postRobot(ctx context.Context, u string, msg any) error {
	body, err := json.Marshal(msg)
	if err != nil {
		return permanent("encoding: %v", err)
	}
	answer, err := s.post(ctx, u, body, nil)
	if err != nil {
		return err
	}
	return vendorAnswer(answer)
}

// snippet is the start of a receiver's answer, for an error message.
func snippet(b []byte) string {
	const max = 200
	s := strings.ToValidUTF8(string(b), "?")
	if len(s) > max {
		s = truncate(s, max) + "…"
	}
	return strings.TrimSpace(s)
}

// truncate cuts s to at most n bytes, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// vendorAnswer checks the JSON answer of a robot that reports errors in
// a 200 answer: DingTalk and WeCom {"errcode":0,"errmsg":"ok"}, Feishu
// {"code":0,"msg":"success"}. A nonzero code is permanent.
func vendorAnswer(answer []byte) error {
	var a struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
		Code    *int   `json:"code"`
		Msg     string `json:"msg"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return permanent("answer is not the robot's JSON: %s", snippet(answer))
	}
	if a.ErrCode != nil && *a.ErrCode != 0 {
		return permanent("robot error %d: %s", *a.ErrCode, snippet([]byte(a.ErrMsg)))
	}
	if a.Code != nil && *a.Code != 0 {
		return permanent("robot error %d: %s", *a.Code, snippet([]byte(a.Msg)))
	}
	return nil
}

// Payload is the body of a generic webhook notification (type webhook),
// a JSON object. Version changes only if a field changes meaning; fields
// may be added.
type Payload struct {
	Version   int       `json:"version"` // 1
	Source    string    `json:"source"`  // "gomirror"
	Instance  string    `json:"instance,omitempty"`
	Rule      string    `json:"rule"`
	Kind      string    `json:"kind"`
	Key       string    `json:"key,omitempty"`
	State     string    `json:"state"` // firing, resolved
	Repeat    bool      `json:"repeat"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	Since     time.Time `json:"since"` // when it fired
	Time      time.Time `json:"time"`  // when this notification was made
	Title     string    `json:"title"`
	Text      string    `json:"text"`
	TextZH    string    `json:"text_zh,omitempty"`
}

// Headers of a signed generic webhook. The signature is
// "sha256=" + hex(HMAC-SHA256(secret, timestamp + "." + body)), where
// timestamp is the X-Gomirror-Timestamp header (Unix seconds) and body the
// request body as sent: a receiver recomputes it and rejects old
// timestamps to stop replays.
const (
	HeaderTimestamp = "X-Gomirror-Timestamp"
	HeaderSignature = "X-Gomirror-Signature"
)

// WebhookSignature returns the X-Gomirror-Signature value of body sent at
// timestamp (Unix seconds, as in X-Gomirror-Timestamp).
func WebhookSignature(secret, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// webhookSender posts a Payload.
type webhookSender struct {
	httpSender
	secret  string
	headers http.Header
}

func (s *webhookSender) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(Payload{Version: 1, Source: "gomirror", Instance: m.Instance, Rule: m.Rule, Kind: m.Kind,
		Key: m.Key, State: m.State, Repeat: m.Repeat, Value: m.Value, Threshold: m.Threshold, Since: m.Since.UTC(),
		Time: m.Time.UTC(), Title: m.Title(), Text: m.Text, TextZH: m.TextZH})
	if err != nil {
		return permanent("encoding: %v", err)
	}
	h := s.headers.Clone()
	if s.secret != "" {
		ts := strconv.FormatInt(m.Time.Unix(), 10)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, WebhookSignature(s.secret, ts, body))
	}
	_, err = s.post(ctx, s.url, body, h)
	return err
}

// slackSender posts to a Slack incoming webhook: a JSON object whose
// "text" is the message (and the notification's fallback) and whose
// "blocks" lay it out in mrkdwn, in which &, < and > are escaped. Slack
// answers 200 "ok", or a 4xx with an error name such as invalid_payload.
// Per Slack's "Sending messages using incoming webhooks" and "Formatting
// text for app surfaces" (docs.slack.dev).
type slackSender struct{ httpSender }

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func (s *slackSender) Send(ctx context.Context, m Message) error {
	md := "*" + slackEscape(m.Title()) + "*\n" + slackEscape(m.Text)
	if m.TextZH != "" {
		md += "\n" + slackEscape(m.TextZH)
	}
	type text struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type block struct {
		Type     string `json:"type"`
		Text     *text  `json:"text,omitempty"`
		Elements []text `json:"elements,omitempty"`
	}
	body, err := json.Marshal(struct {
		Text   string  `json:"text"`
		Blocks []block `json:"blocks"`
	}{
		Text: slackEscape(m.Title() + ": " + m.Text),
		Blocks: []block{
			{Type: "section", Text: &text{Type: "mrkdwn", Text: truncate(md, 3000)}},
			{Type: "context", Elements: []text{{Type: "mrkdwn", Text: slackEscape(m.footer())}}},
		},
	})
	if err != nil {
		return permanent("encoding: %v", err)
	}
	_, err = s.post(ctx, s.url, body, nil)
	return err
}

// markdown is the message as the robots' markdown: a heading, then the
// English and Chinese lines, then the footer.
func (m Message) markdown() string {
	var b strings.Builder
	b.WriteString("### " + m.Title() + "\n\n" + m.Text + "\n\n")
	if m.TextZH != "" {
		b.WriteString(m.titleZH() + "\n\n" + m.TextZH + "\n\n")
	}
	b.WriteString("> " + m.footer())
	return b.String()
}

// dingTalkSender posts a markdown message to a DingTalk custom robot:
// {"msgtype":"markdown","markdown":{"title":...,"text":...}}. With the
// robot's signing secret ("加签"), the URL gets timestamp (Unix
// milliseconds) and sign = URL-escaped base64(HMAC-SHA256(key secret,
// message timestamp + "\n" + secret)); the robot rejects a timestamp more
// than an hour off. It answers {"errcode":0,"errmsg":"ok"}. Per DingTalk's
// open platform documentation, "自定义机器人安全设置" (custom robot
// security settings: 加签) and "自定义机器人发送群消息" (message types:
// markdown).
type dingTalkSender struct {
	httpSender
	secret string
	now    func() time.Time
}

// DingTalkSign returns the sign parameter of a DingTalk robot request at
// timestamp (Unix milliseconds), before URL escaping.
func DingTalkSign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestamp, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *dingTalkSender) Send(ctx context.Context, m Message) error {
	var msg struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Title string `json:"title"`
			Text  string `json:"text"`
		} `json:"markdown"`
	}
	msg.MsgType = "markdown"
	msg.Markdown.Title = m.Title()
	msg.Markdown.Text = truncate(m.markdown(), 4000)
	u := s.url
	if s.secret != "" {
		parsed, err := url.Parse(u)
		if err != nil {
			return permanent("the robot URL does not parse")
		}
		ts := s.now().UnixMilli()
		q := parsed.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", DingTalkSign(s.secret, ts)) // Encode escapes it: + / = become %2B %2F %3D
		parsed.RawQuery = q.Encode()
		u = parsed.String()
	}
	return s.postRobot(ctx, u, msg)
}

// weComSender posts a markdown message to a WeCom (企业微信) group robot:
// {"msgtype":"markdown","markdown":{"content":...}}, content at most 4096
// bytes of UTF-8; it answers {"errcode":0,"errmsg":"ok"}. Per WeCom's
// developer documentation "群机器人配置说明" (group robot configuration).
type weComSender struct{ httpSender }

func (s *weComSender) Send(ctx context.Context, m Message) error {
	var msg struct {
		MsgType  string `json:"msgtype"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
	}
	msg.MsgType = "markdown"
	msg.Markdown.Content = truncate(m.markdown(), 4096)
	return s.postRobot(ctx, s.url, msg)
}

// feishuSender posts a text message to a Feishu/Lark custom bot:
// {"msg_type":"text","content":{"text":...}}. With the bot's signing
// secret ("签名校验"), the body also carries "timestamp" (Unix seconds, a
// string) and "sign" = base64(HMAC-SHA256 keyed with timestamp + "\n" +
// secret, of an empty message); the bot rejects a timestamp more than an
// hour off. It answers {"code":0,"msg":"success"}. Per Feishu's open
// platform documentation "自定义机器人使用指南" (custom bot guide:
// security settings, signature verification).
type feishuSender struct {
	httpSender
	secret string
	now    func() time.Time
}

// FeishuSign returns the sign field of a Feishu bot request at timestamp
// (Unix seconds).
func FeishuSign(secret string, timestamp int64) string {
	mac := hmac.New(sha256.New, []byte(strconv.FormatInt(timestamp, 10)+"\n"+secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func (s *feishuSender) Send(ctx context.Context, m Message) error {
	type content struct {
		Text string `json:"text"`
	}
	msg := struct {
		Timestamp string  `json:"timestamp,omitempty"`
		Sign      string  `json:"sign,omitempty"`
		MsgType   string  `json:"msg_type"`
		Content   content `json:"content"`
	}{MsgType: "text", Content: content{Text: truncate(m.plain(), 4000)}}
	if s.secret != "" {
		ts := s.now().Unix()
		msg.Timestamp = strconv.FormatInt(ts, 10)
		msg.Sign = FeishuSign(s.secret, ts)
	}
	return s.postRobot(ctx, s.url, msg)
}
