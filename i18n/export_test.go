package i18n

// Message is a message of the catalogue, for the tests.
type Message struct{ EN, ZH string }

// Messages returns the catalogue's messages.
func Messages() []Message {
	out := make([]Message, len(messages))
	for i, m := range messages {
		out[i] = Message{m.en, m.zh}
	}
	return out
}
