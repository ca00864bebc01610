// A made-up Go installation's table of known checksum databases, in the
// form of the go command's cmd/go/internal/modfetch/key.go.

package modfetch

var knownGOSUMDB = map[string]string{
	"sum.example.test": "sum.example.test+6f9c0c14+Adv/lbDGxwXHOoiJN3zVs4m27ktOJsrgummk4j8vgqMC",
}
