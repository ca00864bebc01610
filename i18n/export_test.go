package i18n

// Message is a message of the catalogue, for the tests.
type Message struct{ EN, ZH string }

// Messages returns the catalogue's messages.
func Messages() []Message {
	ms := all()
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = Message{m.en, m.zh}
	}
	return out
}
