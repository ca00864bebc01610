package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gomirror/gomirror/internal/redact"
)

// Chain is a list of upstreams tried in order with the go command's GOPROXY
// rules: after an upstream followed by ',' the next is tried only if the
// error was "not found" (404/410); after '|', on any error.
type Chain struct {
	links []link
}

type link struct {
	f            Fetcher
	fallOnAnyErr bool // separator after this entry was '|'
}

var _ Fetcher = (*Chain)(nil)

// Options configures the Fetchers that ParseChain creates.
type Options struct {
	// Client is used for proxy upstreams; nil means a client over NewTransport.
	Client *http.Client
	// Direct is used for the "direct" element; nil means "direct" is refused.
	Direct Fetcher
	// Groups are the named groups of mirrors an element may name instead
	// of a URL.
	Groups map[string]*Group
}

// ListElem is one element of a GOPROXY-syntax list.
type ListElem struct {
	Value        string // trimmed: a URL, "direct", "off", or a group name
	FallOnAnyErr bool   // the separator after it was '|' (any error), not ','
}

// SplitList splits a GOPROXY-syntax list at ',' and '|', dropping empty
// elements. It does not interpret the elements.
func SplitList(list string) []ListElem {
	var elems []ListElem
	for list != "" {
		var e ListElem
		if i := strings.IndexAny(list, ",|"); i >= 0 {
			e.Value, e.FallOnAnyErr, list = list[:i], list[i] == '|', list[i+1:]
		} else {
			e.Value, list = list, ""
		}
		if e.Value = strings.TrimSpace(e.Value); e.Value != "" {
			elems = append(elems, e)
		}
	}
	return elems
}

// ParseChain parses a list in GOPROXY syntax: URLs, "direct" and "off",
// separated by ',' or '|'. An empty list is an error.
func ParseChain(list string, opts Options) (*Chain, error) {
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: NewTransport()}
	}
	c := &Chain{}
	for _, e := range SplitList(list) {
		elem, fallOnAny := e.Value, e.FallOnAnyErr
		var f Fetcher
		switch elem {
		case "off":
			f = Off{}
		case "direct":
			if opts.Direct == nil {
				return nil, errors.New(`"direct" is not available`)
			}
			f = opts.Direct
		case "noproxy":
			return nil, errors.New(`"noproxy" is reserved by the go command and cannot be used`)
		default:
			if g, ok := opts.Groups[elem]; ok {
				f = g
				break
			}
			if !strings.Contains(elem, "://") {
				return nil, fmt.Errorf("upstream %q: want a URL with a scheme (https://...), direct, off or the name of an upstream group", redact.URL(elem))
			}
			p, err := NewProxy(elem, opts.Client)
			if err != nil {
				return nil, err
			}
			f = p
		}
		c.links = append(c.links, link{f: f, fallOnAnyErr: fallOnAny})
		if elem == "off" || elem == "direct" {
			// Like the go command: "off" fails hard, and "direct" is the
			// end of the line, so nothing after either is ever tried.
			break
		}
	}
	if len(c.links) == 0 {
		return nil, errors.New("no upstream given")
	}
	return c, nil
}

// Link is one element of a chain.
type Link struct {
	Fetcher Fetcher
	// FallOnAnyErr is true if the separator after this element is '|'.
	FallOnAnyErr bool
}

// Links returns the chain's elements in order.
func (c *Chain) Links() []Link {
	links := make([]Link, len(c.links))
	for i, l := range c.links {
		links[i] = Link{Fetcher: l.f, FallOnAnyErr: l.fallOnAnyErr}
	}
	return links
}

// Offline reports whether the chain can never fetch anything (it is "off").
func (c *Chain) Offline() bool {
	_, off := c.links[0].f.(Off)
	return off
}

func (c *Chain) String() string {
	var b strings.Builder
	for i, l := range c.links {
		if i > 0 {
			if c.links[i-1].fallOnAnyErr {
				b.WriteByte('|')
			} else {
				b.WriteByte(',')
			}
		}
		b.WriteString(l.f.String())
	}
	return b.String()
}

// try calls f on each link in turn until one succeeds or the rules stop the
// walk, and returns the answering link's Answer (the link itself if its
// Answer is empty). Like the go command, it reports the most informative
// error: one from "direct" over one from a proxy over a "not found".
func (c *Chain) try(ctx context.Context, f func(Fetcher) (Answer, error)) (Answer, error) {
	const (
		rankNotExist = iota
		rankProxy
		rankDirect
	)
	var best error
	bestRank := rankNotExist
	for _, l := range c.links {
		a, err := f(l.f)
		if err == nil {
			if a.Upstream == "" {
				a = AnswerOf(l.f)
			}
			return a, nil
		}
		notExist, direct := IsNotExist(err), IsDirect(l.f)
		switch {
		case direct && IsUnreachable(err) && best != nil && IsNotExist(best):
			// Unlike the go command: a direct fetch that reached no server
			// learned nothing, so a proxy's "not found" stands. Otherwise a
			// mirror without VCS access would answer 5xx for every unknown
			// module and break its clients' fallbacks and path probing.
		case direct:
			best, bestRank = err, rankDirect
		case !notExist && bestRank <= rankProxy:
			best, bestRank = err, rankProxy
		case bestRank == rankNotExist:
			best = err
		}
		if ctx.Err() != nil || (!l.fallOnAnyErr && !notExist) {
			break
		}
	}
	return Answer{}, best
}

func (c *Chain) List(ctx context.Context, path string) (b []byte, a Answer, err error) {
	a, err = c.try(ctx, func(f Fetcher) (Answer, error) { b, a, err = f.List(ctx, path); return a, err })
	return b, a, err
}

func (c *Chain) Latest(ctx context.Context, path string) (b []byte, a Answer, err error) {
	a, err = c.try(ctx, func(f Fetcher) (Answer, error) { b, a, err = f.Latest(ctx, path); return a, err })
	return b, a, err
}

func (c *Chain) Info(ctx context.Context, path, query string) (b []byte, a Answer, err error) {
	a, err = c.try(ctx, func(f Fetcher) (Answer, error) { b, a, err = f.Info(ctx, path, query); return a, err })
	return b, a, err
}

func (c *Chain) GoMod(ctx context.Context, path, version string) (b []byte, a Answer, err error) {
	a, err = c.try(ctx, func(f Fetcher) (Answer, error) { b, a, err = f.GoMod(ctx, path, version); return a, err })
	return b, a, err
}

func (c *Chain) Zip(ctx context.Context, path, version string) (body io.ReadCloser, size int64, a Answer, err error) {
	a, err = c.try(ctx, func(f Fetcher) (Answer, error) { body, size, a, err = f.Zip(ctx, path, version); return a, err })
	return body, size, a, err
}
