package alert

import (
	"fmt"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/gomirror/gomirror/internal/redact"
)

// check evaluates one rule as of now: the keys whose condition holds,
// with their values and texts. ok is false when the rule has no data this
// time (a polled source failed), in which case its alerts stay as they
// are. evalMu is held.
func (e *Engine) check(r *rule, now time.Time, p *polled) (found map[string]finding, ok bool) {
	found = map[string]finding{}
	ns := now.UnixNano()
	switch r.Kind {
	case KindClientRate:
		what := "requests"
		if r.RequestKind != "" {
			what = r.RequestKind + " requests"
		}
		r.mu.Lock()
		for key, rg := range r.keys {
			n := rg.sum(ns)
			if n == 0 {
				delete(r.keys, key) // forgotten: its window is empty
				continue
			}
			if float64(n) > r.Threshold {
				found[key] = finding{value: float64(n),
					text:   fmt.Sprintf("client %s sent %d %s in the last %v (threshold %v)", key, n, what, r.Window, r.Threshold),
					textZH: fmt.Sprintf("客户端 %s 在最近 %v 内发出 %d 个%s请求（阈值 %v）", key, r.Window, n, r.RequestKind, r.Threshold)}
			}
		}
		r.mu.Unlock()
	case KindChecksumMismatch:
		e.mmMu.Lock()
		n := e.mismatches[r.idx].sum(ns)
		latest := strings.Join(e.lastMM, ", ")
		e.mmMu.Unlock()
		if float64(n) >= r.Threshold {
			found[""] = finding{value: float64(n),
				text:   fmt.Sprintf("%d checksum mismatch(es) in the last %v; latest: %s", n, r.Window, latest),
				textZH: fmt.Sprintf("最近 %v 内发现 %d 次校验和不匹配；最近的：%s", r.Window, n, latest)}
		}
	case KindUpstreamDown:
		e.checkUpstreams(r, now, p.getUpstreams(), found)
	case KindUpstreamLag:
		checkLag(r, p.getUpstreams(), found)
	case KindSumDBUnreachable:
		e.sdMu.Lock()
		fails, since, last := e.sdFails, e.sdSince, e.sdLastErr
		e.sdMu.Unlock()
		if fails > 0 && float64(fails) >= r.Threshold && now.Sub(since) >= r.Window {
			found[""] = finding{value: float64(fails),
				text:   fmt.Sprintf("checksum database unreachable: %d failed calls in a row since %s; last error: %s", fails, since.UTC().Format(time.RFC3339), last),
				textZH: fmt.Sprintf("校验和数据库不可达：自 %s 起连续 %d 次调用失败", since.UTC().Format(time.RFC3339), fails)}
		}
	case KindStorageUsage:
		used, total, err := p.getStorage()
		if err != nil || total <= 0 {
			if err == nil {
				err = fmt.Errorf("total capacity %d", total)
			}
			e.log.Warn("alert: storage usage unknown", "rule", r.Name, "err", redact.Err(err))
			return nil, false
		}
		pct := 100 * float64(used) / float64(total)
		if pct > r.Threshold {
			found[""] = finding{value: pct,
				text:   fmt.Sprintf("storage %.1f%% used (%s of %s; threshold %v%%)", pct, humanize.IBytes(uint64(used)), humanize.IBytes(uint64(total)), r.Threshold),
				textZH: fmt.Sprintf("存储已使用 %.1f%%（%s / %s；阈值 %v%%）", pct, humanize.IBytes(uint64(used)), humanize.IBytes(uint64(total)), r.Threshold)}
		}
	case KindErrorRate:
		e.reqMu.Lock()
		total := e.requests[r.idx].total.sum(ns)
		failed := e.requests[r.idx].failed.sum(ns)
		e.reqMu.Unlock()
		if total == 0 || total < uint64(r.MinRequests) {
			break
		}
		pct := 100 * float64(failed) / float64(total)
		if pct > r.Threshold {
			found[""] = finding{value: pct,
				text:   fmt.Sprintf("%.1f%% of %d requests in the last %v were answered with a 5xx status (threshold %v%%)", pct, total, r.Window, r.Threshold),
				textZH: fmt.Sprintf("最近 %v 内 %d 个请求中 %.1f%% 返回 5xx（阈值 %v%%）", r.Window, total, pct, r.Threshold)}
		}
	}
	return found, true
}

