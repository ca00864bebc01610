// Package i18n holds gomirror's message catalogue: every text that the web
// console and the client tools (setup, doctor, explain, bench, warm, graph,
// policy check) show a person, in English and Simplified Chinese, on
// golang.org/x/text/message catalogs.
//
// A message's key is its English text (a fmt format where it takes
// arguments), so that English needs no entry of its own and a key is
// readable where it is used. Every key has a Chinese translation: a test
// fails otherwise.
//
// The language of a request is chosen by Match: the "lang" cookie when it
// names a supported language, else the best match of Accept-Language, else
// English. The language of a command is chosen by Lang: its --lang flag,
// else the locale (LC_ALL, LC_MESSAGES, LANG).
//
// Library packages hand texts to their command as Text values (T(key,
// args...)); the command renders them with the Printer of the chosen
// language. The messages live in one file per area (messages.go for the
// console, msg_<area>.go for the client tools), so that work on one tool
// does not touch another's list. Two tests guard the catalogue: every
// message has a translation, and every constant key given to T or to a
// Printer method anywhere in the module is in the catalogue.
package i18n

import (
	"sync"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// Supported are the languages of the catalogue, the default first.
var Supported = []language.Tag{language.English, language.SimplifiedChinese}

// CookieName is the cookie that holds the chosen language ("en", "zh").
const CookieName = "lang"

// Catalogue is the message catalogue, built once from messages.
type Catalogue struct {
	cat     *catalog.Builder
	matcher language.Matcher
	keys    map[string]bool
	zh      map[string]string // key → its translation, for Translate
}

// build returns the catalogue of messages.
func build() *Catalogue {
	c := &Catalogue{
		cat:     catalog.NewBuilder(catalog.Fallback(language.English)),
		matcher: language.NewMatcher(Supported),
		keys:    map[string]bool{},
		zh:      map[string]string{},
	}
	for _, m := range all() {
		c.keys[m.en] = true
		c.zh[m.en] = m.zh
		// Errors only for malformed tags, which these are not.
		_ = c.cat.SetString(language.English, m.en, m.en)
		_ = c.cat.SetString(language.SimplifiedChinese, m.en, m.zh)
	}
	return c
}

// Default returns the catalogue; it is built at the first call and never
// changes after.
func Default() *Catalogue { return defaultCatalogue() }

var defaultCatalogue = sync.OnceValue(build)

// Has reports whether key is a message of the catalogue.
func (c *Catalogue) Has(key string) bool { return c.keys[key] }

// Printer returns a printer of tag's messages (Sprintf(key, args...)).
func (c *Catalogue) Printer(tag language.Tag) *message.Printer {
	return message.NewPrinter(tag, message.Catalog(c.cat))
}

// Match chooses the language of a request: the cookie value when it names
// a supported language ("en", "zh", or a tag such as "zh-CN"), else the
// best match of the Accept-Language header, else English. The result is
// one of Supported.
func (c *Catalogue) Match(cookie, acceptLanguage string) language.Tag {
	if cookie != "" {
		if t, err := language.Parse(cookie); err == nil {
			if _, i, conf := c.matcher.Match(t); conf >= language.High {
				return Supported[i]
			}
		}
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return Supported[0]
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return Supported[0]
	}
	return Supported[i]
}

// Code returns the short code of a supported language, as the cookie
// holds it: "en" or "zh".
func Code(t language.Tag) string {
	base, _ := t.Base()
	return base.String()
}
