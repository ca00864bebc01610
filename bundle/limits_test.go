package bundle

import "testing"

func TestDefaultMaxBytes(t *testing.T) {
	for _, tt := range []struct {
		free  int64
		known bool
		want  int64
	}{
		{0, false, 64 << 30},
		{500 << 20, true, 1},           // less than the margin: nothing fits
		{11 << 30, true, 10 << 30},     // 1 GiB margin
		{40 << 30, true, 38 << 30},     // 5% margin
		{1 << 40, true, 64 << 30},      // capped
		{(1 << 30) + 1000, true, 1000}, // just above the margin
	} {
		if got := defaultMaxBytes(tt.free, tt.known); got != tt.want {
			t.Errorf("defaultMaxBytes(%d, %v) = %d, want %d", tt.free, tt.known, got, tt.want)
		}
	}
}