// checkUpstreams: with no upstream named, each upstream that has been down
// for the window is its own alert; a name matching an upstream watches it;
// a name matching a group fires when every mirror of it has been down for
// the window (since the last one went down).
func (e *Engine) checkUpstreams(r *rule, now time.Time, states []UpstreamState, found map[string]finding) {
	down := func(key string, since time.Time, lastErr string, mirrors int) {
		if now.Sub(since) < r.Window {
			return
		}
		what, whatZH := "upstream "+key, "上游 "+key
		if mirrors > 0 {
			what = fmt.Sprintf("every mirror (%d) of group %s", mirrors, key)
			whatZH = fmt.Sprintf("上游组 %s 的全部 %d 个镜像", key, mirrors)
		}
		lastErr = redact.Text(lastErr)
		found[key] = finding{value: now.Sub(since).Minutes(),
			text:   fmt.Sprintf("%s failing since %s (%v); last error: %s", what, since.UTC().Format(time.RFC3339), now.Sub(since).Round(time.Second), lastErr),
			textZH: fmt.Sprintf("%s 自 %s 起不可用（%v）", whatZH, since.UTC().Format(time.RFC3339), now.Sub(since).Round(time.Second))}
	}
	if r.Upstream == "" {
		for _, s := range states {
			if !s.Up {
				down(s.Name, s.Since, s.LastError, 0)
			}
		}
		return
	}
	var (
		mirrors int
		since   time.Time
		lastErr string
	)
	for _, s := range states {
		if s.Name == r.Upstream {
			if !s.Up {
				down(s.Name, s.Since, s.LastError, 0)
			}
			return
		}
		if s.Group != r.Upstream {
			continue
		}
		if s.Up {
			return
		}
		mirrors++
		if s.Since.After(since) {
			since, lastErr = s.Since, s.LastError
		}
	}
	if mirrors > 0 {
		down(r.Upstream, since, lastErr, mirrors)
	}
}

// maxLagVersions bounds the missing versions an upstream-lag text names.
const maxLagVersions = 5

// checkLag: each group mirror whose lag rate has reached the threshold is
// its own alert, keyed by the mirror's (redacted) name; a rule's upstream
// narrows it to one mirror (its URL, with or without credentials) or the
// mirrors of one group.
func checkLag(r *rule, states []UpstreamState, found map[string]finding) {
	want := redact.List(r.Upstream)
	for _, s := range states {
		if s.Group == "" || s.LagRate < r.Threshold {
			continue
		}
		name := redact.List(s.Name) // as the server gives it; redacted again to be sure
		if r.Upstream != "" && s.Group != r.Upstream && s.Name != r.Upstream && name != want {
			continue
		}
		last, lastZH := "", ""
		if l := s.LastLag; l != nil {
			shown := l.Missing[:min(len(l.Missing), maxLagVersions)]
			versions, total := strings.Join(shown, ", "), max(l.MissingCount, len(l.Missing))
			module := redact.Text(l.Module)
			last = fmt.Sprintf("; last lag: %s lacked %s", module, versions)
			lastZH = fmt.Sprintf("；最近一次：%s 缺少 %s", module, versions)
			if more := total - len(shown); more > 0 {
				last += fmt.Sprintf(" and %d more", more)
				lastZH += fmt.Sprintf(" 等 %d 个版本", total)
			}
		}
		found[name] = finding{value: s.LagRate,
			text:   fmt.Sprintf("mirror %s of group %s keeps lagging behind its peers: lag rate %.2f (threshold %v), %d lags%s", name, s.Group, s.LagRate, r.Threshold, s.Lags, last),
			textZH: fmt.Sprintf("上游组 %s 的镜像 %s 持续落后于其他镜像：落后率 %.2f（阈值 %v），共 %d 次%s", s.Group, name, s.LagRate, r.Threshold, s.Lags, lastZH)}
	}
}
