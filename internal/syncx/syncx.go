// Package syncx holds small synchronisation helpers shared by gomirror's packages.
package syncx

import (
	"context"
	"sync"
)

// Wait blocks until wg's counter is zero or ctx is done, and returns
// ctx.Err() in the latter case.
func Wait(ctx context.Context, wg *sync.WaitGroup) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
